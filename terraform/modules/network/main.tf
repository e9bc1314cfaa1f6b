data "aws_region" "current" {}

locals {
  peering         = var.production_connection_type == "peering"
  transit_gateway = var.production_connection_type == "transit_gateway"
  nat             = var.enable_nat_gateway
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

# The default security group would otherwise allow all traffic between its members.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_subnet" "private" {
  count = length(var.azs)

  vpc_id                  = aws_vpc.this.id
  availability_zone       = var.azs[count.index]
  cidr_block              = var.private_subnet_cidrs[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-private-${var.azs[count.index]}", Tier = "private" })
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-private" })
}

resource "aws_route_table_association" "private" {
  count = length(var.azs)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

################################################################################
# Egress to the internet (the notification consumer calls the Google Play Developer API, which
# has no VPC endpoint): public subnets, an internet gateway and one NAT gateway
################################################################################

resource "aws_internet_gateway" "this" {
  count = local.nat ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count = local.nat ? length(var.public_subnet_cidrs) : 0

  vpc_id                  = aws_vpc.this.id
  availability_zone       = var.azs[count.index]
  cidr_block              = var.public_subnet_cidrs[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${var.azs[count.index]}", Tier = "public" })
}

resource "aws_route_table" "public" {
  count = local.nat ? 1 : 0

  vpc_id = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  count = local.nat ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = local.nat ? length(var.public_subnet_cidrs) : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count = local.nat ? 1 : 0

  domain = "vpc"

  tags = merge(var.tags, { Name = "${var.name}-nat" })

  depends_on = [aws_internet_gateway.this]
}

# One NAT gateway: the consumer's calls to Google are retried by SQS if its zone fails.
resource "aws_nat_gateway" "this" {
  count = local.nat ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_route" "private_internet" {
  count = local.nat ? 1 : 0

  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}

################################################################################
# VPC endpoints: the runner reaches DynamoDB and the AWS APIs without a NAT
################################################################################

resource "aws_vpc_endpoint" "dynamodb" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]

  tags = merge(var.tags, { Name = "${var.name}-dynamodb" })
}

# Package repositories (Amazon Linux 2023) and the ops wheelhouse are in S3: no NAT needed.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

resource "aws_vpc_endpoint" "interface" {
  for_each = var.create_interface_endpoints ? toset(var.interface_endpoint_services) : toset([])

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.value}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true

  tags = merge(var.tags, { Name = "${var.name}-${each.value}" })
}

################################################################################
# Security groups (rules are separate resources: the groups reference each other)
################################################################################

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "Interface VPC endpoints: HTTPS from inside the migration VPC"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the migration VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = aws_vpc.this.cidr_block
}

resource "aws_security_group" "runner" {
  #checkov:skip=CKV2_AWS_5:Attached in the backfill_runner module (aws_instance.vpc_security_group_ids) through this module's output; checkov does not follow module outputs.
  name        = "${var.name}-backfill-runner"
  description = "Backfill workers: no ingress (Session Manager only); egress to RDS, DynamoDB and endpoints"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-backfill-runner" })
}

resource "aws_vpc_security_group_egress_rule" "runner_endpoints" {
  security_group_id = aws_security_group.runner.id
  description       = "HTTPS to the interface endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = aws_vpc.this.cidr_block
}

resource "aws_vpc_security_group_egress_rule" "runner_dynamodb" {
  security_group_id = aws_security_group.runner.id
  description       = "HTTPS to DynamoDB through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.dynamodb.prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "runner_s3" {
  security_group_id = aws_security_group.runner.id
  description       = "HTTPS to S3 (package repositories, ops wheelhouse) through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
}

resource "aws_vpc_security_group_egress_rule" "runner_rds" {
  security_group_id            = aws_security_group.runner.id
  description                  = "PostgreSQL on the V2 replica"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.rds.id
}

resource "aws_security_group" "dms" {
  #checkov:skip=CKV2_AWS_5:Attached in the dms module (replication instance or serverless compute config) through this module's output; checkov does not follow module outputs.
  name        = "${var.name}-dms"
  description = "DMS replication: no ingress; egress to the source and target PostgreSQL and the endpoints"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-dms" })
}

resource "aws_vpc_security_group_egress_rule" "dms_target" {
  security_group_id            = aws_security_group.dms.id
  description                  = "PostgreSQL on the V2 replica"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.rds.id
}

