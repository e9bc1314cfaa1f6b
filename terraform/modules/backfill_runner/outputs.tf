output "instance_ids" {
  description = "IDs of the workers, in worker-index order (connect with `aws ssm start-session --target <id>`)."
  value       = aws_instance.this[*].id
}

output "iam_role_arn" {
  description = "ARN of the workers' role."
  value       = aws_iam_role.this.arn
}

output "instance_profile_name" {
  description = "Name of the workers' instance profile."
  value       = aws_iam_instance_profile.this.name
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard of the backfill."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_arns" {
  description = "ARNs of the backfill alarms."
  value       = [aws_cloudwatch_metric_alarm.rows_failed.arn, aws_cloudwatch_metric_alarm.throttle.arn]
}

output "ops_environment" {
  description = "Settings written to the workers' env file (V2_DATABASE_URL is added on the worker from the secret)."
  value       = var.ops_environment
}

output "readable_secret_arns" {
  description = "Secrets the workers' role may read."
  value       = concat([var.v2_database_secret_arn], var.secret_arns)
}
