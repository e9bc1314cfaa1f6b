mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name                = "platform-ops-test"
  stream_arn          = "arn:aws:dynamodb:us-east-1:123456789012:table/couple-diary/stream/2026-01-01T00:00:00.000"
  zip_path            = "tests/fixtures/reverse.zip"
  database_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:reverse-db"
  control_table_name  = "platform-ops-test-control"
  control_table_arn   = "arn:aws:dynamodb:us-east-1:123456789012:table/platform-ops-test-control"
  subnet_ids          = ["subnet-1", "subnet-2"]
  security_group_ids  = ["sg-1"]
}

run "the_mapping_starts_disabled_in_order_and_never_drops_a_change" {
  command = plan

  assert {
    condition     = aws_lambda_event_source_mapping.this.enabled == false
    error_message = "the mapping must start disabled: ops replica reverse start enables it at stop-pg-writes"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this.parallelization_factor == 1
    error_message = "one batch per shard at a time keeps a key's changes in order"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this.bisect_batch_on_function_error == true
    error_message = "a failing batch must be bisected down to the failing record"
  }
  assert {
    condition     = contains(aws_lambda_event_source_mapping.this.function_response_types, "ReportBatchItemFailures")
    error_message = "the handler reports the first failed record (ReportBatchItemFailures)"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this.maximum_record_age_in_seconds == -1
    error_message = "no change may be skipped for being old"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this.starting_position == "LATEST"
    error_message = "the stream is read from when replication starts"
  }
}

run "failures_land_in_a_queue_and_alarms_watch_lag_errors_and_failures" {
  command = plan

  assert {
    condition     = length(aws_lambda_event_source_mapping.this.destination_config) == 1
    error_message = "records that keep failing need an on-failure destination"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.iterator_age.metric_name == "IteratorAge" && aws_cloudwatch_metric_alarm.iterator_age.threshold == 30000
    error_message = "the iterator age alarm watches IteratorAge at the threshold"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.failures.metric_name == "ApproximateNumberOfMessagesVisible"
    error_message = "the failures alarm watches the on-failure queue"
  }
  assert {
    condition     = module.function.function.environment[0].variables["OPS_CONTROL_TABLE"] == "platform-ops-test-control"
    error_message = "the function writes its status to the control table"
  }
  assert {
    condition     = [for s in jsondecode(module.function.role_policy).Statement : s.Sid] == ["ReadTheStream", "StatusAndFailureLog", "OnFailureDestination", "DatabaseSecret", "Logs", "Tracing"]
    error_message = "the writer reads the stream, its status and the secret, sends failures to the queue, writes its log and its traces (active tracing)"
  }
  assert {
    condition     = module.function.function.environment[0].variables["OPS_METRICS_NAMESPACE"] == aws_cloudwatch_metric_alarm.lag.namespace && aws_cloudwatch_metric_alarm.lag.dimensions["Table"] == module.function.function.environment[0].variables["OPS_DATASET"]
    error_message = "the writer emits its lag into the namespace and dimension the lag alarm watches"
  }
  assert {
    condition     = length(module.function.function.vpc_config) == 1
    error_message = "the function runs in the VPC that reaches production PostgreSQL"
  }
}
