data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  # One prefix for every name, so two environments fit in one account (and a name says whose it is).
  name       = coalesce(var.name_prefix, "platform-ops-${var.environment}")
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  target_table_name  = coalesce(var.target_table_name, "${local.name}-couple-diary")
  control_table_name = coalesce(var.control_table_name, "${local.name}-control")
  flag_prefix        = coalesce(var.flag_prefix, "/${local.name}/migration")
  lambda_package_dir = coalesce(var.lambda_package_dir, "${path.root}/../../../build/lambdas")
  tags               = merge(var.tags, { Environment = var.environment })

  consumer_database_cidrs = coalesce(var.notifications_database_cidrs, compact([var.production_vpc_cidr]))
}

################################################################################
# Shared key and alarm topic of the environment
################################################################################

resource "aws_kms_key" "this" {
  description             = "${local.name}: tables, queues, secrets, logs, RDS, DMS"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  # Service principals are pinned to this account (confused deputy): by aws:SourceAccount, and for
  # CloudWatch Logs by the log group ARN it encrypts for.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersAndDelegatesThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:${local.region}:${local.account_id}:log-group:*" }
        }
      },
      {
        Sid       = "AlarmsAndEventsOfThisAccountPublishToTheTopic"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "events.amazonaws.com"] }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })

  tags = local.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.this.arn

  tags = local.tags
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
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
}

################################################################################
# Migration: VPC, V2 replica, DMS, DynamoDB, flag, backfill workers
################################################################################

module "network" {
  source = "../network"

  name                       = local.name
  cidr_block                 = var.vpc_cidr
  azs                        = var.azs
  private_subnet_cidrs       = var.private_subnet_cidrs
  enable_nat_gateway         = var.notifications_consumer_in_vpc
  public_subnet_cidrs        = var.public_subnet_cidrs
  consumer_database_cidrs    = local.consumer_database_cidrs
  production_connection_type = var.production_connection_type
  production_vpc_cidr        = var.production_vpc_cidr
  production_database_port   = var.source_database.port
  production_vpc_id          = var.production_vpc_id
  production_vpc_owner_id    = var.production_vpc_owner_id
  production_vpc_region      = var.production_vpc_region
  transit_gateway_id         = var.transit_gateway_id
  kms_key_arn                = aws_kms_key.this.arn
  tags                       = local.tags
}

module "rds_postgres" {
  source = "../rds_postgres"

  identifier                 = "${local.name}-v2"
  engine_version             = var.rds_engine_version
  auto_minor_version_upgrade = var.rds_auto_minor_version_upgrade
  instance_class             = var.rds_instance_class
  multi_az                   = var.rds_multi_az
  subnet_ids                 = module.network.private_subnet_ids
  vpc_security_group_ids     = [module.network.rds_security_group_id]
  kms_key_arn                = aws_kms_key.this.arn
  deletion_protection        = var.deletion_protection
  skip_final_snapshot        = var.rds_skip_final_snapshot
  log_retention_days         = var.log_retention_days
  alarm_actions              = [aws_sns_topic.alarms.arn]
  tags                       = local.tags
}

module "dms" {
  source = "../dms"

  name                 = local.name
  replication_type     = var.dms_replication_type
  create_account_roles = var.create_dms_account_roles
  create_replication   = var.create_dms_replication
  multi_az             = var.dms_multi_az
  lob_mode             = var.dms_lob_mode
  lob_max_size_kb      = var.dms_lob_max_size_kb
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.network.dms_security_group_id]
  kms_key_arn          = aws_kms_key.this.arn
  log_retention_days   = var.log_retention_days
  alarm_actions        = [aws_sns_topic.alarms.arn]
  tags                 = local.tags

  source_endpoint = {
    database_name       = var.source_database.name
    secrets_manager_arn = local.dms_source_secret_arn
  }
  target_endpoint = {
    database_name       = module.rds_postgres.db_name
    secrets_manager_arn = aws_secretsmanager_secret.v2_user["dms_writer"].arn
  }
}

module "dynamodb" {
  source = "../dynamodb"

  table_name                  = local.target_table_name
  control_table_name          = local.control_table_name
  max_write_request_units     = var.max_write_request_units
  deletion_protection_enabled = var.deletion_protection
  # Reverse replication reads the target table's changes from its stream.
  enable_stream = true
  kms_key_arn   = aws_kms_key.this.arn
  tags          = local.tags
}

module "migration_flag" {
  source = "../migration_flag"

  prefix           = local.flag_prefix
  datasets         = var.datasets
  read_policy_name = "${local.name}-migration-flag-read"
  tags             = local.tags
}

module "backfill_runner" {
  source = "../backfill_runner"

