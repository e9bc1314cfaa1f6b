mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  lambda_package_dir = "../../modules/notifications/tests/fixtures"
}

run "prod_is_protected" {
  command = plan

  assert {
    condition     = module.environment.rds_deletion_protection && module.environment.dynamodb_deletion_protection
    error_message = "Deletion protection must be on in prod (V2 replica and both tables)."
  }

  assert {
    condition     = alltrue([for days in values(module.environment.secret_recovery_windows) : days == 30])
    error_message = "Prod's secrets keep a recovery window (restore or force-delete: runbooks/infrastructure.md)."
  }

  assert {
    condition     = output.dms_replication_arn == "arn:aws:dms:us-east-1:123456789012:task:MOCK" && output.ops_environment["OPS_DMS_TASK_ARN"] == output.dms_replication_arn
    error_message = "Prod replicates with a DMS task whose ARN the ops CLI gets."
  }

  assert {
    condition     = output.name_prefix == "platform-ops-prod" && output.ops_environment["OPS_NOTIFICATIONS_QUEUE"] == "platform-ops-prod-subscription-notifications.fifo"
    error_message = "Every prod name carries the environment."
  }
}
