mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  environment                 = "staging"
  vpc_cidr                    = "10.41.0.0/16"
  azs                         = ["us-east-1a", "us-east-1b"]
  private_subnet_cidrs        = ["10.41.0.0/20", "10.41.16.0/20"]
  public_subnet_cidrs         = ["10.41.128.0/24"]
  production_vpc_cidr         = "10.1.0.0/16"
  production_vpc_id           = "vpc-0staging0production"
  production_vpc_owner_id     = "111111111111"
  production_vpc_region       = "us-west-2"
  source_database             = { address = "app.abcdefghij.us-west-2.rds.amazonaws.com" }
  ops_wheelhouse_s3_uri       = "s3://platform-ops-artifacts/wheelhouse"
  lambda_package_dir          = "../notifications/tests/fixtures"
  apple_bundle_id             = "com.example.couplediary"
  apple_environment           = "Sandbox"
  google_package_name         = "com.example.couplediary"
  google_pubsub_audience      = "https://notifications.example.com/notifications/google"
  google_push_service_account = "rtdn-push@couplediary.iam.gserviceaccount.com"
  backfill_worker_count       = 1
}

run "staging" {
  command = plan

  assert {
    condition = alltrue([
      aws_kms_alias.this.name == "alias/platform-ops-staging",
      aws_sns_topic.alarms.name == "platform-ops-staging-alarms",
      module.dynamodb.table_name == "platform-ops-staging-couple-diary",
      module.dynamodb.control_table_name == "platform-ops-staging-control",
      module.migration_flag.parameter_names["answers"] == "/platform-ops-staging/migration/answers/mode",
      module.notifications.queue_name == "platform-ops-staging-subscription-notifications.fifo",
      module.notifications.dlq_name == "platform-ops-staging-subscription-notifications-dlq.fifo",
      module.rds_postgres.db_instance_identifier == "platform-ops-staging-v2",
      aws_secretsmanager_secret.v2_user["dms_writer"].name == "platform-ops-staging/v2/dms-writer",
      aws_secretsmanager_secret.dms_source[0].name == "platform-ops-staging/dms-source",
    ])
    error_message = "Every name must carry the environment, so two environments fit in one account."
  }

  assert {
    condition     = output.ops_environment["OPS_V2_RDS_INSTANCE"] == "platform-ops-staging-v2" && output.v2_rds_instance_identifier == "platform-ops-staging-v2"
    error_message = "The V2 RDS instance identifier must be output, and in ops_environment (OPS_V2_RDS_INSTANCE)."
  }

  assert {
    condition     = output.ops_environment["OPS_REPLICA_DRIVER"] == "dms" && output.ops_environment["OPS_DMS_TASK_ARN"] == output.dms_replication_arn && output.dms_replication_arn == module.dms.replication_task_arn
    error_message = "The CLI must get the DMS driver and the task's ARN."
  }

  assert {
    condition     = output.ops_environment["OPS_ALARM_PREFIXES"] == "platform-ops-staging-" && output.ops_environment["OPS_ERROR_ALARM_PREFIXES"] == "platform-ops-staging-" && output.ops_environment["AWS_REGION"] == "us-east-1"
    error_message = "The gates must look at this environment's alarms only."
  }

  assert {
    condition = alltrue([for name in [
      "platform-ops-staging-outbox-oldest-age-answers",
      "platform-ops-staging-subscription-notifications-dlq-not-empty",
      "platform-ops-staging-CDCLatencySource",
      "platform-ops-staging-v2-free-storage",
    ] : contains(split(",", output.ops_environment["OPS_REQUIRED_ALARMS"]), name)])
    error_message = "The preflight must require the outbox, DLQ, CDC latency and V2 storage alarms."
  }

  assert {
    condition     = !contains(keys(module.backfill_runner.ops_environment), "OPS_DMS_TASK_ARN") && !contains(keys(module.backfill_runner.ops_environment), "OPS_REQUIRED_ALARMS") && module.backfill_runner.ops_environment["OPS_TARGET_TABLE"] == "platform-ops-staging-couple-diary"
    error_message = "The workers' settings are names only, so a DMS or alarm change never replaces a worker mid-backfill."
  }
}

