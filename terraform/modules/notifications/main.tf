locals {
  queue_name                 = coalesce(var.queue_name, "${var.name}.fifo")
  dlq_name                   = coalesce(var.dlq_name, "${var.name}-dlq.fifo")
  create_database_secret     = var.database_secret_arn == null
  create_google_play_secret  = var.google_play_credentials_secret_arn == null
  database_secret_arn        = local.create_database_secret ? aws_secretsmanager_secret.database[0].arn : var.database_secret_arn
  google_play_secret_arn     = local.create_google_play_secret ? aws_secretsmanager_secret.google_play[0].arn : var.google_play_credentials_secret_arn
  queue_visibility_timeout_s = var.consumer_timeout * 6

  # The names are the ones lambdas/<fn>/config.py declares in ENV_VARS (checked by a contract test).
  receiver_environment = {
    NOTIFICATIONS_QUEUE_URL     = aws_sqs_queue.this.url
    APPLE_BUNDLE_ID             = var.apple_bundle_id
    APPLE_ENVIRONMENT           = var.apple_environment
    GOOGLE_PACKAGE_NAME         = var.google_package_name
    GOOGLE_PUBSUB_AUDIENCE      = var.google_pubsub_audience
    GOOGLE_PUSH_SERVICE_ACCOUNT = var.google_push_service_account
    LOG_LEVEL                   = var.log_level
  }

  # Left out when not given, so the function's own default applies. Only variables decide which
  # are set, so the set of names is known at plan time.
  receiver_optional_environment = {
    APPLE_APP_APPLE_ID  = var.apple_app_apple_id
    APPLE_ONLINE_CHECKS = var.apple_online_checks == null ? null : tostring(var.apple_online_checks)
    MAX_BODY_BYTES      = var.max_body_bytes == null ? null : tostring(var.max_body_bytes)
  }

  consumer_environment = {
    DATABASE_SECRET_ARN                = local.database_secret_arn
    GOOGLE_PACKAGE_NAME                = var.google_package_name
    GOOGLE_PLAY_CREDENTIALS_SECRET_ARN = local.google_play_secret_arn
    APPLE_LIFETIME_PRODUCT_IDS         = join(",", var.apple_lifetime_product_ids)
    GOOGLE_LIFETIME_PRODUCT_IDS        = join(",", var.google_lifetime_product_ids)
    IDEMPOTENCY_DAYS                   = tostring(var.idempotency_days)
    LOG_LEVEL                          = var.log_level
    # The App Store Server API (reconcile.tf): consumption answers and the reconciler.
    APPLE_BUNDLE_ID              = var.apple_bundle_id
    APPLE_ENVIRONMENT            = var.apple_environment
    APP_STORE_API_KEY_SECRET_ARN = local.app_store_key_secret_arn
    APPLE_CONSUMPTION_RESPONSE   = var.apple_consumption_response ? "on" : "off"
    PAYLOAD_RETENTION_DAYS       = tostring(var.payload_retention_days)
  }

  consumer_optional_environment = {
    APPLE_APP_APPLE_ID      = var.apple_app_apple_id
    APPLE_REFUND_PREFERENCE = var.apple_refund_preference
  }
}

################################################################################
# SQS FIFO queue and its FIFO dead-letter queue
################################################################################

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq_name
  fifo_queue                        = true
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name       = local.queue_name
  fifo_queue = true
  # The receiver sets MessageDeduplicationId (notificationUUID / Pub/Sub messageId) itself.
  content_based_deduplication       = false
  deduplication_scope               = "messageGroup"
  fifo_throughput_limit             = "perMessageGroupId"
  visibility_timeout_seconds        = local.queue_visibility_timeout_s
  message_retention_seconds         = var.queue_message_retention_seconds
  kms_master_key_id                 = var.kms_key_arn
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = var.create_dlq_redrive_allow_policy ? 1 : 0

  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}

################################################################################
# Secrets the consumer reads (values are put in by their owners, never by Terraform)
################################################################################

