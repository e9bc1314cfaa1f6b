output "db_instance_identifier" {
  description = "Identifier of the instance."
  value       = aws_db_instance.this.identifier
}

output "db_instance_arn" {
  description = "ARN of the instance."
  value       = aws_db_instance.this.arn
}

output "db_instance_address" {
  description = "Host name of the instance."
  value       = aws_db_instance.this.address
}

output "db_instance_port" {
  description = "Port of the instance."
  value       = aws_db_instance.this.port
}

output "db_name" {
  description = "Name of the database on the instance."
  value       = aws_db_instance.this.db_name
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS keeps the master credentials in."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "parameter_group_name" {
  description = "Name of the parameter group."
  value       = aws_db_parameter_group.this.name
}

output "final_snapshot_identifier" {
  description = "Identifier of the snapshot taken when the instance is deleted."
  value       = aws_db_instance.this.final_snapshot_identifier
}

output "deletion_protection" {
  description = "Whether deletion protection is on."
  value       = aws_db_instance.this.deletion_protection
}

output "storage_encrypted" {
  description = "Whether the storage is encrypted."
  value       = aws_db_instance.this.storage_encrypted
}

output "log_group_names" {
  description = "Log groups of the exported PostgreSQL and upgrade logs, by export."
  value       = { for export, group in aws_cloudwatch_log_group.this : export => group.name }
}

output "alarm_names" {
  description = "Names of the CPU and free-storage alarms."
  value       = [for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name]
}
