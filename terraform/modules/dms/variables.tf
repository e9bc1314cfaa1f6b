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

variable "create_iam_roles" {
  description = "Whether to create the account-wide roles DMS requires (dms-vpc-role, dms-cloudwatch-logs-role); set false when the account already has them."
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
