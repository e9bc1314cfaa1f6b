################################################################################
# What the ops CLI and its gates read from the infrastructure, as environment variables
# (`terraform output -json ops_environment`). The names are the ones ops/settings.py,
# ops/migrate/config.py and the CLI's options read; tests/terraform checks this list against the
# Python code, both ways.
################################################################################

locals {
  # Alarms the preflight requires to exist before the cutover starts.
  required_alarms = concat(
    [for alarm in aws_cloudwatch_metric_alarm.outbox_oldest_age : alarm.alarm_name],
    module.dms.cdc_latency_alarm_names,
    module.rds_postgres.alarm_names,
    [module.notifications.dlq_alarm_name],
    module.reverse_replication.alarm_names,
  )

  # Settings the backfill workers need; all are names, known at plan time and stable, so a new
  # alarm or a DMS change never replaces a worker in the middle of the backfill.
  backfill_environment = {
    AWS_DEFAULT_REGION    = local.region
    AWS_REGION            = local.region
    OPS_CONTROL_TABLE     = local.control_table_name
    OPS_TARGET_TABLE      = local.target_table_name
    OPS_DATASET           = var.dataset
    OPS_FLAG_PREFIX       = local.flag_prefix
    OPS_METRICS_NAMESPACE = var.metrics_namespace
  }

  ops_environment = merge(local.backfill_environment, {
    OPS_CONTROL_TABLE        = module.dynamodb.control_table_name
    OPS_TARGET_TABLE         = module.dynamodb.table_name
    OPS_FLAG_PREFIX          = module.migration_flag.prefix
    OPS_NOTIFICATIONS_QUEUE  = module.notifications.queue_name
    OPS_NOTIFICATIONS_DLQ    = module.notifications.dlq_name
    OPS_REPLICA_DRIVER       = "dms"
    OPS_V2_RDS_INSTANCE      = module.rds_postgres.db_instance_identifier
    OPS_ALARM_PREFIXES       = "${local.name}-"
    OPS_ERROR_ALARM_PREFIXES = "${local.name}-"
    OPS_REQUIRED_ALARMS      = join(",", local.required_alarms)
    # The dual-write gate and the outbox alarm judge the outbox by the same age.
    OPS_OUTBOX_MAX_AGE_SECONDS = tostring(var.outbox_max_age_seconds)
    OPS_REPLICATION_USER       = var.source_database.username
    OPS_REVERSE_DRIVER         = "lambda"
    OPS_REVERSE_FUNCTION       = module.reverse_replication.function_name
    OPS_REVERSE_MAPPING_UUID   = module.reverse_replication.mapping_uuid
    NOTIFICATIONS_RECEIVER_URL = module.notifications.api_endpoint
    APPLE_BUNDLE_ID            = var.apple_bundle_id
    APPLE_ENVIRONMENT          = var.apple_environment
    },
    # Left out rather than empty when there is none (no create_dms_replication; a source not on RDS).
    var.create_dms_replication ? { OPS_DMS_TASK_ARN = module.dms.replication_arn } : {},
    var.source_database.instance_identifier == null ? {} : { OPS_SOURCE_RDS_INSTANCE = var.source_database.instance_identifier },
  )
}
