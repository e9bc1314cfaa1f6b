# Applied first, with the production account's credentials; applied again with
# peering_connection_id once the migration environment exists (runbooks/infrastructure.md).
module "production_link" {
  source = "../../../modules/production_link"

  name                          = "platform-ops-prod"
  source_db_instance_identifier = "app-prod"
  migration_vpc_cidr            = "10.40.0.0/16"
  peering_connection_id         = var.peering_connection_id
  route_table_ids               = ["rtb-0prod0app0a", "rtb-0prod0app0b", "rtb-0prod0app0c"]
  parameter_group_family        = "postgres16"
  # Keep the group's WAL for at most 200 GiB of lag: past it the slot is dropped and DMS reloads,
  # instead of the production disk filling up.
  max_slot_wal_keep_size_mb = 204800
  alarm_actions             = ["arn:aws:sns:us-east-1:333333333333:app-database-alarms"]
}
