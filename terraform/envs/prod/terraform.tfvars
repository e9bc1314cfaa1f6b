# Example values: replace the VPC, secret and app identifiers with the production ones before the first apply.
environment = "prod"

vpc_cidr             = "10.40.0.0/16"
azs                  = ["us-east-1a", "us-east-1b", "us-east-1c"]
private_subnet_cidrs = ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]

production_connection_type = "peering"
production_vpc_cidr        = "10.0.0.0/16"
production_vpc_id          = "vpc-0prod0application0"

ops_wheelhouse_s3_uri = "s3://platform-ops-artifacts-prod/wheelhouse"

source_secret_arn    = "arn:aws:secretsmanager:us-east-1:222222222222:secret:prod/app-db/dms-source"
rds_instance_class   = "db.r6g.2xlarge"
rds_multi_az         = true
dms_replication_type = "instance"
deletion_protection  = true

max_write_request_units = 40000

apple_bundle_id             = "com.example.couplediary"
apple_app_apple_id          = "1234567890"
apple_environment           = "Production"
google_package_name         = "com.example.couplediary"
google_pubsub_audience      = "https://notifications.example.com/notifications/google"
google_push_service_account = "rtdn-push@couplediary-prod.iam.gserviceaccount.com"
apple_lifetime_product_ids  = ["com.example.couplediary.lifetime"]
google_lifetime_product_ids = ["lifetime_pass"]
