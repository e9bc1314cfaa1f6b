# Staging: example values; the production-link outputs give the production_* and source_database
# values (runbooks/infrastructure.md).
module "environment" {
  #checkov:skip=CKV_AWS_157:Staging runs the V2 replica single-AZ (rds_multi_az = false) to halve its cost; prod is Multi-AZ.
  #checkov:skip=CKV_AWS_293:Staging is torn down and re-created (runbooks/infrastructure.md), so it has no deletion protection; prod has it.
  source = "../../modules/environment"

  environment        = "staging"
  lambda_package_dir = var.lambda_package_dir

  # Staging is torn down and re-created: no deletion protection, no final snapshot, secrets
  # deleted at once so their names are free for the next apply.
  deletion_protection         = false
  rds_skip_final_snapshot     = true
  secret_recovery_window_days = 0
  kms_deletion_window_days    = 7

  vpc_cidr             = "10.41.0.0/16"
  azs                  = ["us-east-1a", "us-east-1b"]
  private_subnet_cidrs = ["10.41.0.0/20", "10.41.16.0/20"]
  public_subnet_cidrs  = ["10.41.128.0/24"]

  production_connection_type = "peering"
  production_vpc_cidr        = "10.1.0.0/16"
  production_vpc_id          = "vpc-0staging0production"
  production_vpc_owner_id    = "111111111111"
  source_database            = { address = "app.staging.example.internal", instance_identifier = "app-staging" }

  rds_instance_class   = "db.r6g.large"
  rds_multi_az         = false
  dms_replication_type = "serverless"
  dms_multi_az         = false

  ops_wheelhouse_s3_uri = "s3://platform-ops-artifacts-staging/wheelhouse"

  apple_bundle_id             = "com.example.couplediary"
  apple_environment           = "Sandbox"
  google_package_name         = "com.example.couplediary"
  google_pubsub_audience      = "https://notifications.staging.example.com/notifications/google"
  google_push_service_account = "rtdn-push@couplediary-staging.iam.gserviceaccount.com"
}
