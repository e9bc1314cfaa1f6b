output "table_name" {
  description = "Name of the target table (OPS_TARGET_TABLE)."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the target table."
  value       = aws_dynamodb_table.this.arn
}

output "table_stream_arn" {
  description = "ARN of the target table's stream, when enabled."
  value       = var.enable_stream ? aws_dynamodb_table.this.stream_arn : null
}

output "control_table_name" {
  description = "Name of the control table (OPS_CONTROL_TABLE)."
  value       = try(aws_dynamodb_table.control[0].name, null)
}

output "control_table_arn" {
  description = "ARN of the control table."
  value       = try(aws_dynamodb_table.control[0].arn, null)
}

output "ttl_attribute_name" {
  description = "TTL attribute of both tables."
  value       = var.ttl_attribute_name
}

output "deletion_protection_enabled" {
  description = "Whether deletion protection is on for the target and the control table."
  value       = aws_dynamodb_table.this.deletion_protection_enabled && alltrue(aws_dynamodb_table.control[*].deletion_protection_enabled)
}

output "point_in_time_recovery_enabled" {
  description = "Whether point-in-time recovery is on for the target table."
  value       = aws_dynamodb_table.this.point_in_time_recovery[0].enabled
}
