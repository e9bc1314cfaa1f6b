# The fake AWS every module and root test plans against: one account (123456789012), one region,
# and the computed values a plan reads that the mock would otherwise leave random or unknown.
# Tests load it with `mock_provider "aws" { source = "<relative path to this folder>" }`; a test
# that needs another value declares that block itself, which wins over the one here.

mock_data "aws_region" {
  defaults = { name = "us-east-1" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_ssm_parameter" {
  defaults = { value = "ami-0123456789abcdef0" }
}

mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:mock" }
}

mock_resource "aws_ssm_parameter" {
  defaults = { arn = "arn:aws:ssm:us-east-1:123456789012:parameter/platform-ops/migration/mock/mode" }
}

mock_resource "aws_secretsmanager_secret" {
  defaults = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mock-AbCdEf" }
}

mock_resource "aws_sqs_queue" {
  defaults = {
    arn = "arn:aws:sqs:us-east-1:123456789012:mock-queue.fifo"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/mock-queue.fifo"
  }
}

mock_resource "aws_apigatewayv2_api" {
  defaults = {
    api_endpoint  = "https://mock.execute-api.us-east-1.amazonaws.com"
    execution_arn = "arn:aws:execute-api:us-east-1:123456789012:mock"
  }
}

mock_resource "aws_dms_replication_task" {
  defaults = { replication_task_arn = "arn:aws:dms:us-east-1:123456789012:task:MOCK" }
}

mock_resource "aws_dms_replication_config" {
  defaults = { arn = "arn:aws:dms:us-east-1:123456789012:replication-config:MOCK" }
}

# The migration account's V2 replica (the rds_postgres module, the environments).
mock_resource "aws_db_instance" {
  defaults = {
    address = "platform-ops-v2.abcdefghij.us-east-1.rds.amazonaws.com"
    port    = 5432
    master_user_secret = [{
      secret_arn    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-mock"
      kms_key_id    = "arn:aws:kms:us-east-1:123456789012:key/mock"
      secret_status = "active"
    }]
  }
}

# The production account's side (the production link): its database, found by identifier, and
# the peering it accepts.
mock_data "aws_db_instance" {
  defaults = {
    address             = "app.abcdefghij.us-east-1.rds.amazonaws.com"
    port                = 5432
    db_subnet_group     = "app"
    vpc_security_groups = ["sg-0app0database"]
  }
}

mock_data "aws_db_subnet_group" {
  defaults = { vpc_id = "vpc-0prod0application0" }
}

mock_resource "aws_vpc_peering_connection_accepter" {
  defaults = { id = "pcx-0123456789abcdef0" }
}
