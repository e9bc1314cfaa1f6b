mock_provider "aws" {
  override_during = plan

  mock_data "aws_db_instance" {
    defaults = {
      address             = "app.abcdefghij.us-east-1.rds.amazonaws.com"
      port                = 5432
      db_subnet_group     = "app"
      vpc_security_groups = ["sg-0app0database"]
    }
  }

  mock_resource "aws_vpc_peering_connection_accepter" {
    defaults = { id = "pcx-0123456789abcdef0" }
  }
}

run "first_apply_before_the_migration_environment" {
  command = plan

  assert {
    condition     = output.peering_connection_id == null && output.source_security_group_id == "sg-0app0database"
    error_message = "The first apply prepares the source and lets the migration VPC in; there is no peering to accept yet."
  }
}

run "second_apply_accepts_the_peering" {
  command = plan

  variables {
    peering_connection_id = "pcx-0123456789abcdef0"
  }

  assert {
    condition     = output.peering_connection_id == "pcx-0123456789abcdef0"
    error_message = "With the migration environment's peering connection, the production side accepts it and routes back."
  }
}