  name                       = local.name
  worker_count               = var.backfill_worker_count
  instance_type              = var.backfill_instance_type
  processes                  = var.backfill_processes
  enable_detailed_monitoring = var.enable_backfill_detailed_monitoring
  subnet_ids                 = module.network.private_subnet_ids
  security_group_ids         = [module.network.runner_security_group_id]
  ops_package                = var.ops_package
  ops_wheelhouse_s3_uri      = var.ops_wheelhouse_s3_uri
  ops_environment            = local.backfill_environment
  v2_database_secret_arn     = aws_secretsmanager_secret.v2_user["backfill_reader"].arn
  dynamodb_table_arns        = [module.dynamodb.table_arn]
  control_table_arn          = module.dynamodb.control_table_arn
  parameter_arns             = values(module.migration_flag.parameter_arns)
  kms_key_arn                = aws_kms_key.this.arn
  metrics_namespace          = var.metrics_namespace
  alarm_actions              = [aws_sns_topic.alarms.arn]
  tags                       = local.tags
}

################################################################################
# Subscription notification pipeline (the consumer runs in the VPC: its database is reached
# through the peering, the Google Play Developer API through the NAT gateway)
################################################################################

module "notifications" {
  source = "../notifications"

  name                            = "${local.name}-subscription-notifications"
  receiver_zip_path               = "${local.lambda_package_dir}/receiver.zip"
  consumer_zip_path               = "${local.lambda_package_dir}/consumer.zip"
  apple_bundle_id                 = var.apple_bundle_id
  apple_app_apple_id              = var.apple_app_apple_id
  apple_environment               = var.apple_environment
  google_package_name             = var.google_package_name
  google_pubsub_audience          = var.google_pubsub_audience
  google_push_service_account     = var.google_push_service_account
  apple_lifetime_product_ids      = var.apple_lifetime_product_ids
  google_lifetime_product_ids     = var.google_lifetime_product_ids
  database_secret_arn             = var.entitlement_database_secret_arn
  consumer_subnet_ids             = var.notifications_consumer_in_vpc ? module.network.private_subnet_ids : []
  consumer_security_group_ids     = var.notifications_consumer_in_vpc ? [module.network.consumer_security_group_id] : []
  secret_recovery_window_days     = var.secret_recovery_window_days
  create_dlq_redrive_allow_policy = var.create_sqs_redrive_allow_policy
  log_retention_days              = var.log_retention_days
  kms_key_arn                     = aws_kms_key.this.arn
  alarm_actions                   = [aws_sns_topic.alarms.arn]
  tags                            = local.tags
}

################################################################################
# Reverse replication: from stop-pg-writes until cleanup, the target table's stream is applied to
# production PostgreSQL by a Lambda in the migration VPC (through the peering, like DMS), so that
# `ops migrate rollback` stays one command. Its event source mapping is created disabled;
# `ops replica reverse start|stop` switches it (OPS_REVERSE_MAPPING_UUID).
################################################################################

resource "aws_secretsmanager_secret" "reverse_writer" {
  count = var.reverse_database_secret_arn == null ? 1 : 0

  #checkov:skip=CKV2_AWS_57:Holds the URL of a production user whose password the production database's owners manage; they put a new value after they rotate it.
  name                    = "${local.name}/reverse-writer"
  description             = "Reverse replication: URL of production PostgreSQL for the reverse writer (fill in: {\"url\": \"postgresql://...\"})"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = local.tags
}

locals {
  reverse_database_secret_arn = coalesce(var.reverse_database_secret_arn, try(aws_secretsmanager_secret.reverse_writer[0].arn, null))
}

resource "aws_security_group" "reverse" {
  #checkov:skip=CKV2_AWS_5:Attached in the reverse_replication module (the Lambda's vpc_config) through module inputs; checkov does not follow module inputs.
  name        = "${local.name}-reverse-replication"
  description = "Reverse replication Lambda: no ingress; PostgreSQL to production (the runner group gives HTTPS to the endpoints and DynamoDB)"
  vpc_id      = module.network.vpc_id

  tags = merge(local.tags, { Name = "${local.name}-reverse-replication" })
}

resource "aws_vpc_security_group_egress_rule" "reverse_database" {
  count = var.production_vpc_cidr == null ? 0 : 1

  security_group_id = aws_security_group.reverse.id
  description       = "PostgreSQL of production (the source database), through the peering"
  ip_protocol       = "tcp"
  from_port         = var.source_database.port
  to_port           = var.source_database.port
  cidr_ipv4         = var.production_vpc_cidr
}

module "reverse_replication" {
  source = "../reverse_replication"

  name                = local.name
  stream_arn          = module.dynamodb.table_stream_arn
  zip_path            = "${local.lambda_package_dir}/reverse.zip"
  database_secret_arn = local.reverse_database_secret_arn
  control_table_name  = module.dynamodb.control_table_name
  control_table_arn   = module.dynamodb.control_table_arn
  dataset             = var.dataset
  metrics_namespace   = var.metrics_namespace
  subnet_ids          = module.network.private_subnet_ids
  # The runners' group already reaches the VPC endpoints and DynamoDB; this one adds production.
  security_group_ids        = [aws_security_group.reverse.id, module.network.runner_security_group_id]
  iterator_age_threshold_ms = var.reverse_iterator_age_threshold_ms
  log_retention_days        = var.log_retention_days
  kms_key_arn               = aws_kms_key.this.arn
  alarm_topic_arns          = [aws_sns_topic.alarms.arn]
  tags                      = local.tags
}