resource "aws_vpc_security_group_egress_rule" "dms_source" {
  count = var.production_connection_type == "none" ? 0 : 1

  security_group_id = aws_security_group.dms.id
  description       = "PostgreSQL in the production VPC"
  ip_protocol       = "tcp"
  from_port         = var.production_database_port
  to_port           = var.production_database_port
  cidr_ipv4         = var.production_vpc_cidr
}

resource "aws_vpc_security_group_egress_rule" "dms_endpoints" {
  security_group_id = aws_security_group.dms.id
  description       = "HTTPS to the interface endpoints (Secrets Manager, CloudWatch Logs)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = aws_vpc.this.cidr_block
}

resource "aws_security_group" "consumer" {
  #checkov:skip=CKV2_AWS_5:Attached in the notifications module (the consumer Lambda's vpc_config) through this module's output; checkov does not follow module outputs.
  name        = "${var.name}-notifications-consumer"
  description = "Notification consumer Lambda: no ingress; HTTPS out (Google Play API through the NAT, AWS APIs) and PostgreSQL to its database"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-notifications-consumer" })
}

resource "aws_vpc_security_group_egress_rule" "consumer_https" {
  security_group_id = aws_security_group.consumer.id
  description       = "HTTPS to the Google Play Developer API (through the NAT gateway) and the AWS endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "consumer_database" {
  for_each = toset(var.consumer_database_cidrs)

  security_group_id = aws_security_group.consumer.id
  description       = "PostgreSQL of the entitlement database"
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = each.value
}

resource "aws_security_group" "rds" {
  #checkov:skip=CKV2_AWS_5:Attached in the rds_postgres module (aws_db_instance.vpc_security_group_ids) through this module's output; checkov does not follow module outputs.
  name        = "${var.name}-rds"
  description = "V2 PostgreSQL replica: PostgreSQL from DMS and the backfill workers only"
  vpc_id      = aws_vpc.this.id

  tags = merge(var.tags, { Name = "${var.name}-rds" })
}

resource "aws_vpc_security_group_ingress_rule" "rds_from_dms" {
  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from DMS"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.dms.id
}

resource "aws_vpc_security_group_ingress_rule" "rds_from_runner" {
  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from the backfill workers"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.runner.id
}

################################################################################
# Route to the production VPC (the DMS source)
################################################################################

resource "aws_vpc_peering_connection" "production" {
  count = local.peering ? 1 : 0

  vpc_id        = aws_vpc.this.id
  peer_vpc_id   = var.production_vpc_id
  peer_owner_id = var.production_vpc_owner_id
  peer_region   = var.production_vpc_region
  # Same-account, same-region peering can be accepted here; otherwise the production side accepts.
  auto_accept = var.production_vpc_owner_id == null && var.production_vpc_region == null

  tags = merge(var.tags, { Name = "${var.name}-to-production" })
}

resource "aws_ec2_transit_gateway_vpc_attachment" "production" {
  count = local.transit_gateway ? 1 : 0

  transit_gateway_id = var.transit_gateway_id
  vpc_id             = aws_vpc.this.id
  subnet_ids         = aws_subnet.private[*].id

  tags = merge(var.tags, { Name = "${var.name}-to-production" })
}

resource "aws_route" "production" {
  count = var.production_connection_type == "none" ? 0 : 1

  route_table_id            = aws_route_table.private.id
  destination_cidr_block    = var.production_vpc_cidr
  vpc_peering_connection_id = local.peering ? aws_vpc_peering_connection.production[0].id : null
  transit_gateway_id        = local.transit_gateway ? aws_ec2_transit_gateway_vpc_attachment.production[0].transit_gateway_id : null
}

################################################################################
# Flow logs
################################################################################

resource "aws_cloudwatch_log_group" "flow_log" {
  count = var.enable_flow_log ? 1 : 0

  name              = "/aws/vpc/${var.name}/flow-log"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_iam_role" "flow_log" {
  count = var.enable_flow_log ? 1 : 0

  name = "${var.name}-flow-log"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "flow_log" {
  count = var.enable_flow_log ? 1 : 0

  name = "write-flow-log"
  role = aws_iam_role.flow_log[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = "${aws_cloudwatch_log_group.flow_log[0].arn}:*"
    }]
  })
}

resource "aws_flow_log" "this" {
  count = var.enable_flow_log ? 1 : 0

  vpc_id          = aws_vpc.this.id
  traffic_type    = "ALL"
  log_destination = aws_cloudwatch_log_group.flow_log[0].arn
  iam_role_arn    = aws_iam_role.flow_log[0].arn

  tags = var.tags
}
