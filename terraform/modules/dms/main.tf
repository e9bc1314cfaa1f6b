data "aws_region" "current" {}

locals {
  serverless   = var.replication_type == "serverless"
  create_task  = var.create_replication && !local.serverless
  create_conf  = var.create_replication && local.serverless
  full_lob     = var.lob_mode == "full"
  replication  = local.create_conf ? try(aws_dms_replication_config.this[0].arn, null) : try(aws_dms_replication_task.this[0].replication_task_arn, null)
  account_role = var.create_account_roles ? 1 : 0

  table_mappings = jsonencode({
    rules = [for i, t in var.tables : {
      "rule-type"      = "selection"
      "rule-id"        = tostring(i + 1)
      "rule-name"      = "include-${i + 1}"
      "object-locator" = { "schema-name" = t.schema_name, "table-name" = t.table_name }
      "rule-action"    = "include"
    }]
  })

  task_settings = jsonencode({
    # Limited LOB mode cuts every text, bytea, jsonb or array value above LobMaxSize without an
    # error; full LOB mode copies every value whole (in LobChunkSize pieces).
    TargetMetadata = {
      SupportLobs        = true
      FullLobMode        = local.full_lob
      LimitedSizeLobMode = !local.full_lob
      LobMaxSize         = local.full_lob ? 0 : var.lob_max_size_kb
      LobChunkSize       = var.lob_chunk_size_kb
    }
    FullLoadSettings = {
      TargetTablePrepMode             = var.target_table_prep_mode
      MaxFullLoadSubTasks             = 8
      CommitRate                      = 50000
      CreatePkAfterFullLoad           = false
      StopTaskCachedChangesApplied    = false
      StopTaskCachedChangesNotApplied = false
    }
    Logging = {
      EnableLogging = true
    }
    # A value DMS would have to cut (a target column narrower than the source) stops the task
    # instead of landing in a log line. LOB truncation in limited mode is not covered by this:
    # only lob_mode and the preflight's measured maximum prevent it.
    ErrorBehavior = {
      DataTruncationErrorPolicy = "STOP_TASK"
    }
    ValidationSettings = {
      EnableValidation                 = true
      ValidationMode                   = "ROW_LEVEL"
      ThreadCount                      = 5
      FailureMaxCount                  = 10000
      HandleCollationDiff              = false
      RecordFailureDelayLimitInMinutes = 0
    }
    ChangeProcessingTuning = {
      BatchApplyEnabled = false
      CommitTimeout     = 1
    }
  })

  dms_service = "dms.${data.aws_region.current.name}.amazonaws.com"
}

################################################################################
# IAM: the account-wide roles DMS looks up by name, and the secrets access role
################################################################################

# DMS looks these two up by their exact names, so they cannot carry the environment: in an account
# that already has them (or where another environment created them) set create_account_roles = false.
resource "aws_iam_role" "dms_vpc" {
  count = local.account_role

  name = "dms-vpc-role"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "dms.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "dms_vpc" {
  count = local.account_role

  role       = aws_iam_role.dms_vpc[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"
}

resource "aws_iam_role" "dms_cloudwatch_logs" {
  count = local.account_role

  name = "dms-cloudwatch-logs-role"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "dms.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "dms_cloudwatch_logs" {
  count = local.account_role

  role       = aws_iam_role.dms_cloudwatch_logs[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole"
}

resource "aws_iam_role" "secrets_access" {
  name = "${var.name}-dms-secrets"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = local.dms_service }, Action = "sts:AssumeRole" }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "secrets_access" {
  name = "read-endpoint-secrets"
  role = aws_iam_role.secrets_access.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "ReadEndpointSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = [var.source_endpoint.secrets_manager_arn, var.target_endpoint.secrets_manager_arn]
      }],
      var.kms_key_arn == null ? [] : [{
        Sid      = "DecryptEndpointSecrets"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
      }],
    )
  })
}

################################################################################
# Network and endpoints
################################################################################

resource "aws_dms_replication_subnet_group" "this" {
  replication_subnet_group_id          = var.name
  replication_subnet_group_description = "Private subnets of the migration VPC"
  subnet_ids                           = var.subnet_ids

  tags = var.tags

  # DMS validates the subnet group with dms-vpc-role, so the role must exist first.
  depends_on = [aws_iam_role_policy_attachment.dms_vpc]
}

resource "aws_dms_endpoint" "source" {
  endpoint_id                     = "${var.name}-source"
  endpoint_type                   = "source"
  engine_name                     = "postgres"
  database_name                   = var.source_endpoint.database_name
  secrets_manager_arn             = var.source_endpoint.secrets_manager_arn
  secrets_manager_access_role_arn = aws_iam_role.secrets_access.arn
  ssl_mode                        = var.ssl_mode
  certificate_arn                 = var.certificate_arn
  kms_key_arn                     = var.kms_key_arn

  postgres_settings {
    heartbeat_enable    = true
    heartbeat_frequency = 5
    capture_ddls        = false
  }

  tags = var.tags
}

