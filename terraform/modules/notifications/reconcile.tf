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
  role = module.consumer.role_name
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

module "reconcile" {
  source = "../lambda_function"
  count  = var.enable_reconciliation ? 1 : 0

  name        = "${var.name}-reconcile"
  description = "Asks the App Store and Google Play for the truth about due subscriptions and repairs entitlements"
  handler     = "lambdas.consumer.reconcile_handler.handler"
  runtime     = var.runtime
  zip_path    = var.consumer_zip_path
  memory_size = var.consumer_memory_size
  timeout     = var.reconcile_timeout
  # No reserved concurrency: one run an hour is the schedule's doing, and a reservation would also
  # block a manual run during an incident.
  environment        = local.consumer_function_environment
  subnet_ids         = var.consumer_subnet_ids
  security_group_ids = var.consumer_security_group_ids

  policy_name = "reconcile"
  policy_statements = [
    {
      Sid      = "Secrets"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [local.database_secret_arn, local.google_play_secret_arn, local.app_store_key_secret_arn]
    },
  ]

  kms_key_arn        = var.kms_key_arn
  log_retention_days = var.log_retention_days
  tags               = var.tags
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
  arn   = module.reconcile[0].function_arn
  input = jsonencode(local.reconcile_schedules[each.key].input)
}

resource "aws_lambda_permission" "reconcile" {
  for_each = aws_cloudwatch_event_rule.reconcile

  statement_id  = "AllowSchedule-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = module.reconcile[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}

resource "aws_cloudwatch_metric_alarm" "reconcile_errors" {
  count = var.enable_reconciliation ? 1 : 0

  alarm_name          = "${var.name}-reconcile-errors"
  alarm_description   = "The reconciler failed or could not reach a store; see runbooks/notifications.md (reconciliation)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = module.reconcile[0].function_name }
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
