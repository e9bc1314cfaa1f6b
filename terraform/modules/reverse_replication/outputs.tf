output "function_name" {
  description = "Name of the reverse function"
  value       = module.function.function_name
}

output "mapping_uuid" {
  description = "UUID of the stream's event source mapping (OPS_REVERSE_MAPPING_UUID for ops replica reverse start|stop)"
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "failures_queue_url" {
  description = "URL of the on-failure queue (records that kept failing)"
  value       = aws_sqs_queue.failures.url
}

output "alarm_names" {
  description = "Names of the module's alarms"
  value = [
    aws_cloudwatch_metric_alarm.iterator_age.alarm_name,
    aws_cloudwatch_metric_alarm.errors.alarm_name,
    aws_cloudwatch_metric_alarm.failures.alarm_name,
    aws_cloudwatch_metric_alarm.lag.alarm_name,
  ]
}

output "function_vpc_config" {
  description = "VPC placement of the reverse function (subnets and security groups; empty outside a VPC)"
  value       = module.function.function.vpc_config
}
