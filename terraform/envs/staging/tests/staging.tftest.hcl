mock_provider "aws" {
  override_during = plan

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }

  mock_resource "aws_dms_replication_config" {
    defaults = { arn = "arn:aws:dms:us-east-1:123456789012:replication-config:MOCK" }
  }

  mock_data "aws_ssm_parameter" {
    defaults = { value = "ami-0123456789abcdef0" }
  }
}

variables {
  lambda_package_dir    = "../../modules/notifications/tests/fixtures"
  backfill_worker_count = 2
}

run "plan" {
  command = plan

  assert {
    condition     = output.ops_environment["OPS_TARGET_TABLE"] == "couple-diary" && output.ops_environment["OPS_CONTROL_TABLE"] == "platform-ops-control"
    error_message = "The tables must carry the names the ops CLI reads."
  }

  assert {
    condition     = output.flag_parameter_names["answers"] == "/platform-ops/migration/answers/mode"
    error_message = "The mode parameter must be where the ops CLI looks."
  }

  assert {
    condition     = output.notifications_queue_name == "subscription-notifications.fifo" && output.notifications_dlq_name == "subscription-notifications-dlq.fifo"
    error_message = "The queues must carry the names the ops CLI reads."
  }

  assert {
    condition     = module.dynamodb.point_in_time_recovery_enabled && module.rds_postgres.storage_encrypted
    error_message = "PITR on the target table, encrypted replica."
  }

  assert {
    condition     = alltrue([for mode in values(module.dms.ssl_modes) : mode != "none"])
    error_message = "DMS endpoints must use SSL."
  }

  assert {
    condition     = module.dms.replication_config_arn != null && module.dms.replication_task_arn == null
    error_message = "Staging replicates with DMS Serverless."
  }

  assert {
    condition     = length(module.backfill_runner.instance_ids) == 2
    error_message = "One instance per backfill worker."
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "The environment key rotates."
  }
}
