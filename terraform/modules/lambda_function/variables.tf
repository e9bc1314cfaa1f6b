variable "name" {
  description = "Name of the function, of its role and of its log group /aws/lambda/<name>"
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "name must be 1 to 64 letters, digits, hyphens or underscores (a Lambda function name and an IAM role name)."
  }
}

variable "description" {
  description = "What the function does, shown in the console"
  type        = string
}

variable "handler" {
  description = "Python handler, e.g. lambdas.receiver.handler.handler"
  type        = string
}

variable "runtime" {
  description = "Lambda runtime"
  type        = string
}

variable "zip_path" {
  description = "Path to the function's package (make package: build/lambdas/<fn>.zip)"
  type        = string
}

variable "memory_size" {
  description = "Memory of the function in MB"
  type        = number
}

variable "timeout" {
  description = "Timeout of the function in seconds"
  type        = number

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (null: none reserved)"
  type        = number
  default     = null
}

variable "environment" {
  description = "Environment variables of the function"
  type        = map(string)
  default     = {}
}

variable "policy_name" {
  description = "Name of the role's inline policy"
  type        = string
}

variable "policy_statements" {
  description = "The function's own IAM statements; writing its logs, X-Ray traces and using kms_key_arn are added"
  type = list(object({
    Sid      = string
    Effect   = string
    Action   = list(string)
    Resource = list(string)
  }))

  validation {
    condition     = alltrue([for s in var.policy_statements : contains(["Allow", "Deny"], s.Effect)])
    error_message = "every statement's Effect must be Allow or Deny."
  }
}

variable "subnet_ids" {
  description = "Subnets to place the function in (empty: outside any VPC)"
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function when placed in a VPC"
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "KMS key for the environment variables and the log group (null: AWS-managed keys)"
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days"
  type        = number
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
