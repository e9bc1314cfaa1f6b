################################################################################
# Reconciliation: the scheduled reconciler asks Apple and Google for the truth
# (lambdas/consumer/reconcile_handler.py, in the consumer's package), and the
# App Store Server API key it and the consumer use.
################################################################################

locals {
  create_app_store_key_secret = var.app_store_api_key_secret_arn == null
  app_store_key_secret_arn    = local.create_app_store_key_secret ? aws_secretsmanager_secret.app_store_key[0].arn : var.app_store_api_key_secret_arn

  # The consumer and the reconciler read the same configuration (lambdas/consumer/config.py).
  consumer_function_environment = merge(
    local.consumer_environment,
    { for k, v in local.consumer_optional_environment : k => v if v != null },
  )

  reconcile_schedules = {
    due   = { expression = var.reconcile_schedule_expression, input = {} }
    sweep = { expression = var.reconcile_sweep_schedule_expression, input = { every = true } }
  }
}

resource "aws_secretsmanager_secret" "app_store_key" {
  count = local.create_app_store_key_secret ? 1 : 0

  #checkov:skip=CKV2_AWS_57:An App Store Connect key is revoked and reissued in App Store Connect, which Secrets Manager rotation cannot do.
  name                    = "${var.name}/app-store-api-key"
  description             = "App Store Connect in-app purchase key as JSON {key_id, issuer_id, private_key}, for the App Store Server API"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

# The consumer answers CONSUMPTION_REQUEST with the same key (read on first use, never at cold start).
resource "aws_iam_role_policy" "consumer_app_store" {
  name = "app-store-api-key"
  role = aws_iam_role.consumer.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "AppStoreKey"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [local.app_store_key_secret_arn]
    }]
  })
}

resource "aws_iam_role" "reconcile" {
  count = var.enable_reconciliation ? 1 : 0

  name = "${var.name}-reconcile"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "reconcile" {
  count = var.enable_reconciliation ? 1 : 0

  name = "reconcile"
  role = aws_iam_role.reconcile[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "Secrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = [local.database_secret_arn, local.google_play_secret_arn, local.app_store_key_secret_arn]
        },
        {
          Sid      = "Logs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = ["${aws_cloudwatch_log_group.reconcile[0].arn}:*"]
        },
        { Sid = "Tracing", Effect = "Allow", Action = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource = ["*"] },
      ],
      local.kms_statements,
    )
  })
}

resource "aws_iam_role_policy_attachment" "reconcile_vpc" {
  count = var.enable_reconciliation && local.consumer_in_vpc ? 1 : 0

  role       = aws_iam_role.reconcile[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_cloudwatch_log_group" "reconcile" {
  count = var.enable_reconciliation ? 1 : 0

  name              = "/aws/lambda/${var.name}-reconcile"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "reconcile" {
  count = var.enable_reconciliation ? 1 : 0

  #checkov:skip=CKV_AWS_116:Invoked by a schedule every hour; a failed run is simply the next hour's work, and the errors alarm pages.
  #checkov:skip=CKV_AWS_117:VPC placement is input-driven (consumer_subnet_ids), as for the consumer: it reads the same database.
  #checkov:skip=CKV_AWS_272:Packages are built and deployed by this repository's own pipeline (make package + terraform); AWS Signer is not part of it.
  #checkov:skip=CKV_AWS_115:At most one run at a time is the schedule's doing; reserved concurrency 1 would also block a manual run during an incident.
  function_name    = "${var.name}-reconcile"
  description      = "Asks the App Store and Google Play for the truth about due subscriptions and repairs entitlements"
  role             = aws_iam_role.reconcile[0].arn
  handler          = "lambdas.consumer.reconcile_handler.handler"
  runtime          = var.runtime
  architectures    = ["arm64"]
  filename         = var.consumer_zip_path
  source_code_hash = filebase64sha256(var.consumer_zip_path)
  memory_size      = var.consumer_memory_size
  timeout          = var.reconcile_timeout
  kms_key_arn      = var.kms_key_arn

  environment {
    variables = local.consumer_function_environment
  }

  dynamic "vpc_config" {
    for_each = local.consumer_in_vpc ? [1] : []
    content {
      subnet_ids         = var.consumer_subnet_ids
      security_group_ids = var.consumer_security_group_ids
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.reconcile[0].name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.reconcile, aws_iam_role_policy_attachment.reconcile_vpc]
}

# Hourly: due subscriptions, Apple's notification history of the last two hours, Google's voided
# purchases of the last two days. Weekly: every subscription.
resource "aws_cloudwatch_event_rule" "reconcile" {
  for_each = var.enable_reconciliation ? local.reconcile_schedules : {}

  name                = "${var.name}-reconcile-${each.key}"
  description         = "Runs the notification reconciler (${each.key})"
  schedule_expression = each.value.expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "reconcile" {
  for_each = aws_cloudwatch_event_rule.reconcile

  rule  = each.value.name
  arn   = aws_lambda_function.reconcile[0].arn
  input = jsonencode(local.reconcile_schedules[each.key].input)
}

resource "aws_lambda_permission" "reconcile" {
  for_each = aws_cloudwatch_event_rule.reconcile

  statement_id  = "AllowSchedule-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.reconcile[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}

resource "aws_cloudwatch_metric_alarm" "reconcile_errors" {
  count = var.enable_reconciliation ? 1 : 0

  alarm_name          = "${var.name}-reconcile-errors"
  alarm_description   = "The reconciler failed or could not reach a store; see runbooks/notifications.md (reconciliation)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.reconcile[0].function_name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
