output "source_db_address" {
  description = "Host name of the source database (source_database.address of the migration environment)."
  value       = data.aws_db_instance.source.address
}

output "source_db_port" {
  description = "Port of the source database."
  value       = data.aws_db_instance.source.port
}

output "production_vpc_id" {
  description = "VPC of the source database (production_vpc_id of the migration environment)."
  value       = data.aws_db_subnet_group.source.vpc_id
}

output "production_account_id" {
  description = "Account of the production VPC (production_vpc_owner_id of the migration environment)."
  value       = data.aws_caller_identity.current.account_id
}

output "production_region" {
  description = "Region of the production VPC (production_vpc_region of the migration environment)."
  value       = data.aws_region.current.name
}

output "source_security_group_id" {
  description = "Security group of the source database that lets the migration VPC in."
  value       = local.source_security_group_id
}

output "parameter_group_name" {
  description = "Parameter group with logical replication; its owners switch the source to it and reboot it in a maintenance window."
  value       = try(aws_db_parameter_group.this[0].name, null)
}

output "peering_connection_id" {
  description = "The accepted peering connection (null until the second apply)."
  value       = try(aws_vpc_peering_connection_accepter.this[0].id, null)
}

output "peering_accept_status" {
  description = "Status of the peering connection after the accept (active when traffic can flow)."
  value       = try(aws_vpc_peering_connection_accepter.this[0].accept_status, null)
}

output "alarm_names" {
  description = "Names of the source's alarms."
  value       = [for alarm in aws_cloudwatch_metric_alarm.this : alarm.alarm_name]
}
