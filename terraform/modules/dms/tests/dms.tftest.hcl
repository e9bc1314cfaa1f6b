mock_provider "aws" {
  override_during = plan

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }

  mock_resource "aws_dms_replication_task" {
    defaults = { replication_task_arn = "arn:aws:dms:us-east-1:123456789012:task:MOCK" }
  }

  mock_resource "aws_dms_replication_config" {
    defaults = { arn = "arn:aws:dms:us-east-1:123456789012:replication-config:MOCK" }
  }

  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
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
    condition     = !aws_dms_replication_instance.this[0].publicly_accessible
    error_message = "The replication instance must not be public."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.cdc_latency)) == toset(["CDCLatencySource", "CDCLatencyTarget"])
    error_message = "CDC latency must be alarmed on both sides."
  }

  assert {
    condition     = contains(jsondecode(aws_cloudwatch_event_rule.task_failure.event_pattern).detail.eventType, "REPLICATION_TASK_FAILED") && length(aws_cloudwatch_event_target.task_failure) == 1
    error_message = "A failed task must notify the alarm topic."
  }
}

run "serverless_replication" {
  command = plan

  variables {
    replication_type = "serverless"
    create_iam_roles = false
    ssl_mode         = "verify-full"
    certificate_arn  = "arn:aws:dms:us-east-1:123456789012:cert:RDSCA"
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
    condition     = length(aws_iam_role.dms_vpc) == 0
    error_message = "Existing account roles are not recreated."
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

run "verify_full_requires_a_certificate" {
  command = plan

  variables {
    ssl_mode = "verify-full"
  }

  expect_failures = [var.certificate_arn]
}
