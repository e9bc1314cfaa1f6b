output "ops_environment" {
  description = "Environment for the ops CLI: every OPS_* name of ops/settings.py plus the DMS task (export with `terraform output -json ops_environment`)."
  value = merge(local.ops_environment, {
    OPS_CONTROL_TABLE       = module.dynamodb.control_table_name
    OPS_TARGET_TABLE        = module.dynamodb.table_name
    OPS_FLAG_PREFIX         = module.migration_flag.prefix
    OPS_NOTIFICATIONS_QUEUE = module.notifications.queue_name
    OPS_NOTIFICATIONS_DLQ   = module.notifications.dlq_name
    OPS_DMS_TASK_ARN        = module.dms.replication_arn
  })
}

output "control_table_name" {
  description = "Control table (checkpoints, failure log, ledger, leases)."
  value       = module.dynamodb.control_table_name
}

output "target_table_name" {
  description = "Target table of the migration."
  value       = module.dynamodb.table_name
}

output "flag_parameter_names" {
  description = "Migration mode parameter of each dataset."
  value       = module.migration_flag.parameter_names
}

output "flag_read_policy_arn" {
  description = "IAM policy to attach to the application's role so it can read the mode."
  value       = module.migration_flag.read_policy_arn
}

output "notifications_queue_name" {
  description = "FIFO queue of the notification pipeline."
  value       = module.notifications.queue_name
}

output "notifications_queue_url" {
  description = "URL of the FIFO queue."
  value       = module.notifications.queue_url
}

output "notifications_dlq_name" {
  description = "FIFO dead-letter queue."
  value       = module.notifications.dlq_name
}

output "notifications_dlq_url" {
  description = "URL of the FIFO dead-letter queue."
  value       = module.notifications.dlq_url
}

output "notifications_api_endpoint" {
  description = "Base URL of the notification HTTP API (give <url>/notifications/apple to App Store Connect, <url>/notifications/google to the Pub/Sub push subscription)."
  value       = module.notifications.api_endpoint
}

output "entitlement_database_secret_arn" {
  description = "Secret with the entitlement database URL read by the consumer."
  value       = module.notifications.database_secret_arn
}

output "google_play_credentials_secret_arn" {
  description = "Secret with the Google Play service-account JSON read by the consumer."
  value       = module.notifications.google_play_credentials_secret_arn
}

output "v2_master_secret_arn" {
  description = "RDS-managed secret with the V2 replica's master credentials."
  value       = module.rds_postgres.master_user_secret_arn
}

output "v2_address" {
  description = "Host name of the V2 replica."
  value       = module.rds_postgres.db_instance_address
}

output "dms_target_secret_arn" {
  description = "DMS-format secret of the V2 replica to fill from the master secret."
  value       = aws_secretsmanager_secret.dms_target.arn
}

output "dms_replication_arn" {
  description = "ARN of the DMS task (or serverless replication config) the ops CLI drives."
  value       = module.dms.replication_arn
}

output "backfill_instance_ids" {
  description = "Backfill workers (connect with `aws ssm start-session --target <id>`)."
  value       = module.backfill_runner.instance_ids
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies; subscribe the on-call rotation to it."
  value       = aws_sns_topic.alarms.arn
}

output "kms_key_arn" {
  description = "KMS key of the environment."
  value       = aws_kms_key.this.arn
}
