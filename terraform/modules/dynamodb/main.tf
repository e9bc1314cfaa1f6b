locals {
  # The key attributes every item of the mapping is encoded with (see ops' table mapping).
  key_attributes = { pk = "S", sk = "S" }
  on_demand      = var.billing_mode == "PAY_PER_REQUEST"
}

resource "aws_dynamodb_table" "this" {
  name                        = var.table_name
  billing_mode                = var.billing_mode
  read_capacity               = local.on_demand ? null : var.read_capacity
  write_capacity              = local.on_demand ? null : var.write_capacity
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection_enabled
  stream_enabled              = var.enable_stream
  stream_view_type            = var.enable_stream ? "NEW_AND_OLD_IMAGES" : null

  dynamic "attribute" {
    for_each = local.key_attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "on_demand_throughput" {
    for_each = local.on_demand && (var.max_write_request_units != null || var.max_read_request_units != null) ? [1] : []
    content {
      max_read_request_units  = var.max_read_request_units
      max_write_request_units = var.max_write_request_units
    }
  }

  point_in_time_recovery {
    enabled                 = true
    recovery_period_in_days = var.point_in_time_recovery_period_days
  }

  # Tombstones written while the backfill can still run expire through this attribute.
  ttl {
    attribute_name = var.ttl_attribute_name
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = var.table_name, Role = "migration-target" })
}

# Provider 5.x cannot set warm throughput; the AWS CLI does, once per requested value.
resource "terraform_data" "warm_throughput" {
  count = var.warm_throughput == null ? 0 : 1

  triggers_replace = [aws_dynamodb_table.this.arn, var.warm_throughput]

  provisioner "local-exec" {
    command = join(" ", [
      "aws dynamodb update-table",
      "--table-name ${aws_dynamodb_table.this.name}",
      "--warm-throughput ReadUnitsPerSecond=${var.warm_throughput.read_units_per_second},WriteUnitsPerSecond=${var.warm_throughput.write_units_per_second}",
    ])
  }
}

resource "aws_dynamodb_table" "control" {
  count = var.create_control_table ? 1 : 0

  name                        = var.control_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection_enabled

  dynamic "attribute" {
    for_each = local.key_attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  # Expired leases and finished scratch records age out.
  ttl {
    attribute_name = var.ttl_attribute_name
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = var.control_table_name, Role = "migration-control" })
}
