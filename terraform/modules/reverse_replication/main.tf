################################################################################
# Reverse replication: the target table's DynamoDB stream -> production PostgreSQL
#
# From `ops migrate stop-pg-writes` until cleanup every change made in DynamoDB is applied to
# production PostgreSQL (lambdas/reverse), so `ops migrate rollback` stays one command. The event
# source mapping is created disabled: `ops replica reverse start` enables it, `stop` disables it.
################################################################################

locals {
  in_vpc = length(var.subnet_ids) > 0
  kms_statements = var.kms_key_arn == null ? [] : [{
    Sid      = "UseKey"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = [var.kms_key_arn]
  }]
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}-reverse"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

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

resource "aws_iam_role" "this" {
  name = "${var.name}-reverse"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name = "reverse"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
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
        {
          Sid      = "Logs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = ["${aws_cloudwatch_log_group.this.arn}:*"]
        },
      ],
      local.kms_statements,
    )
  })
}

resource "aws_iam_role_policy_attachment" "vpc" {
  count      = local.in_vpc ? 1 : 0
  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked by the stream's event source mapping, whose on-failure destination (aws_sqs_queue.failures) keeps what fails; a function DLQ would never receive anything.
  #checkov:skip=CKV_AWS_117:VPC placement is input-driven (subnet_ids); the environment module places it in the VPC that reaches production PostgreSQL.
  #checkov:skip=CKV_AWS_272:Packages are built and deployed by this repository's own pipeline (make package + terraform); AWS Signer is not part of it.
  function_name                  = "${var.name}-reverse"
  description                    = "Applies DynamoDB changes to production PostgreSQL after PostgreSQL writes stop"
  role                           = aws_iam_role.this.arn
  handler                        = "lambdas.reverse.handler.handler"
  runtime                        = var.runtime
  architectures                  = ["arm64"]
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = {
      DATABASE_SECRET_ARN = var.database_secret_arn
      OPS_CONTROL_TABLE   = var.control_table_name
      OPS_DATASET         = var.dataset
    }
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc]
}

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn  = var.stream_arn
  function_name     = aws_lambda_function.this.arn
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
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
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
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
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
