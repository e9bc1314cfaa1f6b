mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name               = "couple-diary"
  subnet_ids         = ["subnet-0a", "subnet-0b"]
  security_group_ids = ["sg-0dms"]
  source_endpoint = {
    database_name       = "app"
    secrets_manager_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod-dms-AbCdEf"
  }
  target_endpoint = {
    database_name       = "app"
    secrets_manager_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-AbCdEf"
  }
  alarm_actions = ["arn:aws:sns:us-east-1:123456789012:alarms"]
}

run "instance_task_with_ssl_and_validation" {
  command = plan

  assert {
    condition     = aws_dms_endpoint.source.ssl_mode != "none" && aws_dms_endpoint.target.ssl_mode != "none"
    error_message = "Both endpoints must require SSL."
  }

  assert {
    condition     = aws_dms_replication_task.this[0].migration_type == "full-load-and-cdc" && length(aws_dms_replication_config.this) == 0
    error_message = "The default is a full-load-and-cdc task on a replication instance."
  }

  assert {
    condition     = jsondecode(aws_dms_replication_task.this[0].replication_task_settings).ValidationSettings.EnableValidation
    error_message = "Validation must be enabled."
  }

  assert {
    condition     = jsondecode(aws_dms_replication_task.this[0].table_mappings).rules[0]["object-locator"]["schema-name"] == "public"
    error_message = "Table mappings must select the configured tables."
  }

  assert {
    condition     = aws_iam_role.dms_vpc[0].name == "dms-vpc-role" && aws_iam_role.dms_cloudwatch_logs[0].name == "dms-cloudwatch-logs-role"
    error_message = "DMS requires its roles under these exact names."
  }

  assert {
    condition     = aws_iam_role.secrets_access.name == "couple-diary-dms-secrets" && aws_dms_endpoint.source.endpoint_id == "couple-diary-source"
    error_message = "Everything DMS does not look up by a fixed name carries the name prefix."
  }

  assert {
    condition     = !aws_dms_replication_instance.this[0].publicly_accessible
    error_message = "The replication instance must not be public."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.cdc_latency)) == toset(["CDCLatencySource", "CDCLatencyTarget"])
    error_message = "CDC latency must be alarmed on both sides."
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.cdc_latency : a.treat_missing_data == "notBreaching"])
    error_message = "No CDC data (before the replica starts) is not latency: the alarms must not sit in ALARM until CDC starts."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "dms-tasks-couple-diary" && aws_cloudwatch_log_group.this.retention_in_days == 365
    error_message = "The task log group DMS writes to must exist beforehand, with a retention."
  }

  assert {
    condition     = contains(jsondecode(aws_cloudwatch_event_rule.task_failure[0].event_pattern).detail.eventType, "REPLICATION_TASK_FAILED") && length(aws_cloudwatch_event_target.task_failure) == 1
    error_message = "A failed task must notify the alarm topic."
  }
}

run "serverless_replication" {
  command = plan

  variables {
    replication_type     = "serverless"
    create_account_roles = false
    ssl_mode             = "verify-full"
    certificate_arn      = "arn:aws:dms:us-east-1:123456789012:cert:RDSCA"
  }

  assert {
    condition     = length(aws_dms_replication_config.this) == 1 && length(aws_dms_replication_instance.this) == 0 && length(aws_dms_replication_task.this) == 0
    error_message = "Serverless mode creates a replication config instead of an instance and task."
  }

  assert {
    condition     = aws_dms_replication_config.this[0].replication_type == "full-load-and-cdc" && aws_dms_endpoint.source.ssl_mode == "verify-full"
    error_message = "The serverless config carries the migration type and SSL mode."
  }

  assert {
    condition     = length(aws_iam_role.dms_vpc) == 0 && length(aws_iam_role.dms_cloudwatch_logs) == 0
    error_message = "Existing account roles are not recreated."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "dms-serverless-replication-couple-diary"
    error_message = "The serverless replication's log group must exist beforehand, with a retention."
  }
}

run "full_lob_mode_never_truncates" {
  command = plan

  assert {
    condition     = jsondecode(aws_dms_replication_task.this[0].replication_task_settings).TargetMetadata.FullLobMode && !jsondecode(aws_dms_replication_task.this[0].replication_task_settings).TargetMetadata.LimitedSizeLobMode
    error_message = "The default must copy every LOB whole: limited LOB mode silently cuts text, bytea and jsonb values above its size."
  }

  assert {
    condition     = jsondecode(aws_dms_replication_task.this[0].replication_task_settings).ErrorBehavior.DataTruncationErrorPolicy == "STOP_TASK"
    error_message = "A truncation DMS reports must stop the task, not land in a log line."
  }
}

run "limited_lob_mode_with_a_chosen_size" {
  command = plan

  variables {
    lob_mode        = "limited"
    lob_max_size_kb = 512
  }

  assert {
    condition     = jsondecode(aws_dms_replication_task.this[0].replication_task_settings).TargetMetadata.LimitedSizeLobMode && jsondecode(aws_dms_replication_task.this[0].replication_task_settings).TargetMetadata.LobMaxSize == 512
    error_message = "Limited LOB mode must use the configured size."
  }

  assert {
    condition     = output.lob_settings == { mode = "limited", max_size_kb = 512 }
    error_message = "The LOB settings are output for the preflight."
  }
}

run "limited_lob_mode_needs_a_size" {
  command = plan

  variables {
    lob_mode = "limited"
  }

  expect_failures = [var.lob_max_size_kb]
}

run "rejects_a_lob_size_dms_cannot_take" {
  command = plan

  variables {
    lob_mode          = "limited"
    lob_max_size_kb   = 0
    lob_chunk_size_kb = 0
  }

  expect_failures = [var.lob_max_size_kb, var.lob_chunk_size_kb]
}

run "account_roles_are_optional" {
  command = plan

  variables {
    create_account_roles = false
  }

  assert {
    condition     = length(aws_iam_role.dms_vpc) == 0 && length(aws_iam_role.dms_cloudwatch_logs) == 0 && aws_iam_role.secrets_access.name == "couple-diary-dms-secrets"
    error_message = "Without the account roles, only the prefixed secrets role is created."
  }
}

run "endpoints_without_a_replication" {
  command = plan

  variables {
    create_replication = false
  }

  assert {
    condition     = length(aws_dms_replication_task.this) == 0 && length(aws_dms_replication_instance.this) == 0 && length(aws_cloudwatch_event_rule.task_failure) == 0 && output.replication_arn == null
    error_message = "create_replication = false keeps the endpoints only."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    replication_type = "managed"
    migration_type   = "full-load-and-replicate"
    ssl_mode         = "none"
  }

  expect_failures = [var.replication_type, var.migration_type, var.ssl_mode]
}

run "rejects_an_unknown_lob_mode" {
  command = plan

  variables {
    lob_mode = "inline"
  }

  expect_failures = [var.lob_mode]
}

run "verify_full_requires_a_certificate" {
  command = plan

  variables {
    ssl_mode = "verify-full"
  }

  expect_failures = [var.certificate_arn]
}
