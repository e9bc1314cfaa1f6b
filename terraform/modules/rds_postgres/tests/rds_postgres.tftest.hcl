mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

# Values computed during apply (the creation-time stamp of the final snapshot) need an apply.
mock_provider "aws" {
  alias  = "applied"
  source = "../../tests/mocks"
}

variables {
  identifier             = "couple-diary-v2"
  subnet_ids             = ["subnet-0a", "subnet-0b"]
  vpc_security_group_ids = ["sg-0rds"]
  kms_key_arn            = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  alarm_actions          = ["arn:aws:sns:us-east-1:123456789012:alarms"]
}

run "encrypted_protected_replica" {
  command = plan

  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.kms_key_id == var.kms_key_arn
    error_message = "Storage must be encrypted with the given key."
  }

  assert {
    condition     = aws_db_instance.this.manage_master_user_password && aws_db_instance.this.master_user_secret_kms_key_id == var.kms_key_arn
    error_message = "The master password must be managed in Secrets Manager."
  }

  assert {
    condition     = aws_db_instance.this.deletion_protection && !aws_db_instance.this.skip_final_snapshot
    error_message = "Deletion protection and a final snapshot are required by default."
  }

  assert {
    condition     = aws_db_instance.this.performance_insights_enabled && !aws_db_instance.this.publicly_accessible
    error_message = "Performance Insights on, never publicly accessible."
  }

  assert {
    condition     = contains([for p in aws_db_parameter_group.this.parameter : "${p.name}=${p.value}"], "rds.force_ssl=1")
    error_message = "The parameter group must force TLS."
  }
}

run "minor_versions_belong_to_rds" {
  command = plan

  assert {
    condition     = aws_db_instance.this.engine_version == "16" && aws_db_instance.this.auto_minor_version_upgrade && !aws_db_instance.this.allow_major_version_upgrade
    error_message = "The major version is pinned and RDS moves the minor version: a plan never downgrades."
  }

  assert {
    condition     = aws_db_parameter_group.this.family == "postgres16"
    error_message = "The parameter family follows the major version."
  }
}

run "pinned_minor_version_without_automatic_upgrades" {
  command = plan

  variables {
    engine_version             = "16.4"
    auto_minor_version_upgrade = false
  }

  assert {
    condition     = aws_db_instance.this.engine_version == "16.4" && aws_db_parameter_group.this.family == "postgres16"
    error_message = "With automatic minor upgrades off, the full version is pinned."
  }
}

run "a_minor_version_with_automatic_upgrades_is_refused" {
  command = plan

  variables {
    engine_version = "16.4"
  }

  expect_failures = [var.engine_version]
}

run "parameter_group_can_be_replaced_without_a_name_clash" {
  command = plan

  assert {
    condition     = aws_db_parameter_group.this.name_prefix == "couple-diary-v2-"
    error_message = "The parameter group takes a name prefix, so create_before_destroy never collides with the old group."
  }
}

run "every_instance_leaves_its_own_final_snapshot" {
  command   = apply
  providers = { aws = aws.applied }

  assert {
    condition     = can(regex("^couple-diary-v2-final-[0-9]{14}$", aws_db_instance.this.final_snapshot_identifier))
    error_message = "The final snapshot carries the instance's creation time, so destroying a re-created instance does not hit DBSnapshotAlreadyExists."
  }
}

run "skipping_the_final_snapshot" {
  command = plan

  variables {
    skip_final_snapshot = true
  }

  assert {
    condition     = aws_db_instance.this.skip_final_snapshot && aws_db_instance.this.final_snapshot_identifier == null
    error_message = "A skipped final snapshot has no identifier."
  }
}

run "logs_are_kept_and_alarmed" {
  command = plan

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.retention_in_days == 365 && g.kms_key_id == var.kms_key_arn]) && toset(keys(aws_cloudwatch_log_group.this)) == toset(aws_db_instance.this.enabled_cloudwatch_logs_exports)
    error_message = "Every exported log has a log group with retention, created before RDS would create one without."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this["postgresql"].name == "/aws/rds/instance/couple-diary-v2/postgresql"
    error_message = "The log group must be the one RDS writes to."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["cpu"].metric_name == "CPUUtilization" && aws_cloudwatch_metric_alarm.this["free-storage"].metric_name == "FreeStorageSpace" && aws_cloudwatch_metric_alarm.this["free-storage"].comparison_operator == "LessThanThreshold"
    error_message = "CPU and free storage must be alarmed."
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.this : a.alarm_actions == toset(var.alarm_actions)])
    error_message = "The alarms notify the alarm topic."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    subnet_ids                            = ["subnet-0a"]
    storage_type                          = "standard"
    performance_insights_retention_period = 30
    monitoring_interval                   = 7
    log_retention_days                    = 10
  }

  expect_failures = [var.subnet_ids, var.storage_type, var.performance_insights_retention_period, var.monitoring_interval, var.log_retention_days]
}
