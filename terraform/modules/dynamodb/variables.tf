variable "table_name" {
  description = "Name of the target table the migration writes (the ops CLI reads it as OPS_TARGET_TABLE)."
  type        = string
  default     = "couple-diary"
}

variable "create_control_table" {
  description = "Whether to create the control table (backfill checkpoints, failure log, phase ledger, leases)."
  type        = bool
  default     = true
}

variable "control_table_name" {
  description = "Name of the control table (the ops CLI reads it as OPS_CONTROL_TABLE)."
  type        = string
  default     = "platform-ops-control"
}

variable "billing_mode" {
  description = "Billing mode of the target table: PAY_PER_REQUEST (on-demand) or PROVISIONED."
  type        = string
  default     = "PAY_PER_REQUEST"

  validation {
    condition     = contains(["PAY_PER_REQUEST", "PROVISIONED"], var.billing_mode)
    error_message = "billing_mode must be PAY_PER_REQUEST or PROVISIONED."
  }
}

variable "read_capacity" {
  description = "Provisioned read capacity units of the target table (billing_mode = PROVISIONED)."
  type        = number
  default     = null
}

variable "write_capacity" {
  description = "Provisioned write capacity units of the target table (billing_mode = PROVISIONED)."
  type        = number
  default     = null

  validation {
    condition     = var.billing_mode == "PAY_PER_REQUEST" || (var.write_capacity != null && var.read_capacity != null)
    error_message = "read_capacity and write_capacity are required when billing_mode is PROVISIONED."
  }
}

variable "max_write_request_units" {
  description = "Maximum on-demand write request units per second of the target table (a cost and blast-radius cap for the backfill); null means no cap."
  type        = number
  default     = null

  validation {
    condition     = var.max_write_request_units == null || try(var.max_write_request_units >= 1, false)
    error_message = "max_write_request_units must be a positive number or null."
  }
}

variable "max_read_request_units" {
  description = "Maximum on-demand read request units per second of the target table; null means no cap."
  type        = number
  default     = null
}

variable "warm_throughput" {
  description = "Warm throughput (read and write units per second) to pre-warm the target table for the backfill; null leaves the table as created. Applied with the AWS CLI because provider 5.x has no argument for it."
  type = object({
    read_units_per_second  = number
    write_units_per_second = number
  })
  default = null

  validation {
    condition     = var.warm_throughput == null || try(var.warm_throughput.read_units_per_second >= 12000 && var.warm_throughput.write_units_per_second >= 4000, false)
    error_message = "warm_throughput must be at least 12000 read and 4000 write units per second (DynamoDB's base values), or null."
  }
}

variable "deletion_protection_enabled" {
  description = "Whether deletion protection is on for both tables."
  type        = bool
  default     = true
}

variable "point_in_time_recovery_period_days" {
  description = "Point-in-time recovery window of the target table, in days (1-35)."
  type        = number
  default     = 35

  validation {
    condition     = var.point_in_time_recovery_period_days >= 1 && var.point_in_time_recovery_period_days <= 35
    error_message = "point_in_time_recovery_period_days must be between 1 and 35."
  }
}

variable "ttl_attribute_name" {
  description = "Attribute holding the expiry (epoch seconds) of tombstones on the target table and of leases on the control table."
  type        = string
  default     = "_ttl"
}

variable "enable_stream" {
  description = "Whether the target table has a DynamoDB stream (new and old images)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for server-side encryption; null uses the AWS managed key for DynamoDB."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
