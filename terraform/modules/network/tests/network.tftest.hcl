mock_provider "aws" {
  override_during = plan

  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
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
    condition     = length(aws_route.production) == 0 && length(aws_flow_log.this) == 1
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
