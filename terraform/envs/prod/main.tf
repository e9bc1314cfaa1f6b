data "aws_caller_identity" "current" {}

locals {
  name               = "platform-ops-${var.environment}"
  lambda_package_dir = coalesce(var.lambda_package_dir, "${path.root}/../../../build/lambdas")
  account_root       = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"
}

################################################################################
# Shared key and alarm topic of the environment
################################################################################

resource "aws_kms_key" "this" {
  description             = "${local.name}: tables, queues, secrets, logs, RDS, DMS"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersAndDelegatesThroughIam"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "ServicesThatCannotUseIam"
        Effect    = "Allow"
        Principal = { Service = ["logs.${var.region}.amazonaws.com", "cloudwatch.amazonaws.com", "events.amazonaws.com"] }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.this.arn
}

resource "aws_sns_topic_policy" "alarms" {
  arn = aws_sns_topic.alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AlarmsAndEvents"
      Effect    = "Allow"
      Principal = { Service = ["cloudwatch.amazonaws.com", "events.amazonaws.com"] }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms.arn
      Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
    }]
  })
}

# DMS reads endpoint credentials as {host, port, username, password}; RDS's managed master secret
# has no host, so the operator fills this one from it (host, port, username, password).
resource "aws_secretsmanager_secret" "dms_target" {
  #checkov:skip=CKV2_AWS_57:It mirrors the RDS-managed master secret, which RDS rotates; it is refreshed from that secret, not rotated on its own.
  name        = "${local.name}/dms-target"
  description = "DMS-format credentials of the V2 replica for the DMS target endpoint"
  kms_key_id  = aws_kms_key.this.arn
}

################################################################################
# Migration: VPC, V2 replica, DMS, DynamoDB, flag, backfill workers
################################################################################

module "network" {
  source = "../../modules/network"

  name                       = local.name
  cidr_block                 = var.vpc_cidr
  azs                        = var.azs
  private_subnet_cidrs       = var.private_subnet_cidrs
  production_connection_type = var.production_connection_type
  production_vpc_cidr        = var.production_vpc_cidr
  production_vpc_id          = var.production_vpc_id
  transit_gateway_id         = var.transit_gateway_id
  kms_key_arn                = aws_kms_key.this.arn
}

module "rds_postgres" {
  source = "../../modules/rds_postgres"

  identifier             = "${local.name}-v2"
  instance_class         = var.rds_instance_class
  multi_az               = var.rds_multi_az
  subnet_ids             = module.network.private_subnet_ids
  vpc_security_group_ids = [module.network.rds_security_group_id]
  kms_key_arn            = aws_kms_key.this.arn
  deletion_protection    = var.deletion_protection
}

module "dms" {
  source = "../../modules/dms"

  name               = local.name
  replication_type   = var.dms_replication_type
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.dms_security_group_id]
  kms_key_arn        = aws_kms_key.this.arn
  alarm_actions      = [aws_sns_topic.alarms.arn]

  source_endpoint = {
    database_name       = var.source_database_name
    secrets_manager_arn = var.source_secret_arn
  }
  target_endpoint = {
    database_name       = module.rds_postgres.db_name
    secrets_manager_arn = aws_secretsmanager_secret.dms_target.arn
  }
}

module "dynamodb" {
  source = "../../modules/dynamodb"

  table_name                  = var.target_table_name
  control_table_name          = var.control_table_name
  max_write_request_units     = var.max_write_request_units
  deletion_protection_enabled = var.deletion_protection
  kms_key_arn                 = aws_kms_key.this.arn
}

module "migration_flag" {
  source = "../../modules/migration_flag"

  prefix           = var.flag_prefix
  datasets         = var.datasets
  read_policy_name = "${local.name}-migration-flag-read"
}

module "backfill_runner" {
  source = "../../modules/backfill_runner"

  name                  = local.name
  worker_count          = var.backfill_worker_count
  instance_type         = var.backfill_instance_type
  subnet_ids            = module.network.private_subnet_ids
  security_group_ids    = [module.network.runner_security_group_id]
  ops_package           = var.ops_package
  ops_wheelhouse_s3_uri = var.ops_wheelhouse_s3_uri
  ops_environment       = local.ops_environment
  dynamodb_table_arns   = [module.dynamodb.table_arn]
  control_table_arn     = module.dynamodb.control_table_arn
  secret_arns           = [module.rds_postgres.master_user_secret_arn]
  parameter_arns        = values(module.migration_flag.parameter_arns)
  kms_key_arn           = aws_kms_key.this.arn
  metrics_namespace     = var.metrics_namespace
  alarm_actions         = [aws_sns_topic.alarms.arn]
}

################################################################################
# Subscription notification pipeline
################################################################################

module "notifications" {
  source = "../../modules/notifications"

  name                        = "subscription-notifications"
  queue_name                  = var.notifications_queue_name
  dlq_name                    = var.notifications_dlq_name
  receiver_zip_path           = "${local.lambda_package_dir}/receiver.zip"
  consumer_zip_path           = "${local.lambda_package_dir}/consumer.zip"
  apple_bundle_id             = var.apple_bundle_id
  apple_app_apple_id          = var.apple_app_apple_id
  apple_environment           = var.apple_environment
  google_package_name         = var.google_package_name
  google_pubsub_audience      = var.google_pubsub_audience
  google_push_service_account = var.google_push_service_account
  apple_lifetime_product_ids  = var.apple_lifetime_product_ids
  google_lifetime_product_ids = var.google_lifetime_product_ids
  database_secret_arn         = var.entitlement_database_secret_arn
  kms_key_arn                 = aws_kms_key.this.arn
  alarm_actions               = [aws_sns_topic.alarms.arn]
}

locals {
  # What `terraform output -json ops_environment` hands the ops CLI (names from ops/settings.py).
  ops_environment = {
    OPS_CONTROL_TABLE       = var.control_table_name
    OPS_TARGET_TABLE        = var.target_table_name
    OPS_DATASET             = var.dataset
    OPS_FLAG_PREFIX         = var.flag_prefix
    OPS_NOTIFICATIONS_QUEUE = var.notifications_queue_name
    OPS_NOTIFICATIONS_DLQ   = var.notifications_dlq_name
    OPS_METRICS_NAMESPACE   = var.metrics_namespace
    AWS_DEFAULT_REGION      = var.region
  }
}
