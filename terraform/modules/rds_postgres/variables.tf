variable "identifier" {
  description = "Identifier of the V2 PostgreSQL instance (the DMS target the backfill reads)."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL version: the major version only (16) while auto_minor_version_upgrade is on, so RDS's minor upgrades never show up as a downgrade in a plan; major.minor (16.4) only with it off. Use production's major version (DMS homogeneous)."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex(var.auto_minor_version_upgrade ? "^[0-9]+$" : "^[0-9]+\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must be a major version (16) when auto_minor_version_upgrade is true, and major.minor (16.4) when it is false; otherwise every plan after an automatic minor upgrade tries to downgrade."
  }
}

variable "auto_minor_version_upgrade" {
  description = "Whether RDS applies minor versions in the maintenance window (then engine_version names the major version only)."
  type        = bool
  default     = true
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

variable "skip_final_snapshot" {
  description = "Whether deleting the instance skips the final snapshot (each instance otherwise leaves <identifier>-final-<creation time>)."
  type        = bool
  default     = false
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

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL and upgrade log groups, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "create_alarms" {
  description = "Whether to create the CPU and free-storage alarms."
  type        = bool
  default     = true
}

variable "cpu_alarm_threshold_percent" {
  description = "Average CPU over 15 minutes above which the CPU alarm fires."
  type        = number
  default     = 80
}

variable "free_storage_alarm_threshold_bytes" {
  description = "Free storage below which the storage alarm fires."
  type        = number
  default     = 53687091200
}

variable "alarm_actions" {
  description = "SNS topic ARNs notified by the alarms."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
