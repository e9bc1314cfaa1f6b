variable "identifier" {
  description = "Identifier of the V2 PostgreSQL instance (the DMS target the backfill reads)."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL engine version; the same major version as production keeps DMS homogeneous."
  type        = string
  default     = "16.4"
}

variable "parameter_group_family" {
  description = "Parameter group family matching engine_version, for example postgres16."
  type        = string
  default     = "postgres16"

  validation {
    condition     = can(regex("^postgres[0-9]+$", var.parameter_group_family))
    error_message = "parameter_group_family must look like postgres16."
  }
}

variable "instance_class" {
  description = "Instance class of the replica."
  type        = string
  default     = "db.r6g.xlarge"
}

variable "allocated_storage" {
  description = "Allocated storage in GiB."
  type        = number
  default     = 500
}

variable "max_allocated_storage" {
  description = "Upper limit of storage autoscaling in GiB (0 disables autoscaling)."
  type        = number
  default     = 2000
}

variable "storage_type" {
  description = "Storage type: gp3, gp2, io1 or io2."
  type        = string
  default     = "gp3"

  validation {
    condition     = contains(["gp3", "gp2", "io1", "io2"], var.storage_type)
    error_message = "storage_type must be one of gp3, gp2, io1, io2."
  }
}

variable "db_name" {
  description = "Name of the database created on the replica."
  type        = string
  default     = "app"
}

variable "master_username" {
  description = "Master user name; the password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "platform_ops"
}

variable "subnet_ids" {
  description = "Private subnets of the migration VPC (at least two availability zones)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must contain at least two subnets in different availability zones."
  }
}

variable "vpc_security_group_ids" {
  description = "Security groups of the instance."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for storage, the master secret and Performance Insights; null uses the AWS managed keys."
  type        = string
  default     = null
}

variable "multi_az" {
  description = "Whether the instance has a standby in another availability zone."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Whether deletion protection is on (turn off only at the cleanup phase, after the final snapshot)."
  type        = bool
  default     = true
}

variable "backup_retention_period" {
  description = "Days of automated backups."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_period >= 1 && var.backup_retention_period <= 35
    error_message = "backup_retention_period must be between 1 and 35."
  }
}

variable "performance_insights_retention_period" {
  description = "Days Performance Insights data is kept: 7, 731, or a multiple of 31."
  type        = number
  default     = 7

  validation {
    condition     = contains([7, 731], var.performance_insights_retention_period) || var.performance_insights_retention_period % 31 == 0
    error_message = "performance_insights_retention_period must be 7, 731, or a multiple of 31."
  }
}

variable "monitoring_interval" {
  description = "Seconds between Enhanced Monitoring samples: 0, 1, 5, 10, 15, 30 or 60."
  type        = number
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "parameters" {
  description = "Extra database parameters on top of the module's defaults."
  type = list(object({
    name         = string
    value        = string
    apply_method = optional(string, "pending-reboot")
  }))
  default = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
