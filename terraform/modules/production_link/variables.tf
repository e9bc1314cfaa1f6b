variable "name" {
  description = "Name prefix of what this module creates in the production account (the migration environment's name prefix, e.g. platform-ops-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,40}$", var.name))
    error_message = "name must be 3-41 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "source_db_instance_identifier" {
  description = "Identifier of the production PostgreSQL instance (the DMS source)."
  type        = string
}

variable "migration_vpc_cidr" {
  description = "CIDR block of the migration VPC (vpc_cidr of the migration environment): allowed into the source database and routed back through the peering."
  type        = string

  validation {
    condition     = can(cidrhost(var.migration_vpc_cidr, 0))
    error_message = "migration_vpc_cidr must be a valid IPv4 CIDR block, for example 10.40.0.0/16."
  }
}

variable "source_security_group_id" {
  description = "Security group of the source database that gets the rule for the migration VPC; null takes the instance's first security group."
  type        = string
  default     = null
}

variable "peering_connection_id" {
  description = "Peering connection the migration environment requested (its output production_peering_connection_id); null on the first apply, before the migration environment exists."
  type        = string
  default     = null

  validation {
    condition     = var.peering_connection_id == null || can(regex("^pcx-[0-9a-f]+$", coalesce(var.peering_connection_id, "pcx-0")))
    error_message = "peering_connection_id must look like pcx-0123456789abcdef0, or be null."
  }
}

variable "route_table_ids" {
  description = "Route tables of the production subnets the source database (and the app) live in; each gets a route to the migration VPC through the peering."
  type        = list(string)
  default     = []

  validation {
    condition     = var.peering_connection_id == null || length(var.route_table_ids) > 0
    error_message = "route_table_ids must list the production route tables when peering_connection_id is given, or the migration VPC's traffic has no way back."
  }
}

variable "create_parameter_group" {
  description = "Whether to create the parameter group with logical replication for the source (false when its owners manage the parameters elsewhere)."
  type        = bool
  default     = true
}

variable "parameter_group_family" {
  description = "Parameter group family of the source, for example postgres16."
  type        = string
  default     = "postgres16"

  validation {
    condition     = can(regex("^postgres[0-9]+$", var.parameter_group_family))
    error_message = "parameter_group_family must look like postgres16."
  }
}

variable "parameters" {
  description = "The source's existing custom parameters, carried over into the new group (switching groups resets every parameter not in it)."
  type = list(object({
    name         = string
    value        = string
    apply_method = optional(string, "pending-reboot")
  }))
  default = []
}

variable "max_replication_slots" {
  description = "Replication slots the source allows: DMS takes one per task, plus any the source already uses."
  type        = number
  default     = 10

  validation {
    condition     = var.max_replication_slots >= 1
    error_message = "max_replication_slots must be at least 1 (DMS needs one slot)."
  }
}

variable "max_wal_senders" {
  description = "WAL sender processes the source allows: one per slot in use plus its physical replicas."
  type        = number
  default     = 15

  validation {
    condition     = var.max_wal_senders >= var.max_replication_slots
    error_message = "max_wal_senders must be at least max_replication_slots: every slot DMS reads needs a WAL sender."
  }
}

variable "max_slot_wal_keep_size_mb" {
  description = "WAL a replication slot may hold back, in MB (max_slot_wal_keep_size); null keeps PostgreSQL's default (unlimited). A limit protects the source's disk, but a slot past it is invalidated and the DMS task must reload every table."
  type        = number
  default     = null

  validation {
    condition     = var.max_slot_wal_keep_size_mb == null || try(var.max_slot_wal_keep_size_mb >= 1024, false)
    error_message = "max_slot_wal_keep_size_mb must be at least 1024 (1 GiB) or null."
  }
}

variable "create_alarms" {
  description = "Whether to create the source's replication slot lag, WAL disk usage and free storage alarms."
  type        = bool
  default     = true
}

variable "replication_slot_lag_threshold_bytes" {
  description = "WAL the oldest replication slot may hold back before the alarm fires."
  type        = number
  default     = 10737418240
}

variable "transaction_logs_disk_threshold_bytes" {
  description = "Disk the source's WAL may use before the alarm fires."
  type        = number
  default     = 21474836480
}

variable "free_storage_threshold_bytes" {
  description = "Free storage of the source below which the alarm fires."
  type        = number
  default     = 53687091200
}

variable "alarm_actions" {
  description = "SNS topic ARNs in the production account notified by the alarms."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