resource "aws_dms_endpoint" "target" {
  endpoint_id                     = "${var.name}-target"
  endpoint_type                   = "target"
  engine_name                     = "postgres"
  database_name                   = var.target_endpoint.database_name
  secrets_manager_arn             = var.target_endpoint.secrets_manager_arn
  secrets_manager_access_role_arn = aws_iam_role.secrets_access.arn
  ssl_mode                        = var.ssl_mode
  certificate_arn                 = var.certificate_arn
  kms_key_arn                     = var.kms_key_arn

  # Triggers and foreign keys on the replica must not fire for replicated rows.
  postgres_settings {
    after_connect_script = "SET session_replication_role = replica"
  }

  tags = var.tags
}

################################################################################
# Replication: a provisioned instance + task, or a serverless replication config
################################################################################

resource "aws_dms_replication_instance" "this" {
  count = local.create_task ? 1 : 0

  replication_instance_id     = var.name
  replication_instance_class  = var.replication_instance_class
  allocated_storage           = var.allocated_storage
  engine_version              = var.engine_version
  multi_az                    = var.multi_az
  publicly_accessible         = false
  auto_minor_version_upgrade  = true
  kms_key_arn                 = var.kms_key_arn
  replication_subnet_group_id = aws_dms_replication_subnet_group.this.id
  vpc_security_group_ids      = var.security_group_ids

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.dms_vpc, aws_iam_role_policy_attachment.dms_cloudwatch_logs, aws_cloudwatch_log_group.this]
}

resource "aws_dms_replication_task" "this" {
  count = local.create_task ? 1 : 0

  replication_task_id       = var.name
  resource_identifier       = var.name
  migration_type            = var.migration_type
  replication_instance_arn  = aws_dms_replication_instance.this[0].replication_instance_arn
  source_endpoint_arn       = aws_dms_endpoint.source.endpoint_arn
  target_endpoint_arn       = aws_dms_endpoint.target.endpoint_arn
  table_mappings            = local.table_mappings
  replication_task_settings = local.task_settings
  # Started by the ops CLI (`ops replica start`).
  start_replication_task = false

  tags = var.tags
}

resource "aws_dms_replication_config" "this" {
  count = local.create_conf ? 1 : 0

  replication_config_identifier = var.name
  resource_identifier           = var.name
  replication_type              = var.migration_type
  source_endpoint_arn           = aws_dms_endpoint.source.endpoint_arn
  target_endpoint_arn           = aws_dms_endpoint.target.endpoint_arn
  table_mappings                = local.table_mappings
  replication_settings          = local.task_settings
  start_replication             = false

  compute_config {
    replication_subnet_group_id = aws_dms_replication_subnet_group.this.id
    vpc_security_group_ids      = var.security_group_ids
    min_capacity_units          = var.serverless_min_capacity_units
    max_capacity_units          = var.serverless_max_capacity_units
    multi_az                    = var.multi_az
    kms_key_id                  = var.kms_key_arn
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy_attachment.dms_vpc, aws_iam_role_policy_attachment.dms_cloudwatch_logs, aws_cloudwatch_log_group.this]
}

################################################################################
# Logs, alarms on CDC latency and task failure
################################################################################

# DMS creates its log group on the first run without retention; owning it first sets it.
resource "aws_cloudwatch_log_group" "this" {
  name              = local.serverless ? "dms-serverless-replication-${var.name}" : "dms-tasks-${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# Missing data means no CDC is running yet (before `ops migrate replicate`) or the task stopped,
# which the task-failure rule reports; neither is latency.
resource "aws_cloudwatch_metric_alarm" "cdc_latency" {
  for_each = local.create_task ? toset(["CDCLatencySource", "CDCLatencyTarget"]) : toset([])

  alarm_name          = "${var.name}-${each.value}"
  alarm_description   = "DMS ${each.value} above ${var.cdc_latency_threshold_seconds}s: replication is falling behind production."
  namespace           = "AWS/DMS"
  metric_name         = each.value
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 10
  datapoints_to_alarm = 5
  threshold           = var.cdc_latency_threshold_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  dimensions = {
    ReplicationInstanceIdentifier = aws_dms_replication_instance.this[0].replication_instance_id
    ReplicationTaskIdentifier     = aws_dms_replication_task.this[0].resource_identifier
  }

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "task_failure" {
  count = var.create_replication ? 1 : 0

  name        = "${var.name}-replication-failed"
  description = "The DMS replication of ${var.name} failed or stopped with an error."
  event_pattern = jsonencode({
    source        = ["aws.dms"]
    "detail-type" = ["DMS Replication Task State Change", "DMS Replication State Change"]
    resources     = [local.replication]
    detail = {
      eventType = ["REPLICATION_TASK_FAILED", "REPLICATION_FAILED"]
    }
  })

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "task_failure" {
  # count, not for_each: topic ARNs are often unknown until the topic is created.
  count = var.create_replication ? length(var.alarm_actions) : 0

  rule = aws_cloudwatch_event_rule.task_failure[0].name
  arn  = var.alarm_actions[count.index]
}
