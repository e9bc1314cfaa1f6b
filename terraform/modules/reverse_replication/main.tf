################################################################################
# Reverse replication: the target table's DynamoDB stream -> production PostgreSQL
#
# From `ops migrate stop-pg-writes` until cleanup every change made in DynamoDB is applied to
# production PostgreSQL (lambdas/reverse), so `ops migrate rollback` stays one command. The event
# source mapping is created disabled: `ops replica reverse start` enables it, `stop` disables it.
################################################################################

# Records that keep failing after the retries (bisected down to the one record) land here, with
# their stream position, for `ops replica reverse retry-failed` to apply the item again.
resource "aws_sqs_queue" "failures" {
  #checkov:skip=CKV2_PLATFORM_1:A stream event source mapping's on-failure destination must be a standard queue; ordering is restored by the version guard when retry-failed applies the item.
  #checkov:skip=CKV2_PLATFORM_2:This queue is the end of the line (the mapping's on-failure destination), drained by `ops replica reverse retry-failed`; nothing redrives from it.
  name                              = "${var.name}-reverse-failures"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300

  tags = var.tags
}

module "function" {
  source = "../lambda_function"

  name                 = "${var.name}-reverse"
  description          = "Applies DynamoDB changes to production PostgreSQL after PostgreSQL writes stop"
  handler              = "lambdas.reverse.handler.handler"
  runtime              = var.runtime
  zip_path             = var.zip_path
  memory_size          = var.memory_size
  timeout              = var.timeout
  reserved_concurrency = var.reserved_concurrency
  environment = {
    DATABASE_SECRET_ARN = var.database_secret_arn
    OPS_CONTROL_TABLE   = var.control_table_name
    OPS_DATASET         = var.dataset
    # The writer's lag, applied and failure counts (embedded metrics) land where the lag alarm looks.
    OPS_METRICS_NAMESPACE = var.metrics_namespace
  }
  # A VPC with a route to production PostgreSQL (the environment module passes one).
  subnet_ids         = var.subnet_ids
  security_group_ids = var.security_group_ids

  policy_name = "reverse"
  policy_statements = [
    {
      Sid      = "ReadTheStream"
      Effect   = "Allow"
      Action   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
      Resource = [var.stream_arn]
    },
    {
      Sid      = "StatusAndFailureLog"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
      Resource = [var.control_table_arn]
    },
    {
      Sid      = "OnFailureDestination"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.failures.arn]
    },
    {
      Sid      = "DatabaseSecret"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [var.database_secret_arn]
    },
  ]

  kms_key_arn        = var.kms_key_arn
  log_retention_days = var.log_retention_days
  tags               = var.tags
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn  = var.stream_arn
  function_name     = module.function.function_arn
  starting_position = "LATEST"
  # Off until `ops replica reverse start` (stop-pg-writes): before that PostgreSQL is the source.
  enabled                            = var.enabled
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = 1
  parallelization_factor             = 1 # one batch per shard at a time: a key's changes stay in order
  bisect_batch_on_function_error     = true
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = -1 # a change is never dropped for being old
  function_response_types            = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failures.arn
    }
  }

  lifecycle {
    # `ops replica reverse start|stop` turns the mapping on and off; Terraform must not undo it.
    ignore_changes = [enabled]
  }
}

################################################################################
# Alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  alarm_name          = "${var.name}-reverse-iterator-age"
  alarm_description   = "Reverse replication is behind: PostgreSQL misses DynamoDB changes older than the threshold (rollback waits for it)"
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = module.function.function_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.iterator_age_threshold_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arns
  ok_actions          = var.alarm_topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-reverse-errors"
  alarm_description   = "The reverse writer fails: see `ops replica reverse failures` and the function's log"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = module.function.function_name }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arns
  ok_actions          = var.alarm_topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failures" {
  alarm_name          = "${var.name}-reverse-failures"
  alarm_description   = "Changes that could not be applied to PostgreSQL wait in the on-failure queue: `ops replica reverse retry-failed`"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failures.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arns
  ok_actions          = var.alarm_topic_arns

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lag" {
  alarm_name          = "${var.name}-reverse-lag"
  alarm_description   = "Reverse replication lag as the writer measures it (age of the oldest change not yet applied)"
  namespace           = var.metrics_namespace
  metric_name         = "ReverseReplicationLagSeconds"
  dimensions          = { Table = var.dataset }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = var.iterator_age_threshold_ms / 1000
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arns
  ok_actions          = var.alarm_topic_arns

  tags = var.tags
}
