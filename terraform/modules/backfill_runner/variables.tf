variable "name" {
  description = "Name prefix of the workers and their IAM, dashboard and alarms."
  type        = string
}

variable "worker_count" {
  description = "Number of backfill workers; worker i of N takes its own segments."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_count >= 0 && var.worker_count <= 64 && floor(var.worker_count) == var.worker_count
    error_message = "worker_count must be a whole number between 0 and 64."
  }
}

variable "instance_type" {
  description = "EC2 instance type of a worker (arm64, matching the default AMI)."
  type        = string
  default     = "c7g.large"
}

variable "ami_id" {
  description = "AMI of the workers; null takes the latest Amazon Linux 2023 arm64 AMI."
  type        = string
  default     = null
}

variable "root_volume_size" {
  description = "Root volume size of a worker in GiB."
  type        = number
  default     = 30
}

variable "subnet_ids" {
  description = "Private subnets the workers are spread over."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must contain at least one subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups of the workers (no ingress; Session Manager needs none)."
  type        = list(string)
}

variable "ops_package" {
  description = "pip requirement that installs the ops CLI on a worker, for example platform-ops==0.1.0."
  type        = string
  default     = "platform-ops"
}

variable "ops_wheelhouse_s3_uri" {
  description = "s3://bucket/prefix holding the wheels of the ops package and its dependencies (`pip wheel -w`); the private subnets have no internet route, so workers install from it offline."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9.-]+(/.*)?$", var.ops_wheelhouse_s3_uri))
    error_message = "ops_wheelhouse_s3_uri must look like s3://bucket/prefix."
  }
}

variable "ops_environment" {
  description = "Environment of the ops CLI on the workers (OPS_* names, AWS_DEFAULT_REGION), written to /etc/platform-ops.env with V2_DATABASE_URL."
  type        = map(string)
  default     = {}
}

variable "v2_database_secret_arn" {
  description = "Secret of the read-only V2 user (JSON with username, password, host, port, dbname); the workers build V2_DATABASE_URL from it before every command."
  type        = string
}

variable "processes" {
  description = "Processes per worker, passed as `ops backfill run --processes N`; null runs one per vCPU of the instance."
  type        = number
  default     = null

  validation {
    condition     = var.processes == null || try(var.processes >= 1 && floor(var.processes) == var.processes, false)
    error_message = "processes must be a whole number of at least 1, or null for one per vCPU."
  }
}

variable "enable_detailed_monitoring" {
  description = "Whether the workers have EC2 detailed (1-minute) monitoring, which the dashboard's CPU widget reads."
  type        = bool
  default     = true
}

variable "dynamodb_table_arns" {
  description = "Tables the workers write and verify (the target table)."
  type        = list(string)
}

variable "control_table_arn" {
  description = "Control table the workers keep checkpoints, the failure log and leases in."
  type        = string
}

variable "secret_arns" {
  description = "Further secrets the workers may read (besides v2_database_secret_arn)."
  type        = list(string)
  default     = []
}

variable "parameter_arns" {
  description = "SSM parameters the workers read (the migration mode)."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "KMS key of the tables, secrets and the root volume; null uses AWS managed keys."
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the backfill metrics (OPS_METRICS_NAMESPACE)."
  type        = string
  default     = "PlatformOps/Migration"
}

variable "metric_names" {
  description = "Names of the metrics the backfill publishes (ops/backfill/metrics.py)."
  type = object({
    rows_read    = optional(string, "RowsRead")
    rows_written = optional(string, "RowsWritten")
    rows_present = optional(string, "RowsAlreadyPresent")
    rows_failed  = optional(string, "RowsFailed")
    throttle     = optional(string, "ThrottleEvents")
    write_mbps   = optional(string, "WriteMbps")
  })
  default = {}
}

variable "metric_dimensions" {
  description = "Dimensions the backfill publishes its metrics with; the alarms and dashboard sum over them."
  type        = list(string)
  default     = ["RunId", "Worker"]
}

variable "failed_rows_threshold" {
  description = "Rows landing in the failure log within 5 minutes that raise the alarm."
  type        = number
  default     = 100
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
