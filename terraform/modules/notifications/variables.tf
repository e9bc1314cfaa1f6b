variable "name" {
  description = "Name prefix of the API, the functions, their roles and alarms."
  type        = string
  default     = "subscription-notifications"
}

variable "queue_name" {
  description = "Name of the FIFO queue the receiver writes and the consumer reads (OPS_NOTIFICATIONS_QUEUE); null means <name>.fifo."
  type        = string
  default     = null

  validation {
    condition     = var.queue_name == null || endswith(coalesce(var.queue_name, ".fifo"), ".fifo")
    error_message = "queue_name must end in .fifo (the queue is FIFO)."
  }
}

variable "dlq_name" {
  description = "Name of the FIFO dead-letter queue (OPS_NOTIFICATIONS_DLQ); null means <name>-dlq.fifo."
  type        = string
  default     = null

  validation {
    condition     = var.dlq_name == null || endswith(coalesce(var.dlq_name, ".fifo"), ".fifo")
    error_message = "dlq_name must end in .fifo (a FIFO queue's dead-letter queue must be FIFO)."
  }
}

variable "secret_recovery_window_days" {
  description = "Days a deleted secret can still be restored (7-30), or 0 to delete it at once so the environment can be re-created under the same names right after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "create_dlq_redrive_allow_policy" {
  description = "Whether the DLQ gets a redrive-allow policy that accepts only this queue as a source (off only where the SQS API lacks RedriveAllowPolicy, such as an emulator)."
  type        = bool
  default     = true
}

variable "receiver_zip_path" {
  description = "Path of the receiver's deployment package (build/lambdas/receiver.zip from `make package`)."
  type        = string
}

variable "consumer_zip_path" {
  description = "Path of the consumer's deployment package (build/lambdas/consumer.zip from `make package`)."
  type        = string
}

variable "runtime" {
  description = "Python runtime of both functions: python3.11 or python3.12."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12"], var.runtime)
    error_message = "runtime must be python3.11 or python3.12 (the packages are built for these)."
  }
}

variable "receiver_memory_size" {
  description = "Memory of the receiver in MB."
  type        = number
  default     = 512
}

variable "consumer_memory_size" {
  description = "Memory of the consumer in MB."
  type        = number
  default     = 512
}

variable "receiver_timeout" {
  description = "Timeout of the receiver in seconds (API Gateway waits at most 30)."
  type        = number
  default     = 15

  validation {
    condition     = var.receiver_timeout >= 1 && var.receiver_timeout <= 29
    error_message = "receiver_timeout must be between 1 and 29 seconds (the HTTP API integration times out at 30)."
  }
}

variable "consumer_timeout" {
  description = "Timeout of the consumer in seconds; the queue's visibility timeout is six times this."
  type        = number
  default     = 60

  validation {
    condition     = var.consumer_timeout >= 1 && var.consumer_timeout <= 900
    error_message = "consumer_timeout must be between 1 and 900 seconds."
  }
}

variable "receiver_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the receiver."
  type        = number
  default     = 50
}

variable "consumer_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the consumer; at least consumer_maximum_concurrency."
  type        = number
  default     = 10
}

variable "consumer_maximum_concurrency" {
  description = "Maximum concurrent consumer invocations the event source mapping starts (2-1000)."
  type        = number
  default     = 5

  validation {
    condition     = var.consumer_maximum_concurrency >= 2 && var.consumer_maximum_concurrency <= 1000
    error_message = "consumer_maximum_concurrency must be between 2 and 1000."
  }
}

variable "batch_size" {
  description = "Messages per consumer invocation (1-10 for a FIFO queue)."
  type        = number
  default     = 10

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10
    error_message = "batch_size must be between 1 and 10 for a FIFO queue."
  }
}

variable "max_receive_count" {
  description = "Receives of a message before it moves to the dead-letter queue. With the consumer's store-outage backoff (60, 120, 240, 480 s, then 900 s between receives), 10 rides out 90 minutes of Play or App Store outage; a bug still dead-letters after 10 queue visibility timeouts."
  type        = number
  default     = 10

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 1 and 1000."
  }
}

variable "queue_message_retention_seconds" {
  description = "Retention of the queue in seconds."
  type        = number
  default     = 345600
}

variable "throttling_burst_limit" {
  description = "Burst limit of the HTTP API's default route settings."
  type        = number
  default     = 200
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second of the HTTP API's default route settings."
  type        = number
  default     = 100
}

variable "apple_route_key" {
  description = "Route key of the App Store Server Notifications V2 endpoint."
  type        = string
  default     = "POST /notifications/apple"
}

variable "google_route_key" {
  description = "Route key of the Google Play RTDN Pub/Sub push endpoint."
  type        = string
  default     = "POST /notifications/google"
}

variable "apple_bundle_id" {
  description = "Bundle ID the Apple notifications must carry."
  type        = string
}

variable "apple_app_apple_id" {
  description = "App Apple ID the Apple notifications must carry (required in Production)."
  type        = string
  default     = null
}

variable "apple_environment" {
  description = "Apple environment accepted by the receiver: Production or Sandbox."
  type        = string
  default     = "Production"

  validation {
    condition     = contains(["Production", "Sandbox"], var.apple_environment)
    error_message = "apple_environment must be Production or Sandbox."
  }

  validation {
    condition     = var.apple_environment != "Production" || var.apple_app_apple_id != null
    error_message = "apple_app_apple_id is required when apple_environment is Production."
  }
}

variable "apple_online_checks" {
  description = "Whether the receiver also checks certificates online (OCSP); null keeps the function's default (off)."
  type        = bool
  default     = null
}

variable "google_package_name" {
  description = "Android package name the Google notifications must carry."
  type        = string
}