resource "aws_secretsmanager_secret" "database" {
  count = local.create_database_secret ? 1 : 0

  #checkov:skip=CKV2_AWS_57:The URL belongs to the entitlement database's owners, who rotate its password; a rotation Lambda here would fight theirs.
  name                    = "${var.name}/database-url"
  description             = "PostgreSQL URL of the entitlement database used by the notification consumer"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

resource "aws_secretsmanager_secret" "google_play" {
  count = local.create_google_play_secret ? 1 : 0

  #checkov:skip=CKV2_AWS_57:A Google service-account key is rotated in Google Cloud, which Secrets Manager rotation cannot do.
  name                    = "${var.name}/google-play-credentials"
  description             = "Google Play Developer API service-account JSON used by the notification consumer"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

################################################################################
# Lambda functions
################################################################################

module "receiver" {
  source = "../lambda_function"

  name                 = "${var.name}-receiver"
  description          = "Verifies Apple and Google subscription notifications and enqueues them"
  handler              = "lambdas.receiver.handler.handler"
  runtime              = var.runtime
  zip_path             = var.receiver_zip_path
  memory_size          = var.receiver_memory_size
  timeout              = var.receiver_timeout
  reserved_concurrency = var.receiver_reserved_concurrency
  environment = merge(
    local.receiver_environment,
    { for k, v in local.receiver_optional_environment : k => v if v != null },
  )
  # Outside any VPC: it only calls SQS and Apple's and Google's public endpoints.

  policy_name = "receiver"
  policy_statements = [
    { Sid = "Enqueue", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = [aws_sqs_queue.this.arn] },
  ]

  kms_key_arn        = var.kms_key_arn
  log_retention_days = var.log_retention_days
  tags               = var.tags
}

module "consumer" {
  source = "../lambda_function"

  name                 = "${var.name}-consumer"
  description          = "Applies queued subscription notifications to the entitlements"
  handler              = "lambdas.consumer.handler.handler"
  runtime              = var.runtime
  zip_path             = var.consumer_zip_path
  memory_size          = var.consumer_memory_size
  timeout              = var.consumer_timeout
  reserved_concurrency = var.consumer_reserved_concurrency
  environment          = local.consumer_function_environment
  subnet_ids           = var.consumer_subnet_ids
  security_group_ids   = var.consumer_security_group_ids

  policy_name = "consumer"
  policy_statements = [
    {
      Sid      = "Dequeue"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      Resource = [aws_sqs_queue.this.arn]
    },
    {
      Sid      = "Secrets"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [local.database_secret_arn, local.google_play_secret_arn]
    },
  ]

  kms_key_arn        = var.kms_key_arn
  log_retention_days = var.log_retention_days
  tags               = var.tags
}

resource "aws_lambda_event_source_mapping" "consumer" {
  event_source_arn = aws_sqs_queue.this.arn
  function_name    = module.consumer.function_arn
  batch_size       = var.batch_size
  # Only the failed messages (and the rest of their group) go back to the queue.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.consumer_maximum_concurrency
  }
}

################################################################################
# HTTP API
################################################################################

resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = "Receives App Store Server Notifications V2 and Google Play RTDN pushes"
  protocol_type = "HTTP"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "receiver" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = module.receiver.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "this" {
  for_each = { apple = var.apple_route_key, google = var.google_route_key }

  #checkov:skip=CKV_AWS_309:Apple and Google cannot present AWS credentials; the receiver authenticates every request by its JWS signature chain or Pub/Sub OIDC token.
  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.receiver.id}"
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      responseLength = "$context.responseLength"
      latency        = "$context.responseLatency"
      error          = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = module.receiver.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}

################################################################################
# Alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${var.name}-dlq-not-empty"
  alarm_description   = "Notifications were dead-lettered; inspect and re-drive them with `ops notifications dlq`."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  alarm_name          = "${var.name}-oldest-message-age"
  alarm_description   = "The oldest queued notification is older than ${var.oldest_message_age_threshold_seconds}s: the consumer is failing or too slow."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.this.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = var.oldest_message_age_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

# The DLQ keeps a message 14 days and then SQS deletes it: an old dead letter is about to be lost.
resource "aws_cloudwatch_metric_alarm" "dlq_oldest_message_age" {
  alarm_name          = "${var.name}-dlq-oldest-message-age"
  alarm_description   = "A dead-lettered notification is older than ${floor(var.dlq_oldest_message_age_threshold_seconds / 86400)} days and SQS deletes it at 14: fix the cause and re-drive it now (`ops notifications dlq redrive`)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.dlq_oldest_message_age_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = {
    receiver = module.receiver.function_name
    consumer = module.consumer.function_name
  }

  alarm_name          = "${var.name}-${each.key}-errors"
  alarm_description   = "The ${each.key} Lambda is failing; check its log group."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