run "outbox_alarm" {
  command = plan

  assert {
    condition = alltrue([
      aws_cloudwatch_metric_alarm.outbox_oldest_age["answers"].metric_name == "OutboxOldestAgeSeconds",
      aws_cloudwatch_metric_alarm.outbox_oldest_age["answers"].namespace == "PlatformOps/Migration",
      aws_cloudwatch_metric_alarm.outbox_oldest_age["answers"].dimensions == tomap({ Table = "answers" }),
      aws_cloudwatch_metric_alarm.outbox_oldest_age["answers"].threshold == 60,
      aws_cloudwatch_metric_alarm.outbox_oldest_age["answers"].comparison_operator == "GreaterThanThreshold",
      aws_cloudwatch_metric_alarm.outbox_oldest_age["answers"].period == 60,
      aws_cloudwatch_metric_alarm.outbox_oldest_age["answers"].evaluation_periods == 2,
      aws_cloudwatch_metric_alarm.outbox_oldest_age["answers"].treat_missing_data == "notBreaching",
    ])
    error_message = "The outbox alarm fires when the drainer's OutboxOldestAgeSeconds of a table stays above 60 s for 2 minutes."
  }
}

run "kms_key_serves_this_account_only" {
  command = plan

  assert {
    condition = alltrue([for statement in jsondecode(aws_kms_key.this.policy).Statement :
      !can(statement.Principal.Service) || (
        try(statement.Condition.StringEquals["aws:SourceAccount"], "") == "123456789012" ||
        can(regex("^arn:aws:logs:us-east-1:123456789012:", statement.Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"]))
      )
    ])
    error_message = "Every service principal in the key policy must be pinned to this account (aws:SourceAccount, or the log group ARN for CloudWatch Logs)."
  }
}

run "dms_and_the_backfill_use_their_own_users" {
  command = plan

  assert {
    condition     = module.dms.target_endpoint_secret_arn == aws_secretsmanager_secret.v2_user["dms_writer"].arn && module.dms.target_endpoint_secret_arn != module.rds_postgres.master_user_secret_arn
    error_message = "DMS must read its own writer's secret, never a copy of the RDS-managed master secret (which RDS rotates)."
  }

  assert {
    condition     = module.dms.source_endpoint_secret_arn == aws_secretsmanager_secret.dms_source[0].arn
    error_message = "DMS reads the replication user's secret."
  }

  assert {
    condition     = alltrue([for v in aws_secretsmanager_secret_version.v2_user : v.secret_string == null && v.secret_string_wo_version > 0]) && aws_secretsmanager_secret_version.dms_source[0].secret_string == null
    error_message = "Generated passwords go through the write-only argument: never in state, never reverted after a rotation."
  }

  assert {
    condition     = module.backfill_runner.readable_secret_arns == [aws_secretsmanager_secret.v2_user["backfill_reader"].arn]
    error_message = "The backfill workers read the read-only user's secret, not the master secret."
  }
}

run "consumer_runs_in_the_vpc" {
  command = plan

  override_resource {
    target          = module.network.aws_subnet.private[0]
    override_during = plan
    values          = { id = "subnet-0private0a" }
  }

  override_resource {
    target          = module.network.aws_subnet.private[1]
    override_during = plan
    values          = { id = "subnet-0private0b" }
  }

  override_resource {
    target          = module.network.aws_security_group.consumer
    override_during = plan
    values          = { id = "sg-0consumer" }
  }

  override_resource {
    target          = module.network.aws_nat_gateway.this[0]
    override_during = plan
    values          = { id = "nat-0123456789abcdef0" }
  }

  assert {
    condition     = module.network.nat_gateway_id == "nat-0123456789abcdef0"
    error_message = "The consumer reaches the Google Play Developer API through a NAT gateway."
  }

  assert {
    condition     = module.notifications.consumer_vpc_config.subnet_ids == toset(["subnet-0private0a", "subnet-0private0b"]) && module.notifications.consumer_vpc_config.security_group_ids == toset(["sg-0consumer"])
    error_message = "The consumer must run in the private subnets with its own security group."
  }
}

run "reverse_replication_reaches_production" {
  command = plan

  override_resource {
    target          = module.network.aws_subnet.private[0]
    override_during = plan
    values          = { id = "subnet-0private0a" }
  }

  override_resource {
    target          = module.network.aws_subnet.private[1]
    override_during = plan
    values          = { id = "subnet-0private0b" }
  }

  override_resource {
    target          = aws_security_group.reverse
    override_during = plan
    values          = { id = "sg-0reverse" }
  }

  override_resource {
    target          = module.dynamodb.aws_dynamodb_table.this
    override_during = plan
    values          = { stream_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000" }
  }

  assert {
    condition     = module.dynamodb.table_stream_arn == "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
    error_message = "The target table has a stream: reverse replication reads DynamoDB's changes from it."
  }

  assert {
    condition     = one(module.reverse_replication.function_vpc_config).subnet_ids == toset(["subnet-0private0a", "subnet-0private0b"]) && contains(one(module.reverse_replication.function_vpc_config).security_group_ids, "sg-0reverse")
    error_message = "The reverse Lambda runs in the migration VPC's private subnets, with its own security group."
  }

  assert {
    condition     = one(aws_vpc_security_group_egress_rule.reverse_database).cidr_ipv4 == var.production_vpc_cidr && one(aws_vpc_security_group_egress_rule.reverse_database).from_port == 5432
    error_message = "The reverse Lambda may reach production PostgreSQL through the peering."
  }

  assert {
    condition     = output.ops_environment["OPS_REVERSE_DRIVER"] == "lambda" && output.ops_environment["OPS_REVERSE_FUNCTION"] == "platform-ops-staging-reverse"
    error_message = "ops replica reverse is told to drive this environment's Lambda."
  }

  assert {
    condition     = contains(output.alarm_names, "platform-ops-staging-reverse-iterator-age") && length(aws_secretsmanager_secret.reverse_writer) == 1
    error_message = "The preflight requires the reverse alarms; the writer's secret is created to be filled in."
  }
}

run "a_source_on_another_port" {
  command = plan

  variables {
    source_database = { address = "app.abcdefghij.us-west-2.rds.amazonaws.com", port = 6432 }
  }

  assert {
    condition     = module.network.production_database_egress.port == 6432 && one(aws_vpc_security_group_egress_rule.reverse_database).from_port == 6432
    error_message = "DMS and the reverse Lambda must both reach production PostgreSQL on its own port."
  }
}

run "peering_to_another_account" {
  command = plan

  assert {
    condition     = module.network.production_peering_request.peer_owner_id == "111111111111" && module.network.production_peering_request.peer_region == "us-west-2" && !module.network.production_peering_request.auto_accept
    error_message = "The production account and region must reach the peering request (the production link accepts it)."
  }
}

run "staging_can_be_destroyed_and_recreated" {
  command = plan

  variables {
    deletion_protection         = false
    secret_recovery_window_days = 0
    rds_skip_final_snapshot     = true
  }

  assert {
    condition     = !module.rds_postgres.deletion_protection && !module.dynamodb.deletion_protection_enabled
    error_message = "Without deletion protection, destroy removes the replica and both tables."
  }

  assert {
    condition     = alltrue([for s in concat(values(aws_secretsmanager_secret.v2_user), aws_secretsmanager_secret.dms_source) : s.recovery_window_in_days == 0])
    error_message = "A recovery window of 0 frees every secret name at destroy, so the environment can be re-created at once."
  }
}

run "prod" {
  command = plan

  variables {
    environment = "prod"
  }

  assert {
    condition = alltrue([for name in ["OPS_CONTROL_TABLE", "OPS_TARGET_TABLE", "OPS_FLAG_PREFIX", "OPS_NOTIFICATIONS_QUEUE", "OPS_NOTIFICATIONS_DLQ", "OPS_V2_RDS_INSTANCE", "OPS_ALARM_PREFIXES"] :
    output.ops_environment[name] != run.staging.ops_environment[name]])
    error_message = "Staging and prod must not share a name."
  }

  assert {
    condition     = module.rds_postgres.deletion_protection && module.dynamodb.deletion_protection_enabled && alltrue([for s in values(aws_secretsmanager_secret.v2_user) : s.recovery_window_in_days == 30])
    error_message = "By default the replica and tables are protected and secrets keep a recovery window."
  }
}

run "serverless_replication" {
  command = plan

  variables {
    dms_replication_type = "serverless"
  }

  assert {
    condition     = output.ops_environment["OPS_DMS_TASK_ARN"] == module.dms.replication_config_arn
    error_message = "With DMS Serverless the CLI gets the replication config's ARN."
  }
}

run "without_a_replication" {
  command = plan

  variables {
    create_dms_replication   = false
    create_dms_account_roles = false
  }

  assert {
    condition     = !contains(keys(output.ops_environment), "OPS_DMS_TASK_ARN") && output.dms_replication_arn == null
    error_message = "Without a replication, OPS_DMS_TASK_ARN is left out rather than empty."
  }
}

run "rejects_unknown_replication_settings" {
  command = plan

  variables {
    dms_replication_type = "managed"
    dms_lob_mode         = "inline"
    environment          = "Prod"
  }

  expect_failures = [var.dms_replication_type, var.dms_lob_mode, var.environment]
}

run "rejects_a_dataset_without_a_mode_parameter" {
  command = plan

  variables {
    dataset  = "questions"
    datasets = ["answers"]
  }

  expect_failures = [var.datasets]
}
