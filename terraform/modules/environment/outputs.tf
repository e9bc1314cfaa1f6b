output "ops_environment" {
  description = "Environment of the ops CLI (export with `terraform output -json ops_environment`): every setting the CLI and its gates read from the infrastructure."
  value       = local.ops_environment
}

output "name_prefix" {
  description = "Prefix of every name in the environment."
  value       = local.name
}

output "vpc_id" {
  description = "ID of the migration VPC."
  value       = module.network.vpc_id
}

output "vpc_cidr_block" {
  description = "CIDR block of the migration VPC (migration_vpc_cidr of the production link)."
  value       = module.network.vpc_cidr_block
}

output "production_peering_connection_id" {
  description = "Peering connection to the production VPC; the production link accepts it (its peering_connection_id)."
  value       = module.network.production_peering_connection_id
}

output "v2_rds_instance_identifier" {
  description = "Identifier of the V2 RDS instance (OPS_V2_RDS_INSTANCE)."
  value       = module.rds_postgres.db_instance_identifier
}

output "v2_address" {
  description = "Host name of the V2 replica."
  value       = module.rds_postgres.db_instance_address
}

output "v2_master_secret_arn" {
  description = "RDS-managed secret with the V2 replica's master credentials (for creating the users, never for DMS)."
  value       = module.rds_postgres.master_user_secret_arn
}

output "v2_dms_writer_secret_arn" {
  description = "Secret of the DMS writer on the V2 replica (the DMS target endpoint reads it)."
  value       = aws_secretsmanager_secret.v2_user["dms_writer"].arn
}

output "v2_reader_secret_arn" {
  description = "Secret of the read-only V2 user of the backfill workers and the operator's CLI."
  value       = aws_secretsmanager_secret.v2_user["backfill_reader"].arn
}

output "dms_source_secret_arn" {
  description = "Secret of the replication user on production PostgreSQL (the DMS source endpoint reads it)."
  value       = local.dms_source_secret_arn
}

output "dms_replication_arn" {
  description = "ARN of the DMS task (replication type instance) or serverless replication config (OPS_DMS_TASK_ARN); null without create_dms_replication."
  value       = module.dms.replication_arn
}

output "dms_lob_settings" {
  description = "LOB handling of the DMS replication (mode, and the limit in KB for limited mode)."
  value       = module.dms.lob_settings
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

output "backfill_instance_ids" {
  description = "Backfill workers (connect with `aws ssm start-session --target <id>`)."
  value       = module.backfill_runner.instance_ids
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies; subscribe the on-call rotation to it."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Alarms the preflight requires to exist (OPS_REQUIRED_ALARMS)."
  value       = local.required_alarms
}

output "kms_key_arn" {
  description = "KMS key of the environment."
  value       = aws_kms_key.this.arn
}

output "rds_deletion_protection" {
  description = "Whether the V2 replica has deletion protection."
  value       = module.rds_postgres.deletion_protection
}

output "dynamodb_deletion_protection" {
  description = "Whether both DynamoDB tables have deletion protection."
  value       = module.dynamodb.deletion_protection_enabled
}

output "secret_recovery_windows" {
  description = "Recovery window in days of every secret the environment creates, by secret name."
  value = merge(
    { for s in concat(values(aws_secretsmanager_secret.v2_user), aws_secretsmanager_secret.dms_source, aws_secretsmanager_secret.reverse_writer) : s.name => s.recovery_window_in_days },
    module.notifications.secret_recovery_windows,
  )
}

output "receiver_environment_variable_names" {
  description = "Environment variable names set on the receiver Lambda."
  value       = module.notifications.receiver_environment_variable_names
}

output "consumer_environment_variable_names" {
  description = "Environment variable names set on the consumer Lambda."
  value       = module.notifications.consumer_environment_variable_names
}

output "reverse_database_secret_arn" {
  description = "Secret with the production PostgreSQL URL of the reverse writer (fill it in before stop-pg-writes)."
  value       = local.reverse_database_secret_arn
}

output "reverse_function_name" {
  description = "Name of the reverse replication Lambda (OPS_REVERSE_FUNCTION)."
  value       = module.reverse_replication.function_name
}
