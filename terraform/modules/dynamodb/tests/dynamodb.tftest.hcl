mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "target_and_control_tables" {
  command = plan

  variables {
    max_write_request_units = 40000
  }

  assert {
    condition     = aws_dynamodb_table.this.name == "couple-diary" && aws_dynamodb_table.control[0].name == "platform-ops-control"
    error_message = "Table names must match the ops CLI defaults."
  }

  assert {
    condition = alltrue([for t in [aws_dynamodb_table.this, aws_dynamodb_table.control[0]] :
    t.hash_key == "pk" && t.range_key == "sk" && t.attribute == toset([{ name = "pk", type = "S" }, { name = "sk", type = "S" }])])
    error_message = "Both tables must be keyed by pk (S) and sk (S)."
  }

  assert {
    condition     = aws_dynamodb_table.this.point_in_time_recovery[0].enabled && aws_dynamodb_table.control[0].point_in_time_recovery[0].enabled
    error_message = "Point-in-time recovery must be on."
  }

  assert {
    condition     = aws_dynamodb_table.this.ttl[0].attribute_name == "_ttl" && aws_dynamodb_table.this.ttl[0].enabled && aws_dynamodb_table.control[0].ttl[0].attribute_name == "_ttl"
    error_message = "Tombstones and leases expire through _ttl."
  }

  assert {
    condition     = aws_dynamodb_table.this.deletion_protection_enabled && aws_dynamodb_table.control[0].deletion_protection_enabled
    error_message = "Deletion protection must be on by default."
  }

  assert {
    condition     = aws_dynamodb_table.this.server_side_encryption[0].enabled && aws_dynamodb_table.this.server_side_encryption[0].kms_key_arn == var.kms_key_arn
    error_message = "The target table must be encrypted with the given key."
  }

  assert {
    condition     = aws_dynamodb_table.this.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.this.on_demand_throughput[0].max_write_request_units == 40000
    error_message = "On-demand writes must be capped at max_write_request_units."
  }

  assert {
    condition     = length(terraform_data.warm_throughput) == 0
    error_message = "No warm throughput is applied unless asked for."
  }
}

run "provisioned_with_warm_throughput" {
  command = plan

  variables {
    billing_mode         = "PROVISIONED"
    read_capacity        = 100
    write_capacity       = 1000
    create_control_table = false
    warm_throughput      = { read_units_per_second = 12000, write_units_per_second = 40000 }
  }

  assert {
    condition     = aws_dynamodb_table.this.write_capacity == 1000 && length(aws_dynamodb_table.this.on_demand_throughput) == 0
    error_message = "Provisioned mode takes the given capacity."
  }

  assert {
    condition     = length(terraform_data.warm_throughput) == 1 && length(aws_dynamodb_table.control) == 0
    error_message = "Warm throughput is applied when given; the control table is optional."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    billing_mode                       = "ON_DEMAND"
    point_in_time_recovery_period_days = 90
    warm_throughput                    = { read_units_per_second = 10, write_units_per_second = 10 }
  }

  expect_failures = [var.billing_mode, var.point_in_time_recovery_period_days, var.warm_throughput]
}

run "provisioned_requires_capacity" {
  command = plan

  variables {
    billing_mode = "PROVISIONED"
  }

  expect_failures = [var.write_capacity]
}
