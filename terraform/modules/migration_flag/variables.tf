variable "prefix" {
  description = "Path prefix of the mode parameters (the ops CLI reads it as OPS_FLAG_PREFIX); a dataset's parameter is <prefix>/<dataset>/mode."
  type        = string
  default     = "/platform-ops/migration"

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+$", var.prefix))
    error_message = "prefix must start with / and must not end with / (for example /platform-ops/migration)."
  }
}

variable "datasets" {
  description = "Datasets that migrate independently; each gets its own mode parameter."
  type        = list(string)
  default     = ["answers"]

  validation {
    condition     = length(var.datasets) > 0 && alltrue([for d in var.datasets : can(regex("^[a-z0-9_-]+$", d))])
    error_message = "datasets must be a non-empty list of lowercase names (letters, digits, _ and -)."
  }
}

variable "initial_mode" {
  description = "Mode a parameter is created with. Later changes are made by the ops CLI, not Terraform."
  type        = string
  default     = "postgres"

  validation {
    condition     = contains(["postgres", "dual_write", "dual_write_shadow", "dual_write_read_dynamodb", "dynamodb"], var.initial_mode)
    error_message = "initial_mode must be one of postgres, dual_write, dual_write_shadow, dual_write_read_dynamodb, dynamodb."
  }
}

variable "create_read_policy" {
  description = "Whether to create the IAM policy that lets the application read the mode parameters."
  type        = bool
  default     = true
}

variable "read_policy_name" {
  description = "Name of the IAM policy that grants read access to the mode parameters."
  type        = string
  default     = "platform-ops-migration-flag-read"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
