data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_db_instance" "source" {
  db_instance_identifier = var.source_db_instance_identifier
}

data "aws_db_subnet_group" "source" {
  name = data.aws_db_instance.source.db_subnet_group
}

locals {
  accept_peering = var.peering_connection_id != null
  # The source's first security group, unless the production team names the one to extend.
  source_security_group_id = coalesce(var.source_security_group_id, try(data.aws_db_instance.source.vpc_security_groups[0], null))

  replication_parameters = concat(
    [
      # Logical decoding for DMS's change capture; static, so the source needs a reboot.
      { name = "rds.logical_replication", value = "1", apply_method = "pending-reboot" },
      { name = "max_replication_slots", value = tostring(var.max_replication_slots), apply_method = "pending-reboot" },
      { name = "max_wal_senders", value = tostring(var.max_wal_senders), apply_method = "pending-reboot" },
    ],
    var.max_slot_wal_keep_size_mb == null ? [] : [
      { name = "max_slot_wal_keep_size", value = tostring(var.max_slot_wal_keep_size_mb), apply_method = "immediate" },
    ],
  )
  parameters = { for p in concat(var.parameters, local.replication_parameters) : p.name => p }
}

################################################################################
# Source database parameters (the production instance is switched to this group by its owners)
################################################################################

resource "aws_db_parameter_group" "this" {
  count = var.create_parameter_group ? 1 : 0

  name_prefix = "${var.name}-"
  family      = var.parameter_group_family
  description = "Production PostgreSQL with logical replication for the DMS migration"

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

################################################################################
# Network: DMS (and the notification consumer) into the source, and the route back
################################################################################

resource "aws_vpc_security_group_ingress_rule" "migration" {
  security_group_id = local.source_security_group_id
  description       = "PostgreSQL from the ${var.name} migration VPC (DMS, notification consumer)"
  ip_protocol       = "tcp"
  from_port         = data.aws_db_instance.source.port
  to_port           = data.aws_db_instance.source.port
  cidr_ipv4         = var.migration_vpc_cidr

  tags = merge(var.tags, { Name = "${var.name}-migration" })
}

resource "aws_vpc_peering_connection_accepter" "this" {
  count = local.accept_peering ? 1 : 0

  vpc_peering_connection_id = var.peering_connection_id
  auto_accept               = true

  # When both VPCs are in one account this is the very peering connection the migration
  # environment requested and tags; its tags stay the requester's, or the two roots would keep
  # rewriting each other's Name.
  lifecycle {
    ignore_changes = [tags, tags_all]
  }
}

resource "aws_route" "migration" {
  for_each = local.accept_peering ? toset(var.route_table_ids) : toset([])

  route_table_id            = each.value
  destination_cidr_block    = var.migration_vpc_cidr
  vpc_peering_connection_id = aws_vpc_peering_connection_accepter.this[0].id
}

################################################################################
# Alarms on the source: what a replication slot that is not consumed does to its disk
################################################################################

locals {
  alarms = {
    replication-slot-lag = {
      metric      = "OldestReplicationSlotLag"
      statistic   = "Maximum"
      threshold   = var.replication_slot_lag_threshold_bytes
      operator    = "GreaterThanThreshold"
      description = "A replication slot on ${var.source_db_instance_identifier} is ${floor(var.replication_slot_lag_threshold_bytes / 1073741824)} GiB behind: PostgreSQL keeps all WAL the slot has not confirmed, so the source's disk fills while DMS is stopped or slow. Resume the replica (`ops replica status`) or drop the slot (runbooks/infrastructure.md)."
    }
    transaction-logs-disk = {
      metric      = "TransactionLogsDiskUsage"
      statistic   = "Maximum"
      threshold   = var.transaction_logs_disk_threshold_bytes
      operator    = "GreaterThanThreshold"
      description = "WAL on ${var.source_db_instance_identifier} uses more than ${floor(var.transaction_logs_disk_threshold_bytes / 1073741824)} GiB: a replication slot is holding it."
    }
    free-storage = {
      metric      = "FreeStorageSpace"
      statistic   = "Minimum"
      threshold   = var.free_storage_threshold_bytes
      operator    = "LessThanThreshold"
      description = "${var.source_db_instance_identifier} has less than ${floor(var.free_storage_threshold_bytes / 1073741824)} GiB free; when it runs out the production database stops accepting writes."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = var.create_alarms ? local.alarms : {}

  alarm_name          = "${var.name}-source-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = { DBInstanceIdentifier = var.source_db_instance_identifier }
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 2
  threshold           = each.value.threshold
  comparison_operator = each.value.operator
  treat_missing_data  = "missing"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
