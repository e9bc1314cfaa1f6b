locals {
  # The major version decides the parameter family; the minor version is RDS's to move
  # (auto_minor_version_upgrade), so a plan never tries to take it back down.
  major_version = split(".", var.engine_version)[0]
  family        = "postgres${local.major_version}"

  default_parameters = [
    { name = "log_min_duration_statement", value = "1000", apply_method = "immediate" },
    { name = "log_connections", value = "1", apply_method = "immediate" },
  ]
  parameters = { for p in concat(local.default_parameters, var.parameters) : p.name => p if p.name != "rds.force_ssl" }

  log_exports = ["postgresql", "upgrade"]
}

resource "aws_db_subnet_group" "this" {
  name        = var.identifier
  description = "Private subnets of the V2 PostgreSQL replica"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

# name_prefix: a changed family creates the new group before the old one goes, without a clash.
resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.identifier}-"
  family      = local.family
  description = "V2 PostgreSQL replica parameters"

  # Connections without TLS are refused: DMS and the runner both connect with sslmode=require.
  parameter {
    name         = "rds.force_ssl"
    value        = "1"
    apply_method = "pending-reboot"
  }

  dynamic "parameter" {
    for_each = local.parameters
    content {
      name         = parameter.value.name
      value        = parameter.value.value
      apply_method = parameter.value.apply_method
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# RDS creates its export log groups without retention; owning them first sets it.
resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(local.log_exports)

  name              = "/aws/rds/instance/${var.identifier}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_iam_role" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  name = "${var.identifier}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  count = var.monitoring_interval > 0 ? 1 : 0

  role       = aws_iam_role.monitoring[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# Stamped once when the instance is created (and again when it is replaced), so every instance
# of this identifier leaves its own final snapshot: a second destroy never hits "already exists".
resource "terraform_data" "final_snapshot_suffix" {
  input            = formatdate("YYYYMMDDhhmmss", plantimestamp())
  triggers_replace = [var.identifier]

  lifecycle {
    ignore_changes = [input]
  }
}

resource "aws_db_instance" "this" {
  identifier     = var.identifier
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = var.storage_type
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_name                       = var.db_name
  username                      = var.master_username
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = var.vpc_security_group_ids
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  multi_az               = var.multi_az

  iam_database_authentication_enabled = true
  allow_major_version_upgrade         = false
  auto_minor_version_upgrade          = var.auto_minor_version_upgrade
  copy_tags_to_snapshot               = true
  backup_retention_period             = var.backup_retention_period
  deletion_protection                 = var.deletion_protection
  skip_final_snapshot                 = var.skip_final_snapshot
  final_snapshot_identifier           = var.skip_final_snapshot ? null : "${var.identifier}-final-${terraform_data.final_snapshot_suffix.output}"
  enabled_cloudwatch_logs_exports     = local.log_exports

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = var.performance_insights_retention_period

  monitoring_interval = var.monitoring_interval
  monitoring_role_arn = var.monitoring_interval > 0 ? aws_iam_role.monitoring[0].arn : null

  tags = merge(var.tags, { Name = var.identifier })

  depends_on = [aws_cloudwatch_log_group.this]
}

################################################################################
# Alarms: CPU, free storage, and the replica's own replication slots
################################################################################

locals {
  alarms = {
    cpu = {
      metric      = "CPUUtilization"
      statistic   = "Average"
      threshold   = var.cpu_alarm_threshold_percent
      operator    = "GreaterThanThreshold"
      description = "V2 replica CPU above ${var.cpu_alarm_threshold_percent}% for 15 minutes: DMS apply or the backfill's reads are saturating it; lower the backfill rate (`ops backfill set-rate`) or scale the instance class."
    }
    free-storage = {
      metric      = "FreeStorageSpace"
      statistic   = "Minimum"
      threshold   = var.free_storage_alarm_threshold_bytes
      operator    = "LessThanThreshold"
      description = "V2 replica free storage below ${floor(var.free_storage_alarm_threshold_bytes / 1073741824)} GiB: raise max_allocated_storage before DMS stops applying changes."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = var.create_alarms ? local.alarms : {}

  alarm_name          = "${var.identifier}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = { DBInstanceIdentifier = aws_db_instance.this.identifier }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 3
  threshold           = each.value.threshold
  comparison_operator = each.value.operator
  treat_missing_data  = "missing"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
