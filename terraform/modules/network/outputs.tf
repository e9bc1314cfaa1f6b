output "vpc_id" {
  description = "ID of the migration VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the migration VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone."
  value       = aws_subnet.private[*].id
}

output "private_route_table_id" {
  description = "ID of the route table of the private subnets."
  value       = aws_route_table.private.id
}

output "dynamodb_endpoint_id" {
  description = "ID of the DynamoDB gateway endpoint."
  value       = aws_vpc_endpoint.dynamodb.id
}

output "s3_endpoint_id" {
  description = "ID of the S3 gateway endpoint."
  value       = aws_vpc_endpoint.s3.id
}

output "interface_endpoint_ids" {
  description = "IDs of the interface endpoints, by service."
  value       = { for service, endpoint in aws_vpc_endpoint.interface : service => endpoint.id }
}

output "runner_security_group_id" {
  description = "Security group of the backfill workers."
  value       = aws_security_group.runner.id
}

output "dms_security_group_id" {
  description = "Security group of the DMS replication instance or serverless replication."
  value       = aws_security_group.dms.id
}

output "rds_security_group_id" {
  description = "Security group of the V2 PostgreSQL replica."
  value       = aws_security_group.rds.id
}

output "consumer_security_group_id" {
  description = "Security group of the notification consumer Lambda."
  value       = aws_security_group.consumer.id
}

output "nat_gateway_id" {
  description = "ID of the NAT gateway, when enable_nat_gateway is true."
  value       = try(aws_nat_gateway.this[0].id, null)
}

output "endpoints_security_group_id" {
  description = "Security group of the interface endpoints."
  value       = aws_security_group.endpoints.id
}

output "production_peering_connection_id" {
  description = "ID of the peering connection to the production VPC, when peering is used (the production side accepts it when it is in another account or region)."
  value       = try(aws_vpc_peering_connection.production[0].id, null)
}

output "production_transit_gateway_attachment_id" {
  description = "ID of the transit gateway attachment, when a transit gateway is used."
  value       = try(aws_ec2_transit_gateway_vpc_attachment.production[0].id, null)
}

output "production_peering_request" {
  description = "Account, region and auto-accept of the peering request to production (null without peering)."
  value = try({
    peer_owner_id = aws_vpc_peering_connection.production[0].peer_owner_id
    peer_region   = aws_vpc_peering_connection.production[0].peer_region
    auto_accept   = aws_vpc_peering_connection.production[0].auto_accept
  }, null)
}

output "production_database_egress" {
  description = "Where DMS may connect in the production VPC: CIDR and PostgreSQL port (null without a connection to production)."
  value = try({
    cidr_ipv4 = aws_vpc_security_group_egress_rule.dms_source[0].cidr_ipv4
    port      = aws_vpc_security_group_egress_rule.dms_source[0].from_port
  }, null)
}

output "dynamodb_prefix_list_id" {
  description = "Prefix list of the DynamoDB gateway endpoint (for HTTPS egress rules to DynamoDB)."
  value       = aws_vpc_endpoint.dynamodb.prefix_list_id
}
