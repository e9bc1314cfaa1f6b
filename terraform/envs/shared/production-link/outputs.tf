# The production link module's outputs, one for one (descriptions in
# modules/production_link/outputs.tf).
output "source_db_address" { value = module.production_link.source_db_address }
output "source_db_port" { value = module.production_link.source_db_port }
output "production_vpc_id" { value = module.production_link.production_vpc_id }
output "production_account_id" { value = module.production_link.production_account_id }
output "production_region" { value = module.production_link.production_region }
output "source_security_group_id" { value = module.production_link.source_security_group_id }
output "parameter_group_name" { value = module.production_link.parameter_group_name }
output "peering_connection_id" { value = module.production_link.peering_connection_id }
output "peering_accept_status" { value = module.production_link.peering_accept_status }
output "alarm_names" { value = module.production_link.alarm_names }
