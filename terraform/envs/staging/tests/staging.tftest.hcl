mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  lambda_package_dir = "../../modules/notifications/tests/fixtures"
}

run "staging_lives_beside_prod_and_comes_back_after_a_destroy" {
  command = plan

  assert {
    condition     = output.name_prefix == "platform-ops-staging" && output.ops_environment["OPS_TARGET_TABLE"] == "platform-ops-staging-couple-diary" && output.flag_parameter_names["answers"] == "/platform-ops-staging/migration/answers/mode"
    error_message = "Every staging name carries the environment."
  }

  assert {
    condition     = !module.environment.rds_deletion_protection && !module.environment.dynamodb_deletion_protection
    error_message = "Staging destroys cleanly: no deletion protection on the replica or the tables."
  }

  assert {
    condition     = alltrue([for days in values(module.environment.secret_recovery_windows) : days == 0])
    error_message = "Staging's secrets are deleted at once, so a re-apply right after a destroy finds their names free."
  }

  assert {
    condition     = output.ops_environment["OPS_DMS_TASK_ARN"] == "arn:aws:dms:us-east-1:123456789012:replication-config:MOCK"
    error_message = "Staging replicates with DMS Serverless; the CLI gets the replication config's ARN."
  }

  assert {
    condition     = output.ops_environment["OPS_V2_RDS_INSTANCE"] == output.v2_rds_instance_identifier && output.v2_rds_instance_identifier == "platform-ops-staging-v2"
    error_message = "The V2 RDS instance identifier must be output and handed to the CLI."
  }
}
