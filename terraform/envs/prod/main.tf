# Production: example values; the production-link outputs give the production_* and
# source_database values (runbooks/infrastructure.md).
module "environment" {
  source = "../../modules/environment"

  environment        = "prod"
  lambda_package_dir = var.lambda_package_dir

  # Protected: the teardown turns protection off on purpose (runbooks/infrastructure.md).
  deletion_protection         = true
  secret_recovery_window_days = 30

  vpc_cidr             = "10.40.0.0/16"
  azs                  = ["us-east-1a", "us-east-1b", "us-east-1c"]
  private_subnet_cidrs = ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]
  public_subnet_cidrs  = ["10.40.128.0/24"]

  production_connection_type = "peering"
  production_vpc_cidr        = "10.0.0.0/16"
  production_vpc_id          = "vpc-0prod0application0"
  production_vpc_owner_id    = "333333333333"
  source_database            = { address = "app.prod.example.internal", instance_identifier = "app-prod" }

  rds_instance_class   = "db.r6g.2xlarge"
  rds_multi_az         = true
  dms_replication_type = "instance"

  max_write_request_units = 40000

  ops_wheelhouse_s3_uri = "s3://platform-ops-artifacts-prod/wheelhouse"

  apple_bundle_id             = "com.example.couplediary"
  apple_app_apple_id          = "1234567890"
  apple_environment           = "Production"
  google_package_name         = "com.example.couplediary"
  google_pubsub_audience      = "https://notifications.example.com/notifications/google"
  google_push_service_account = "rtdn-push@couplediary-prod.iam.gserviceaccount.com"
  apple_lifetime_product_ids  = ["com.example.couplediary.lifetime"]
  google_lifetime_product_ids = ["lifetime_pass"]
}
