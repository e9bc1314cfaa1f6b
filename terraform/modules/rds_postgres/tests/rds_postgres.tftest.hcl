mock_provider "aws" {
  override_during = plan

  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
}

variables {
  identifier             = "couple-diary-v2"
  subnet_ids             = ["subnet-0a", "subnet-0b"]
  vpc_security_group_ids = ["sg-0rds"]
  kms_key_arn            = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "encrypted_protected_replica" {
  command = plan

  assert {
    condition     = aws_db_instance.this.storage_encrypted && aws_db_instance.this.kms_key_id == var.kms_key_arn
    error_message = "Storage must be encrypted with the given key."
  }

  assert {
    condition     = aws_db_instance.this.manage_master_user_password && aws_db_instance.this.master_user_secret_kms_key_id == var.kms_key_arn
    error_message = "The master password must be managed in Secrets Manager."
  }

  assert {
    condition     = aws_db_instance.this.deletion_protection && !aws_db_instance.this.skip_final_snapshot && aws_db_instance.this.final_snapshot_identifier == "couple-diary-v2-final"
    error_message = "Deletion protection and a final snapshot are required."
  }

  assert {
    condition     = aws_db_instance.this.performance_insights_enabled && !aws_db_instance.this.publicly_accessible
    error_message = "Performance Insights on, never publicly accessible."
  }

  assert {
    condition     = contains([for p in aws_db_parameter_group.this.parameter : "${p.name}=${p.value}"], "rds.force_ssl=1")
    error_message = "The parameter group must force TLS."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    subnet_ids                            = ["subnet-0a"]
    storage_type                          = "standard"
    performance_insights_retention_period = 30
    monitoring_interval                   = 7
  }

  expect_failures = [var.subnet_ids, var.storage_type, var.performance_insights_retention_period, var.monitoring_interval]
}
