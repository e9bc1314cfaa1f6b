mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan

  # The production link runs in the production account, not the migration account.
  mock_data "aws_caller_identity" {
    defaults = { account_id = "222222222222" }
  }
}

variables {
  name                          = "platform-ops-prod"
  source_db_instance_identifier = "app"
  migration_vpc_cidr            = "10.40.0.0/16"
  alarm_actions                 = ["arn:aws:sns:us-east-1:222222222222:db-alarms"]
}

run "first_apply_prepares_the_source" {
  command = plan

  assert {
    condition = alltrue([for setting in ["rds.logical_replication=1", "max_replication_slots=10", "max_wal_senders=15"] :
    contains([for p in aws_db_parameter_group.this[0].parameter : "${p.name}=${p.value}"], setting)])
    error_message = "The source needs logical replication, replication slots and WAL senders for DMS."
  }

  assert {
    condition     = one([for p in aws_db_parameter_group.this[0].parameter : p.apply_method if p.name == "rds.logical_replication"]) == "pending-reboot" && aws_db_parameter_group.this[0].name_prefix == "platform-ops-prod-"
    error_message = "rds.logical_replication is static (applied at the next reboot); the group takes a name prefix."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.migration.security_group_id == "sg-0app0database" && aws_vpc_security_group_ingress_rule.migration.cidr_ipv4 == "10.40.0.0/16" && aws_vpc_security_group_ingress_rule.migration.from_port == 5432
    error_message = "The source database's security group must let the migration VPC in on its port."
  }

  assert {
    condition     = length(aws_vpc_peering_connection_accepter.this) == 0 && length(aws_route.migration) == 0
    error_message = "Before the migration environment requests the peering there is nothing to accept or route."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["replication-slot-lag"].metric_name == "OldestReplicationSlotLag" && aws_cloudwatch_metric_alarm.this["replication-slot-lag"].dimensions["DBInstanceIdentifier"] == "app"
    error_message = "A replication slot that DMS stops reading must be alarmed on the source."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["transaction-logs-disk"].metric_name == "TransactionLogsDiskUsage" && aws_cloudwatch_metric_alarm.this["free-storage"].comparison_operator == "LessThanThreshold"
    error_message = "WAL disk usage and free storage of the source must be alarmed."
  }

  assert {
    condition     = output.production_vpc_id == "vpc-0prod0application0" && output.production_account_id == "222222222222" && output.source_db_address == "app.abcdefghij.us-east-1.rds.amazonaws.com"
    error_message = "The outputs give the migration environment its production inputs."
  }
}

run "second_apply_accepts_the_peering_and_routes_back" {
  command = plan

  variables {
    peering_connection_id = "pcx-0123456789abcdef0"
    route_table_ids       = ["rtb-0app0a", "rtb-0app0b"]
  }

  assert {
    condition     = aws_vpc_peering_connection_accepter.this[0].vpc_peering_connection_id == "pcx-0123456789abcdef0" && aws_vpc_peering_connection_accepter.this[0].auto_accept
    error_message = "The production side accepts the migration environment's peering request."
  }

  assert {
    condition     = toset(keys(aws_route.migration)) == toset(["rtb-0app0a", "rtb-0app0b"]) && alltrue([for r in aws_route.migration : r.destination_cidr_block == "10.40.0.0/16"])
    error_message = "Every production route table needs the route back to the migration VPC."
  }
}

run "a_slot_limit_protects_the_disk" {
  command = plan

  variables {
    max_slot_wal_keep_size_mb = 102400
    parameters                = [{ name = "work_mem", value = "65536", apply_method = "immediate" }]
  }

  assert {
    condition     = contains([for p in aws_db_parameter_group.this[0].parameter : "${p.name}=${p.value}"], "max_slot_wal_keep_size=102400") && contains([for p in aws_db_parameter_group.this[0].parameter : "${p.name}=${p.value}"], "work_mem=65536")
    error_message = "The slot limit and the carried-over parameters land in the group."
  }
}

run "parameters_managed_elsewhere" {
  command = plan

  variables {
    create_parameter_group   = false
    create_alarms            = false
    source_security_group_id = "sg-0explicit"
  }

  assert {
    condition     = length(aws_db_parameter_group.this) == 0 && length(aws_cloudwatch_metric_alarm.this) == 0 && aws_vpc_security_group_ingress_rule.migration.security_group_id == "sg-0explicit"
    error_message = "The parameter group and alarms are optional; a named security group wins."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    migration_vpc_cidr        = "10.40.0.0"
    peering_connection_id     = "vpc-123"
    max_replication_slots     = 10
    max_wal_senders           = 5
    max_slot_wal_keep_size_mb = 10
  }

  expect_failures = [var.migration_vpc_cidr, var.peering_connection_id, var.max_wal_senders, var.max_slot_wal_keep_size_mb]
}

run "accepting_a_peering_needs_the_route_tables" {
  command = plan

  variables {
    peering_connection_id = "pcx-0123456789abcdef0"
  }

  expect_failures = [var.route_table_ids]
}
