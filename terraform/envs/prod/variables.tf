variable "environment" {
  description = "Environment name, used in resource names and tags."
  type        = string
}

variable "region" {
  description = "AWS region of the environment (the ops CLI reads it as AWS_DEFAULT_REGION)."
  type        = string
  default     = "us-east-1"
}

variable "deletion_protection" {
  description = "Deletion protection of the V2 replica and the DynamoDB tables."
  type        = bool
  default     = true
}

# Names the ops CLI and the application read: defaults are ops/settings.py's ENV_DEFAULTS.

variable "target_table_name" {
  description = "Target DynamoDB table (OPS_TARGET_TABLE)."
  type        = string
  default     = "couple-diary"
}

variable "control_table_name" {
  description = "Control DynamoDB table (OPS_CONTROL_TABLE)."
  type        = string
  default     = "platform-ops-control"
}

variable "dataset" {
  description = "Dataset the ops CLI migrates by default (OPS_DATASET)."
  type        = string
  default     = "answers"
}

variable "datasets" {
  description = "Every dataset with its own migration mode parameter (must include dataset)."
  type        = list(string)
  default     = ["answers"]

  validation {
    condition     = contains(var.datasets, var.dataset)
    error_message = "datasets must include dataset, or the ops CLI would read a mode parameter that does not exist."
  }
}

variable "flag_prefix" {
  description = "Prefix of the migration mode parameters (OPS_FLAG_PREFIX)."
  type        = string
  default     = "/platform-ops/migration"
}

variable "notifications_queue_name" {
  description = "FIFO queue of the notification pipeline (OPS_NOTIFICATIONS_QUEUE)."
  type        = string
  default     = "subscription-notifications.fifo"
}

variable "notifications_dlq_name" {
  description = "FIFO dead-letter queue of the notification pipeline (OPS_NOTIFICATIONS_DLQ)."
  type        = string
  default     = "subscription-notifications-dlq.fifo"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the migration metrics (OPS_METRICS_NAMESPACE)."
  type        = string
  default     = "PlatformOps/Migration"
}

# Network

variable "vpc_cidr" {
  description = "CIDR block of the migration VPC."
  type        = string
}

variable "azs" {
  description = "Availability zones of the migration VPC."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "Private subnet CIDR blocks, one per availability zone."
  type        = list(string)
}

variable "production_connection_type" {
  description = "How the migration VPC reaches production: none, peering or transit_gateway."
  type        = string
  default     = "peering"
}

variable "production_vpc_cidr" {
  description = "CIDR block of the production VPC."
  type        = string
  default     = null
}

variable "production_vpc_id" {
  description = "Production VPC to peer with."
  type        = string
  default     = null
}

variable "transit_gateway_id" {
  description = "Transit gateway to production (production_connection_type = transit_gateway)."
  type        = string
  default     = null
}

# Replication

variable "source_database_name" {
  description = "Database of production PostgreSQL that DMS replicates."
  type        = string
  default     = "app"
}

variable "source_secret_arn" {
  description = "Secret in DMS format (host, port, username, password) for the production PostgreSQL, owned by its team."
  type        = string
}

variable "dms_replication_type" {
  description = "instance or serverless DMS replication."
  type        = string
  default     = "instance"
}

variable "rds_instance_class" {
  description = "Instance class of the V2 replica."
  type        = string
  default     = "db.r6g.xlarge"
}

variable "rds_multi_az" {
  description = "Whether the V2 replica is Multi-AZ."
  type        = bool
  default     = true
}

# Backfill

variable "backfill_worker_count" {
  description = "Backfill workers; 0 until the backfill phase."
  type        = number
  default     = 0
}

variable "backfill_instance_type" {
  description = "Instance type of a backfill worker."
  type        = string
  default     = "c7g.large"
}

variable "ops_package" {
  description = "pip requirement that installs the ops CLI on the workers."
  type        = string
  default     = "platform-ops"
}

variable "ops_wheelhouse_s3_uri" {
  description = "s3://bucket/prefix with the wheels of the ops package and its dependencies (built with `pip wheel -w`)."
  type        = string
}

variable "max_write_request_units" {
  description = "On-demand write cap of the target table; null means none."
  type        = number
  default     = null
}

# Notifications

variable "lambda_package_dir" {
  description = "Folder with receiver.zip and consumer.zip (from `make package`); null means build/lambdas in the repository."
  type        = string
  default     = null
}

variable "apple_bundle_id" {
  description = "Bundle ID of the app."
  type        = string
}

variable "apple_app_apple_id" {
  description = "App Apple ID (required for Production notifications)."
  type        = string
  default     = null
}

variable "apple_environment" {
  description = "Apple environment the receiver accepts: Production or Sandbox."
  type        = string
}

variable "google_package_name" {
  description = "Android package name of the app."
  type        = string
}

variable "google_pubsub_audience" {
  description = "Audience of the Pub/Sub push OIDC token."
  type        = string
}

variable "google_push_service_account" {
  description = "Service account that signs the Pub/Sub pushes."
  type        = string
}

variable "apple_lifetime_product_ids" {
  description = "Apple product IDs of the lifetime pass."
  type        = list(string)
  default     = []
}

variable "google_lifetime_product_ids" {
  description = "Google product IDs of the lifetime pass."
  type        = list(string)
  default     = []
}

variable "entitlement_database_secret_arn" {
  description = "Secret with the entitlement database URL; null creates one to fill in."
  type        = string
  default     = null
}
