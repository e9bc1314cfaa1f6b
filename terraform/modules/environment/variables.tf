################################################################################
# Environment and names
################################################################################

variable "environment" {
  description = "Name of the environment (staging, prod): in every resource name (through name_prefix) and tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.environment))
    error_message = "environment must be 2-20 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "name_prefix" {
  description = "Prefix of every name (tables, queues, roles, secrets, log groups, alarms, the flag path); null means platform-ops-<environment>."
  type        = string
  default     = null

  validation {
    condition     = var.name_prefix == null || can(regex("^[a-z][a-z0-9-]{2,30}[a-z0-9]$", coalesce(var.name_prefix, "x")))
    error_message = "name_prefix must be 4-32 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "tags" {
  description = "Tags added to every resource (the provider's default_tags come on top)."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Deletion protection of the V2 replica and both DynamoDB tables (turn it off only to tear the environment down; runbooks/infrastructure.md)."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Days a destroyed secret can still be restored (7-30), or 0 to delete it at once so the environment can be re-created right after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "kms_deletion_window_days" {
  description = "Days the environment's KMS key waits before it is deleted after a destroy (7-30)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group of the environment (RDS, DMS, Lambdas, API), in days."
  type        = number
  default     = 365
}

################################################################################
# Network and the link to production
################################################################################

variable "vpc_cidr" {
  description = "CIDR block of the migration VPC (also migration_vpc_cidr of the production link)."
  type        = string
}

variable "azs" {
  description = "Availability zones of the migration VPC (at least two)."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "Private subnet CIDR blocks, one per availability zone."
  type        = list(string)
}

variable "public_subnet_cidrs" {
  description = "Public subnet CIDR blocks for the NAT gateway of the notification consumer (at least one; needed when notifications_consumer_in_vpc is true)."
  type        = list(string)
  default     = []
}

variable "production_connection_type" {
  description = "How the migration VPC reaches production: peering, transit_gateway or none."
  type        = string
  default     = "peering"

  validation {
    condition     = contains(["none", "peering", "transit_gateway"], var.production_connection_type)
    error_message = "production_connection_type must be one of none, peering, transit_gateway."
  }
}

variable "production_vpc_cidr" {
  description = "CIDR block of the production VPC (the source database and the entitlement database live there)."
  type        = string
  default     = null
}

variable "production_vpc_id" {
  description = "Production VPC to peer with (production link output production_vpc_id)."
  type        = string
  default     = null
}

variable "production_vpc_owner_id" {
  description = "Account of the production VPC (production link output production_account_id); the production link accepts the peering from there."
  type        = string
  default     = null
}

variable "production_vpc_region" {
  description = "Region of the production VPC, when it is not this one."
  type        = string
  default     = null
}

variable "transit_gateway_id" {
  description = "Transit gateway to production (production_connection_type = transit_gateway)."
  type        = string
  default     = null
}

################################################################################
# Replication: the V2 replica and DMS
################################################################################

variable "source_database" {
  description = "Production PostgreSQL, the DMS source: its address (production link output source_db_address), port, database, the replication user DMS connects as, and its RDS instance identifier (the preflight measures its free storage; null when the source is not RDS)."
  type = object({
    address             = string
    port                = optional(number, 5432)
    name                = optional(string, "app")
    username            = optional(string, "platform_ops_replication")
    instance_identifier = optional(string)
  })
}

variable "source_secret_arn" {
  description = "An existing DMS-format secret (host, port, username, password) of the replication user; null creates one with a generated password for the production link's SQL."
  type        = string
  default     = null
}

variable "v2_dms_username" {
  description = "User DMS writes the V2 replica as."
  type        = string
  default     = "platform_ops_dms"
}

variable "v2_reader_username" {
  description = "Read-only V2 user of the backfill workers and the operator's CLI."
  type        = string
  default     = "platform_ops_reader"
}

variable "credentials_generation" {
  description = "Generation of the generated database passwords: raise it to write new passwords into the secrets, then run the users' SQL again."
  type        = number
  default     = 1
}

variable "rds_engine_version" {
  description = "PostgreSQL major version of the V2 replica (production's); RDS applies minor versions."
  type        = string
  default     = "16"
}

variable "rds_auto_minor_version_upgrade" {
  description = "Whether RDS applies minor versions to the V2 replica (then rds_engine_version is a major version only)."
  type        = bool
  default     = true
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

variable "rds_skip_final_snapshot" {
  description = "Whether destroying the V2 replica skips its final snapshot (each instance otherwise leaves <identifier>-final-<creation time>)."
  type        = bool
  default     = false
}

variable "dms_replication_type" {
  description = "instance (a replication instance and task) or serverless (a DMS Serverless replication config)."
  type        = string
  default     = "instance"

  validation {
    condition     = contains(["instance", "serverless"], var.dms_replication_type)
    error_message = "dms_replication_type must be instance or serverless."
  }
}

variable "dms_multi_az" {
  description = "Whether the DMS replication runs Multi-AZ."
  type        = bool
  default     = true
}

variable "dms_lob_mode" {
  description = "full (every text, bytea, jsonb and array value copied whole) or limited (values above dms_lob_max_size_kb are cut; the preflight refuses it when the source holds a larger value)."
  type        = string
  default     = "full"

  validation {
    condition     = contains(["full", "limited"], var.dms_lob_mode)
    error_message = "dms_lob_mode must be full or limited."
  }
}

variable "dms_lob_max_size_kb" {
  description = "Largest LOB value in KB that limited LOB mode copies whole (dms_lob_mode = limited only)."
  type        = number
  default     = null
}

variable "create_dms_account_roles" {
  description = "Whether this environment creates the account-wide roles DMS looks up by name (dms-vpc-role, dms-cloudwatch-logs-role): exactly one stack per account does."
  type        = bool
  default     = true
}

variable "create_dms_replication" {
  description = "Whether to create the DMS replication (task or serverless config); false keeps the endpoints only."
  type        = bool
  default     = true
}

################################################################################
# DynamoDB, the flag, the backfill
################################################################################

variable "target_table_name" {
  description = "Target DynamoDB table (OPS_TARGET_TABLE); null means <name_prefix>-couple-diary."
  type        = string
  default     = null
}

variable "control_table_name" {
  description = "Control DynamoDB table (OPS_CONTROL_TABLE); null means <name_prefix>-control."
  type        = string
  default     = null
}

variable "max_write_request_units" {
  description = "On-demand write cap of the target table; null means none."
  type        = number
  default     = null
}

variable "dataset" {
  description = "Dataset the ops CLI migrates by default (OPS_DATASET)."
  type        = string
  default     = "answers"
}

variable "datasets" {
  description = "Every dataset with its own migration mode parameter and outbox alarm (must include dataset)."
  type        = list(string)
  default     = ["answers"]

  validation {
    condition     = contains(var.datasets, var.dataset)
    error_message = "datasets must include dataset, or the ops CLI would read a mode parameter that does not exist."
  }
}

variable "flag_prefix" {
  description = "Prefix of the migration mode parameters (OPS_FLAG_PREFIX); null means /<name_prefix>/migration."
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the migration metrics (OPS_METRICS_NAMESPACE): the backfill's and the outbox drainer's."
  type        = string
  default     = "PlatformOps/Migration"
}

variable "outbox_max_age_seconds" {
  description = "Age of the oldest dual-write outbox row above which the outbox alarm fires (the dual-write gate's threshold)."
  type        = number
  default     = 60
}

variable "backfill_worker_count" {
  description = "Backfill workers; 0 until the backfill phase."
  type        = number
  default     = 0
}

variable "backfill_instance_type" {
  description = "Instance type of a backfill worker (arm64)."
  type        = string
  default     = "c7g.large"
}

variable "backfill_processes" {
  description = "Processes per backfill worker (`ops backfill run --processes`); null runs one per vCPU."
  type        = number
  default     = null
}

variable "enable_backfill_detailed_monitoring" {
  description = "Whether the backfill workers have EC2 detailed monitoring."
  type        = bool
  default     = true
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

################################################################################
# Notifications
################################################################################

variable "lambda_package_dir" {
  description = "Folder with receiver.zip and consumer.zip (from `make package`); null means build/lambdas in the repository."
  type        = string
  default     = null
}

variable "notifications_consumer_in_vpc" {
  description = "Whether the consumer runs in the VPC's private subnets (reaching its database through the production connection and the Google Play API through a NAT gateway)."
  type        = bool
  default     = true
}

variable "notifications_database_cidrs" {
  description = "Where the consumer reaches its entitlement database (PostgreSQL); null means the production VPC."
  type        = list(string)
  default     = null
}

variable "create_sqs_redrive_allow_policy" {
  description = "Whether the notification DLQ accepts redrives only from its queue (RedriveAllowPolicy)."
  type        = bool
  default     = true
}

variable "apple_bundle_id" {
  description = "Bundle ID of the app (APPLE_BUNDLE_ID)."
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

variable "reverse_database_secret_arn" {
  description = "Secret with the production PostgreSQL URL the reverse writer connects with (JSON {\"url\": ...}; a user that may write the migrated tables); null creates one to fill in."
  type        = string
  default     = null
}

variable "reverse_iterator_age_threshold_ms" {
  description = "Reverse replication alarm: the stream's iterator age (ms) above which DynamoDB changes are not reaching PostgreSQL in time."
  type        = number
  default     = 30000
}
