mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name                   = "couple-diary"
  worker_count           = 3
  subnet_ids             = ["subnet-0a", "subnet-0b"]
  security_group_ids     = ["sg-0runner"]
  dynamodb_table_arns    = ["arn:aws:dynamodb:us-east-1:123456789012:table/couple-diary"]
  control_table_arn      = "arn:aws:dynamodb:us-east-1:123456789012:table/platform-ops-control"
  v2_database_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:v2-reader-AbCdEf"
  kms_key_arn            = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  ops_environment        = { OPS_TARGET_TABLE = "couple-diary" }
  ops_wheelhouse_s3_uri  = "s3://platform-ops-artifacts/wheelhouse/0.1.0"
}

run "workers" {
  command = plan

  assert {
    condition     = length(aws_instance.this) == 3
    error_message = "One instance per worker."
  }

  assert {
    condition     = alltrue([for i in aws_instance.this : i.metadata_options[0].http_tokens == "required" && i.root_block_device[0].encrypted])
    error_message = "IMDSv2 only and encrypted root volumes."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.ssm.policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    error_message = "Workers are reached through Session Manager."
  }

  assert {
    condition     = strcontains(aws_instance.this[2].user_data, "ops backfill run --worker 2 --workers 3 --processes $(nproc)") && strcontains(aws_instance.this[2].user_data, jsonencode(var.ops_environment))
    error_message = "User data must install a backfill command with the worker's index, one process per vCPU by default, and the ops environment."
  }

  assert {
    condition     = strcontains(aws_instance.this[0].user_data, "platform_ops_env.py /etc/platform-ops/settings.json '${var.v2_database_secret_arn}' /etc/platform-ops.env") && strcontains(aws_instance.this[0].user_data, "\"V2_DATABASE_URL\": url")
    error_message = "The env file must get V2_DATABASE_URL, built from the read-only user's secret before every command."
  }

  assert {
    condition     = one([for st in jsondecode(aws_iam_role_policy.backfill.policy).Statement : st.Resource if st.Sid == "Secrets"]) == [var.v2_database_secret_arn]
    error_message = "The workers read the read-only user's secret, not the master secret."
  }

  assert {
    condition     = alltrue([for i in aws_instance.this : i.monitoring])
    error_message = "Detailed monitoring is on by default."
  }


  assert {
    condition     = strcontains(aws_instance.this[0].user_data, "aws s3 sync 's3://platform-ops-artifacts/wheelhouse/0.1.0'") && strcontains(jsondecode(aws_iam_role_policy.backfill.policy).Statement[2].Resource[0], "arn:aws:s3:::platform-ops-artifacts/wheelhouse/0.1.0*")
    error_message = "Workers install from the wheelhouse in S3 and may read only that prefix."
  }

  assert {
    condition     = toset(jsondecode(aws_iam_role_policy.backfill.policy).Statement[0].Resource) == toset(var.dynamodb_table_arns)
    error_message = "Table access is scoped to the given tables."
  }

  assert {
    condition     = one(aws_cloudwatch_metric_alarm.rows_failed.metric_query).expression == "SELECT SUM(RowsFailed) FROM SCHEMA(\"PlatformOps/Migration\", RunId, Worker)"
    error_message = "Alarms watch the backfill's metrics namespace."
  }
}

run "processes_per_worker" {
  command = plan

  variables {
    processes = 3
  }

  assert {
    condition     = strcontains(aws_instance.this[1].user_data, "ops backfill run --worker 1 --workers 3 --processes 3 \"$@\"")
    error_message = "A given process count is passed to `ops backfill run --processes`."
  }
}

run "no_workers_no_empty_widget" {
  command = plan

  variables {
    worker_count = 0
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) == 3 && alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets : length(w.properties.metrics) > 0])
    error_message = "Every dashboard widget must have metrics: CloudWatch rejects a widget without any."
  }
}

run "rejects_bad_worker_count" {
  command = plan

  variables {
    worker_count          = 1.5
    ops_wheelhouse_s3_uri = "https://example.com/wheels"
    processes             = 0
  }

  expect_failures = [var.worker_count, var.ops_wheelhouse_s3_uri, var.processes]
}
