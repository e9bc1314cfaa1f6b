variable "name" {
  description = "Name prefix of every resource (carries the environment, e.g. platform-ops-prod)"
  type        = string
}

variable "stream_arn" {
  description = "ARN of the target table's DynamoDB stream (NEW_IMAGE)"
  type        = string
}

variable "zip_path" {
  description = "Path to the reverse function's package (make package: build/lambdas/reverse.zip)"
  type        = string
}

variable "database_secret_arn" {
  description = "Secrets Manager secret with the production PostgreSQL URL of the reverse writer's role (JSON {\"url\": ...} or the URL itself)"
  type        = string
}

variable "control_table_name" {
  description = "Control table the function writes its status and failure log to"
  type        = string
}

variable "control_table_arn" {
  description = "ARN of the control table"
  type        = string
}

variable "dataset" {
  description = "Dataset whose changes are replicated (the flag's dataset, e.g. answers)"
  type        = string
  default     = "answers"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the migration's own metrics (ReverseReplicationLagSeconds)"
  type        = string
  default     = "PlatformOps/Migration"
}

variable "enabled" {
  description = "Whether the event source mapping starts enabled (normally false: ops replica reverse start enables it)"
  type        = bool
  default     = false
}

variable "subnet_ids" {
  description = "Subnets with a route to production PostgreSQL (empty: outside any VPC)"
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function (allowed into production PostgreSQL's security group)"
  type        = list(string)
  default     = []
}

variable "runtime" {
  description = "Lambda runtime"
  type        = string
  default     = "python3.12"
}

variable "memory_size" {
  description = "Memory of the function, MB"
  type        = number
  default     = 512
}

variable "timeout" {
  description = "Timeout of one batch, seconds"
  type        = number
  default     = 60
}

variable "reserved_concurrency" {
  description = "Reserved concurrency (one batch per shard at a time; shards x 1 is enough)"
  type        = number
  default     = 20
}

variable "batch_size" {
  description = "Stream records per invocation"
  type        = number
  default     = 200
  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch (bisected) before the record goes to the on-failure queue"
  type        = number
  default     = 10
  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 10000
    error_message = "maximum_retry_attempts must be between 0 and 10000."
  }
}

variable "iterator_age_threshold_ms" {
  description = "Alarm when the oldest unprocessed stream record is older than this, milliseconds"
  type        = number
  default     = 30000
}

variable "log_retention_days" {
  description = "Retention of the function's log group, days"
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key for the log group, queue and function environment (null: AWS-managed keys)"
  type        = string
  default     = null
}

variable "alarm_topic_arns" {
  description = "SNS topics the alarms notify"
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags of every resource"
  type        = map(string)
  default     = {}
}
