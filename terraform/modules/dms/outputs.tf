output "replication_task_arn" {
  description = "ARN of the replication task (replication_type = instance); the ops CLI's DMS driver starts and watches it."
  value       = try(aws_dms_replication_task.this[0].replication_task_arn, null)
}

output "replication_config_arn" {
  description = "ARN of the serverless replication config (replication_type = serverless)."
  value       = try(aws_dms_replication_config.this[0].arn, null)
}

output "replication_arn" {
  description = "ARN of whichever replication exists: the task or the serverless config (null when create_replication is false)."
  value       = local.replication
}

output "replication_instance_arn" {
  description = "ARN of the replication instance (replication_type = instance)."
  value       = try(aws_dms_replication_instance.this[0].replication_instance_arn, null)
}

output "source_endpoint_arn" {
  description = "ARN of the source endpoint."
  value       = aws_dms_endpoint.source.endpoint_arn
}

output "target_endpoint_arn" {
  description = "ARN of the target endpoint."
  value       = aws_dms_endpoint.target.endpoint_arn
}

output "replication_subnet_group_id" {
  description = "ID of the replication subnet group."
  value       = aws_dms_replication_subnet_group.this.id
}

output "task_failure_rule_name" {
  description = "Name of the EventBridge rule that reports replication failures."
  value       = try(aws_cloudwatch_event_rule.task_failure[0].name, null)
}

output "log_group_name" {
  description = "Log group DMS writes the replication's logs to."
  value       = aws_cloudwatch_log_group.this.name
}

output "cdc_latency_alarm_names" {
  description = "Names of the CDC latency alarms (instance replication)."
  value       = [for alarm in aws_cloudwatch_metric_alarm.cdc_latency : alarm.alarm_name]
}

output "lob_settings" {
  description = "LOB handling of the replication: mode (full or limited) and, for limited, the largest value in KB copied whole."
  value       = { mode = var.lob_mode, max_size_kb = var.lob_max_size_kb }
}

output "ssl_modes" {
  description = "TLS mode of the source and target endpoints."
  value       = { source = aws_dms_endpoint.source.ssl_mode, target = aws_dms_endpoint.target.ssl_mode }
}

output "source_endpoint_secret_arn" {
  description = "Secret the source endpoint reads its credentials from."
  value       = aws_dms_endpoint.source.secrets_manager_arn
}

output "target_endpoint_secret_arn" {
  description = "Secret the target endpoint reads its credentials from."
  value       = aws_dms_endpoint.target.secrets_manager_arn
}
