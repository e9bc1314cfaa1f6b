mock_provider "aws" {
  override_during = plan

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }

  mock_resource "aws_dms_replication_task" {
    defaults = { replication_task_arn = "arn:aws:dms:us-east-1:123456789012:task:MOCK" }
  }

  mock_data "aws_ssm_parameter" {
    defaults = { value = "ami-0123456789abcdef0" }
  }
}

variables {
  lambda_package_dir    = "../../modules/notifications/tests/fixtures"
  backfill_worker_count = 4
}

run "plan" {
  command = plan

  assert {
    condition     = module.rds_postgres.deletion_protection && module.dynamodb.deletion_protection_enabled
    error_message = "Deletion protection must be on in prod (V2 replica and both tables)."
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
    condition     = output.dms_replication_arn == module.dms.replication_task_arn && output.ops_environment["OPS_DMS_TASK_ARN"] == output.dms_replication_arn
    error_message = "Prod replicates with a DMS task whose ARN the ops CLI gets."
  }

  assert {
    condition     = output.ops_environment["OPS_NOTIFICATIONS_QUEUE"] == "subscription-notifications.fifo" && output.ops_environment["OPS_FLAG_PREFIX"] == "/platform-ops/migration"
    error_message = "The names must be the ones the ops CLI reads."
  }

  assert {
    condition     = length(module.backfill_runner.instance_ids) == 4
    error_message = "One instance per backfill worker."
  }
}

run "dataset_must_have_a_mode_parameter" {
  command = plan

  variables {
    dataset  = "questions"
    datasets = ["answers"]
  }

  expect_failures = [var.datasets]
}