variable "google_pubsub_audience" {
  description = "Audience of the Pub/Sub push OIDC token."
  type        = string
}

variable "google_push_service_account" {
  description = "Service account email that signs the Pub/Sub push tokens."
  type        = string
}

variable "max_body_bytes" {
  description = "Largest request body the receiver accepts; null keeps the function's default."
  type        = number
  default     = null
}

variable "apple_lifetime_product_ids" {
  description = "Apple product IDs of the lifetime pass (holders keep their entitlement)."
  type        = list(string)
  default     = []
}

variable "google_lifetime_product_ids" {
  description = "Google product IDs of the lifetime pass."
  type        = list(string)
  default     = []
}

variable "idempotency_days" {
  description = "Days a processed notification ID is remembered."
  type        = number
  default     = 7

  validation {
    condition     = var.idempotency_days >= 7
    error_message = "idempotency_days must be at least 7 (Apple and Google retry for days)."
  }
}

variable "log_level" {
  description = "Log level of both functions: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "database_secret_arn" {
  description = "Secret whose string is the PostgreSQL URL of the entitlement database; null creates an empty secret to fill in."
  type        = string
  default     = null
}

variable "google_play_credentials_secret_arn" {
  description = "Secret holding the Google Play Developer API service-account JSON; null creates an empty secret to fill in."
  type        = string
  default     = null
}

variable "consumer_subnet_ids" {
  description = "Private subnets of the consumer, which must reach its database inside a VPC and the Google Play Developer API through a NAT gateway; empty runs it outside a VPC."
  type        = list(string)
  default     = []
}

variable "consumer_security_group_ids" {
  description = "Security groups of the consumer inside a VPC."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Retention of the functions' and the API's log groups, in days."
  type        = number
  default     = 365
}

variable "oldest_message_age_threshold_seconds" {
  description = "Age of the oldest queued message that raises the alarm."
  type        = number
  default     = 600
}

variable "dlq_oldest_message_age_threshold_seconds" {
  description = "Age of the oldest dead-lettered message that raises the alarm; keep it well under the DLQ's 14-day retention, after which SQS deletes the message."
  type        = number
  default     = 864000

  validation {
    condition     = var.dlq_oldest_message_age_threshold_seconds > 0 && var.dlq_oldest_message_age_threshold_seconds < 1209600
    error_message = "dlq_oldest_message_age_threshold_seconds must be above 0 and below the DLQ's retention of 1209600 seconds (14 days)."
  }
}

variable "alarm_actions" {
  description = "SNS topic ARNs notified by the alarms."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "KMS key of the queues, secrets, log groups and the functions' environment; null uses AWS managed keys."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "enable_reconciliation" {
  description = "Create the scheduled reconciler (hourly due subscriptions, weekly full sweep)."
  type        = bool
  default     = true
}

variable "reconcile_schedule_expression" {
  description = "EventBridge schedule of the reconciler's regular run (due subscriptions, recent history and voids)."
  type        = string
  default     = "rate(1 hour)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.reconcile_schedule_expression))
    error_message = "reconcile_schedule_expression must be an EventBridge rate(...) or cron(...) expression."
  }
}

variable "reconcile_sweep_schedule_expression" {
  description = "EventBridge schedule of the reconciler's full sweep of every subscription."
  type        = string
  default     = "cron(0 3 ? * SUN *)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.reconcile_sweep_schedule_expression))
    error_message = "reconcile_sweep_schedule_expression must be an EventBridge rate(...) or cron(...) expression."
  }
}

variable "reconcile_timeout" {
  description = "Timeout of the reconciler in seconds."
  type        = number
  default     = 900

  validation {
    condition     = var.reconcile_timeout >= 60 && var.reconcile_timeout <= 900
    error_message = "reconcile_timeout must be between 60 and 900 seconds."
  }
}

variable "app_store_api_key_secret_arn" {
  description = "Secrets Manager ARN of the App Store Server API key JSON ({key_id, issuer_id, private_key}); null creates an empty secret for its owner to fill."
  type        = string
  default     = null
}

variable "apple_consumption_response" {
  description = "Answer CONSUMPTION_REQUEST with Send Consumption Information (only if the app's terms obtain the customer's consent)."
  type        = bool
  default     = false
}

variable "apple_refund_preference" {
  description = "Refund preference sent with consumption information: DECLINE, GRANT_FULL or GRANT_PRORATED (null: none)."
  type        = string
  default     = null

  validation {
    condition     = var.apple_refund_preference == null || contains(["DECLINE", "GRANT_FULL", "GRANT_PRORATED"], coalesce(var.apple_refund_preference, "DECLINE"))
    error_message = "apple_refund_preference must be DECLINE, GRANT_FULL or GRANT_PRORATED."
  }
}

variable "payload_retention_days" {
  description = "Days raw notification payloads are kept for replay (payloads no strategy applied yet are kept until replayed)."
  type        = number
  default     = 90

  validation {
    condition     = var.payload_retention_days >= 7
    error_message = "payload_retention_days must be at least 7."
  }
}

variable "enable_purchase_routes" {
  description = "Create the client purchase routes the app posts purchases and restores to."
  type        = bool
  default     = true
}

variable "apple_purchase_route_key" {
  description = "Route key where the app posts a signed Apple transaction."
  type        = string
  default     = "POST /purchases/apple"
}

variable "google_purchase_route_key" {
  description = "Route key where the app posts a Google purchase token."
  type        = string
  default     = "POST /purchases/google"
}

variable "purchase_jwt_issuer" {
  description = "Issuer of the app users' JWTs that the purchase routes require (null: no authorizer)."
  type        = string
  default     = null
}

variable "purchase_jwt_audiences" {
  description = "Audiences accepted by the purchase routes' JWT authorizer."
  type        = list(string)
  default     = []
}
