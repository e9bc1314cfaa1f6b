variable "name" {
  description = "Name prefix of the DMS resources."
  type        = string
}

variable "replication_type" {
  description = "instance (a provisioned replication instance) or serverless (a DMS Serverless replication config)."
  type        = string
  default     = "instance"

  validation {
    condition     = contains(["instance", "serverless"], var.replication_type)
    error_message = "replication_type must be instance or serverless."
  }
}

variable "migration_type" {
  description = "DMS migration type: full-load, cdc or full-load-and-cdc."
  type        = string
  default     = "full-load-and-cdc"

  validation {
    condition     = contains(["full-load", "cdc", "full-load-and-cdc"], var.migration_type)
    error_message = "migration_type must be one of full-load, cdc, full-load-and-cdc."
  }
}

variable "subnet_ids" {
  description = "Private subnets of the migration VPC for the replication subnet group."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must contain at least two subnets in different availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups of the replication instance or serverless replication."
  type        = list(string)
}

variable "create_account_roles" {
  description = "Whether to create the account-wide roles DMS looks up by name (dms-vpc-role, dms-cloudwatch-logs-role). Exactly one stack per account may create them: set false when the account already has them or another environment in it creates them."
  type        = bool
  default     = true
}

variable "create_replication" {
  description = "Whether to create the replication (instance + task, or the serverless config) and its failure rule; false creates the endpoints and subnet group only (to test the endpoints' connections first, or where the DMS API for it is unavailable)."
  type        = bool
  default     = true
}

variable "replication_instance_class" {
  description = "Class of the replication instance (replication_type = instance)."
  type        = string
  default     = "dms.r6i.large"
}

variable "allocated_storage" {
  description = "Storage of the replication instance in GiB."
  type        = number
  default     = 100
}

variable "engine_version" {
  description = "DMS engine version of the replication instance; null takes the default."
  type        = string
  default     = null
}

variable "multi_az" {
  description = "Whether the replication runs Multi-AZ."
  type        = bool
  default     = true
}

variable "serverless_min_capacity_units" {
  description = "Minimum DMS capacity units of the serverless replication."
  type        = number
  default     = 2
}

variable "serverless_max_capacity_units" {
  description = "Maximum DMS capacity units of the serverless replication."
  type        = number
  default     = 32

  validation {
    condition     = contains([1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 384], var.serverless_max_capacity_units)
    error_message = "serverless_max_capacity_units must be one of 1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 384."
  }
}

variable "source_endpoint" {
  description = "The production PostgreSQL: its database and the Secrets Manager secret in DMS format (JSON with host, port, username, password)."
  type = object({
    database_name       = string
    secrets_manager_arn = string
  })
}

variable "target_endpoint" {
  description = "The V2 PostgreSQL replica: its database and the Secrets Manager secret in DMS format (JSON with host, port, username, password)."
  type = object({
    database_name       = string
    secrets_manager_arn = string
  })
}

variable "ssl_mode" {
  description = "TLS mode of both endpoints: require, verify-ca or verify-full (none is not allowed)."
  type        = string
  default     = "require"

  validation {
    condition     = contains(["require", "verify-ca", "verify-full"], var.ssl_mode)
    error_message = "ssl_mode must be one of require, verify-ca, verify-full; unencrypted replication is not allowed."
  }
}

variable "certificate_arn" {
  description = "DMS certificate (the RDS CA bundle) used to verify the servers; required for verify-ca and verify-full."
  type        = string
  default     = null

  validation {
    condition     = var.ssl_mode == "require" || var.certificate_arn != null
    error_message = "certificate_arn is required when ssl_mode is verify-ca or verify-full."
  }
}

variable "tables" {
  description = "Tables the task replicates (schema and table name; % is a wildcard)."
  type = list(object({
    schema_name = string
    table_name  = string
  }))
  default = [{ schema_name = "public", table_name = "%" }]

  validation {
    condition     = length(var.tables) > 0
    error_message = "tables must select at least one table."
  }
}

variable "target_table_prep_mode" {
  description = "What the full load does to target tables first: DO_NOTHING (schema pre-created), TRUNCATE_BEFORE_LOAD or DROP_AND_CREATE."
  type        = string
  default     = "DO_NOTHING"

  validation {
    condition     = contains(["DO_NOTHING", "TRUNCATE_BEFORE_LOAD", "DROP_AND_CREATE"], var.target_table_prep_mode)
    error_message = "target_table_prep_mode must be one of DO_NOTHING, TRUNCATE_BEFORE_LOAD, DROP_AND_CREATE."
  }
}

variable "lob_mode" {
  description = "How DMS copies text, bytea, jsonb and array values: full (every value whole, in lob_chunk_size_kb pieces) or limited (faster, but every value above lob_max_size_kb is cut without an error; ops migrate preflight refuses it when the source holds a larger value)."
  type        = string
  default     = "full"

  validation {
    condition     = contains(["full", "limited"], var.lob_mode)
    error_message = "lob_mode must be full or limited."
  }
}

variable "lob_max_size_kb" {
  description = "Largest LOB value in KB that limited LOB mode copies whole (lob_mode = limited only; set it above the largest value the preflight measures, with a margin)."
  type        = number
  default     = null

  validation {
    condition     = var.lob_mode == "full" ? var.lob_max_size_kb == null : try(var.lob_max_size_kb >= 1 && var.lob_max_size_kb <= 102400 && floor(var.lob_max_size_kb) == var.lob_max_size_kb, false)
    error_message = "lob_max_size_kb is required with lob_mode = limited (a whole number of KB from 1 to 102400, above the largest value the preflight measured) and must be null with lob_mode = full."
  }
}

variable "lob_chunk_size_kb" {
  description = "Size in KB of the pieces full LOB mode copies a value in."
  type        = number
  default     = 64

  validation {
    condition     = var.lob_chunk_size_kb >= 1 && var.lob_chunk_size_kb <= 102400
    error_message = "lob_chunk_size_kb must be between 1 and 102400."
  }
}

variable "log_retention_days" {
  description = "Retention of the DMS task log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "cdc_latency_threshold_seconds" {
  description = "CDC latency (source or target) above which the alarm fires."
  type        = number
  default     = 300
}

variable "alarm_actions" {
  description = "SNS topic ARNs notified by the alarms and the task-failure rule."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "KMS key for the replication storage and the endpoints' secrets; null uses the AWS managed key."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
