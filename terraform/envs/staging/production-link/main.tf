# Applied first, with the production account's credentials; applied again with
# peering_connection_id once the migration environment exists (runbooks/infrastructure.md).
module "production_link" {
  source = "../../../modules/production_link"

  name                          = "platform-ops-staging"
  source_db_instance_identifier = "app-staging"
  migration_vpc_cidr            = "10.41.0.0/16"
  peering_connection_id         = var.peering_connection_id
  route_table_ids               = ["rtb-0staging0app0a", "rtb-0staging0app0b"]
  parameter_group_family        = "postgres16"
}
