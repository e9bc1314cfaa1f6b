mock_provider "aws" {
  source          = "../../../tests/mocks"
  override_during = plan
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
