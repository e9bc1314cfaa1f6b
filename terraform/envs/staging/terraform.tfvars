# Example values: replace the VPC, secret and app identifiers with the staging ones before the first apply.
environment = "staging"

vpc_cidr             = "10.41.0.0/16"
azs                  = ["us-east-1a", "us-east-1b"]
private_subnet_cidrs = ["10.41.0.0/20", "10.41.16.0/20"]

production_connection_type = "peering"
production_vpc_cidr        = "10.1.0.0/16"
production_vpc_id          = "vpc-0staging0production"

ops_wheelhouse_s3_uri = "s3://platform-ops-artifacts-staging/wheelhouse"

source_secret_arn    = "arn:aws:secretsmanager:us-east-1:111111111111:secret:staging/app-db/dms-source"
rds_instance_class   = "db.r6g.large"
rds_multi_az         = false
dms_replication_type = "serverless"

apple_bundle_id             = "com.example.couplediary"
apple_environment           = "Sandbox"
google_package_name         = "com.example.couplediary"
google_pubsub_audience      = "https://notifications.staging.example.com/notifications/google"
google_push_service_account = "rtdn-push@couplediary-staging.iam.gserviceaccount.com"
