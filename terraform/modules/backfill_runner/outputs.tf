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
