mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name                 = "migration"
  cidr_block           = "10.40.0.0/16"
  azs                  = ["us-east-1a", "us-east-1b"]
  private_subnet_cidrs = ["10.40.0.0/20", "10.40.16.0/20"]
}

run "private_vpc_with_endpoints_and_peering" {
  command = plan

  variables {
    production_connection_type = "peering"
    production_vpc_cidr        = "10.0.0.0/16"
    production_vpc_id          = "vpc-0123456789abcdef0"
  }

  assert {
    condition     = length(aws_subnet.private) == 2 && alltrue([for s in aws_subnet.private : !s.map_public_ip_on_launch])
    error_message = "There must be one private subnet per AZ, none assigning public IPs."
  }

  assert {
    condition     = aws_vpc_endpoint.dynamodb.vpc_endpoint_type == "Gateway" && aws_vpc_endpoint.dynamodb.service_name == "com.amazonaws.us-east-1.dynamodb"
    error_message = "DynamoDB must be reached through a gateway endpoint."
  }

  assert {
    condition     = aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway" && aws_vpc_security_group_egress_rule.runner_s3.from_port == 443
    error_message = "The runner installs packages from S3 through a gateway endpoint (there is no NAT)."
  }

  assert {
    condition     = alltrue([for s in ["ssm", "logs", "secretsmanager", "sqs", "sts"] : contains(keys(aws_vpc_endpoint.interface), s)])
    error_message = "The runner's interface endpoints (SSM, CloudWatch Logs, Secrets Manager, SQS, STS) must exist."
  }

  assert {
    condition     = aws_route.production[0].destination_cidr_block == "10.0.0.0/16" && length(aws_vpc_peering_connection.production) == 1
    error_message = "Peering must route the production CIDR."
  }

  assert {
    condition     = length(aws_ec2_transit_gateway_vpc_attachment.production) == 0
    error_message = "Peering must not create a transit gateway attachment."
  }
}

run "no_public_ingress" {
  command = plan

  assert {
    condition = alltrue([for r in [
      aws_vpc_security_group_ingress_rule.endpoints_https,
      aws_vpc_security_group_ingress_rule.rds_from_dms,
      aws_vpc_security_group_ingress_rule.rds_from_runner,
    ] : r.cidr_ipv4 != "0.0.0.0/0" && r.cidr_ipv6 == null])
    error_message = "No security group may accept traffic from the internet."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.endpoints_https.cidr_ipv4 == "10.40.0.0/16"
    error_message = "The endpoints accept HTTPS from the migration VPC only."
  }

  assert {
    condition     = length(aws_route.production) == 0 && length(aws_flow_log.this) == 1 && length(aws_nat_gateway.this) == 0
    error_message = "Without a production connection there is no route; flow logs are on."
  }
}

run "transit_gateway_route" {
  command = plan

  variables {
    production_connection_type = "transit_gateway"
    production_vpc_cidr        = "10.0.0.0/16"
    transit_gateway_id         = "tgw-0123456789abcdef0"
  }

  assert {
    condition     = aws_route.production[0].transit_gateway_id == "tgw-0123456789abcdef0" && length(aws_vpc_peering_connection.production) == 0
    error_message = "A transit gateway connection must route the production CIDR through the attachment."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    azs                        = ["us-east-1a"]
    production_connection_type = "vpn"
  }

  expect_failures = [var.azs, var.production_connection_type]
}

run "peering_requires_the_production_vpc_and_one_cidr_per_az" {
  command = plan

  variables {
    production_connection_type = "peering"
    private_subnet_cidrs       = ["10.40.0.0/20", "10.40.16.0/20", "10.40.32.0/20"]
  }

  expect_failures = [var.production_vpc_cidr, var.production_vpc_id, var.private_subnet_cidrs]
}

run "cross_account_peering_is_accepted_by_the_production_side" {
  command = plan

  variables {
    production_connection_type = "peering"
    production_vpc_cidr        = "10.0.0.0/16"
    production_vpc_id          = "vpc-0123456789abcdef0"
    production_vpc_owner_id    = "222222222222"
    production_vpc_region      = "eu-west-1"
  }

  assert {
    condition     = aws_vpc_peering_connection.production[0].peer_owner_id == "222222222222" && aws_vpc_peering_connection.production[0].peer_region == "eu-west-1"
    error_message = "The peering request must name the production account and region."
  }

  assert {
    condition     = !aws_vpc_peering_connection.production[0].auto_accept
    error_message = "Another account cannot be auto-accepted; the production link accepts it."
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.dms_source[0].cidr_ipv4 == "10.0.0.0/16" && aws_vpc_security_group_egress_rule.dms_source[0].from_port == 5432
    error_message = "DMS must be allowed out to PostgreSQL in the production VPC."
  }
}

run "dms_reaches_a_source_on_another_port" {
  command = plan

  variables {
    production_connection_type = "transit_gateway"
    production_vpc_cidr        = "10.0.0.0/16"
    transit_gateway_id         = "tgw-0123456789abcdef0"
    production_database_port   = 6432
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.dms_source[0].from_port == 6432 && aws_vpc_security_group_egress_rule.dms_source[0].to_port == 6432
    error_message = "DMS's egress to production must open the source's own port, not 5432."
  }

  assert {
    condition     = output.production_database_egress == { cidr_ipv4 = "10.0.0.0/16", port = 6432 }
    error_message = "The module must say where DMS may connect in production."
  }
}

run "rejects_a_port_that_is_not_one" {
  command = plan

  variables {
    production_database_port = 70000
  }

  expect_failures = [var.production_database_port]
}

run "consumer_reaches_the_play_api_through_a_nat_and_its_database" {
  command = plan

  variables {
    enable_nat_gateway      = true
    public_subnet_cidrs     = ["10.40.128.0/24"]
    consumer_database_cidrs = ["10.0.0.0/16"]
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && aws_route.private_internet[0].destination_cidr_block == "0.0.0.0/0"
    error_message = "The private subnets must route to the internet through the NAT gateway."
  }

  assert {
    condition     = aws_route.public_internet[0].destination_cidr_block == "0.0.0.0/0" && length(aws_internet_gateway.this) == 1 && alltrue([for s in aws_subnet.public : !s.map_public_ip_on_launch])
    error_message = "The NAT gateway sits in a public subnet routed to the internet gateway; nothing gets a public IP by default."
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.consumer_https.from_port == 443 && aws_vpc_security_group_egress_rule.consumer_database["10.0.0.0/16"].from_port == 5432
    error_message = "The consumer may call HTTPS out and PostgreSQL on its database only."
  }
}

run "no_nat_without_public_subnets" {
  command = plan

  variables {
    enable_nat_gateway      = true
    consumer_database_cidrs = ["not-a-cidr"]
  }

  expect_failures = [var.public_subnet_cidrs, var.consumer_database_cidrs]
}
