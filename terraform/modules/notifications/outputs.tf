output "api_endpoint" {
  description = "Base URL of the HTTP API."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "route_keys" {
  description = "Route keys of the Apple and Google endpoints."
  value       = { for provider, route in aws_apigatewayv2_route.this : provider => route.route_key }
}

output "queue_name" {
  description = "Name of the FIFO queue (OPS_NOTIFICATIONS_QUEUE)."
  value       = aws_sqs_queue.this.name
}

output "queue_url" {
  description = "URL of the FIFO queue."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the FIFO queue."
  value       = aws_sqs_queue.this.arn
}

output "dlq_name" {
  description = "Name of the FIFO dead-letter queue (OPS_NOTIFICATIONS_DLQ)."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_url" {
  description = "URL of the FIFO dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the FIFO dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "receiver_function_name" {
  description = "Name of the receiver Lambda."
  value       = module.receiver.function_name
}

output "consumer_function_name" {
  description = "Name of the consumer Lambda."
  value       = module.consumer.function_name
}

output "database_secret_arn" {
  description = "ARN of the secret with the entitlement database URL (DATABASE_SECRET_ARN)."
  value       = local.database_secret_arn
}

output "google_play_credentials_secret_arn" {
  description = "ARN of the secret with the Google Play service-account JSON (GOOGLE_PLAY_CREDENTIALS_SECRET_ARN)."
  value       = local.google_play_secret_arn
}

output "receiver_environment_variable_names" {
  description = "Environment variable names set on the receiver."
  value       = sort(keys(module.receiver.function.environment[0].variables))
}

output "consumer_environment_variable_names" {
  description = "Environment variable names set on the consumer."
  value       = sort(keys(module.consumer.function.environment[0].variables))
}

output "reconcile_function_name" {
  description = "Name of the scheduled reconciler (null when disabled)."
  value       = var.enable_reconciliation ? module.reconcile[0].function_name : null
}

output "app_store_api_key_secret_arn" {
  description = "Secret holding the App Store Server API key JSON; its owner puts the value in."
  value       = local.app_store_key_secret_arn
}

output "purchase_route_keys" {
  description = "Route keys of the client purchase endpoints."
  value       = { for provider, route in aws_apigatewayv2_route.purchases : provider => route.route_key }
}

output "dlq_alarm_name" {
  description = "Name of the alarm on the first dead-lettered message."
  value       = aws_cloudwatch_metric_alarm.dlq_depth.alarm_name
}

output "alarm_names" {
  description = "Names of the pipeline's alarms (DLQ not empty, DLQ and queue message age, Lambda and reconciler errors)."
  value = concat(
    [aws_cloudwatch_metric_alarm.dlq_depth.alarm_name, aws_cloudwatch_metric_alarm.dlq_oldest_message_age.alarm_name, aws_cloudwatch_metric_alarm.oldest_message_age.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.lambda_errors : alarm.alarm_name],
    [for alarm in aws_cloudwatch_metric_alarm.reconcile_errors : alarm.alarm_name],
  )
}

output "consumer_vpc_config" {
  description = "Subnets and security groups of the consumer (empty when it runs outside a VPC)."
  value = {
    subnet_ids         = try(module.consumer.function.vpc_config[0].subnet_ids, toset([]))
    security_group_ids = try(module.consumer.function.vpc_config[0].security_group_ids, toset([]))
  }
}

output "secret_recovery_windows" {
  description = "Recovery window in days of the secrets this module creates, by secret name."
  value       = { for s in concat(aws_secretsmanager_secret.database, aws_secretsmanager_secret.google_play, aws_secretsmanager_secret.app_store_key) : s.name => s.recovery_window_in_days }
}
