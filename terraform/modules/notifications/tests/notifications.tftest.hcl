mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  receiver_zip_path           = "tests/fixtures/receiver.zip"
  consumer_zip_path           = "tests/fixtures/consumer.zip"
  apple_bundle_id             = "com.example.diary"
  apple_app_apple_id          = "1234567890"
  google_package_name         = "com.example.diary"
  google_pubsub_audience      = "https://notifications.example.com/notifications/google"
  google_push_service_account = "rtdn-push@example.iam.gserviceaccount.com"
  kms_key_arn                 = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "wiring" {
  command = plan

  assert {
    condition     = aws_sqs_queue.this.fifo_queue && aws_sqs_queue.dlq.fifo_queue
    error_message = "Both the queue and its dead-letter queue must be FIFO."
  }

  assert {
    condition     = aws_sqs_queue.this.name == "subscription-notifications.fifo" && aws_sqs_queue.dlq.name == "subscription-notifications-dlq.fifo"
    error_message = "Queue names must match the ops CLI defaults."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).maxReceiveCount == 10
    error_message = "The queue must redrive to the DLQ after max_receive_count receives."
  }

  assert {
    condition     = aws_sqs_queue.this.content_based_deduplication == false && aws_sqs_queue.this.deduplication_scope == "messageGroup"
    error_message = "Deduplication must use the receiver's explicit deduplication IDs, scoped per message group."
  }

  assert {
    condition     = aws_sqs_queue.this.visibility_timeout_seconds == 6 * module.consumer.function.timeout
    error_message = "Visibility timeout must be six times the consumer timeout."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq.arn
    error_message = "The redrive policy must point at the FIFO DLQ."
  }

  assert {
    condition     = contains(jsondecode(aws_sqs_queue_redrive_allow_policy.dlq[0].redrive_allow_policy).sourceQueueArns, aws_sqs_queue.this.arn)
    error_message = "The DLQ must allow redrive only from the queue."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.consumer.function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "The consumer must report partial batch failures."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.consumer.batch_size == 10 && aws_lambda_event_source_mapping.consumer.scaling_config[0].maximum_concurrency == 5
    error_message = "Batch size and maximum concurrency must come from the variables."
  }

  assert {
    condition     = module.receiver.function.architectures == tolist(["arm64"]) && module.consumer.function.architectures == tolist(["arm64"])
    error_message = "Both functions must run on arm64."
  }

  assert {
    condition     = module.receiver.function.handler == "lambdas.receiver.handler.handler" && module.consumer.function.handler == "lambdas.consumer.handler.handler"
    error_message = "Handlers must match the Lambda layout contract."
  }

  assert {
    condition     = module.receiver.function.reserved_concurrent_executions == 50 && module.consumer.function.reserved_concurrent_executions == 10
    error_message = "Both functions must have reserved concurrency."
  }

  assert {
    condition     = module.receiver.log_group.retention_in_days == 365 && module.consumer.log_group.retention_in_days == 365
    error_message = "Log groups must have a retention."
  }

  assert {
    condition     = module.receiver.function.environment[0].variables["APPLE_ENVIRONMENT"] == "Production"
    error_message = "The receiver must get APPLE_ENVIRONMENT."
  }

  assert {
    condition     = !contains(keys(module.receiver.function.environment[0].variables), "MAX_BODY_BYTES")
    error_message = "Unset optional settings must be left to the function's default."
  }

  assert {
    condition     = module.consumer.function.environment[0].variables["IDEMPOTENCY_DAYS"] == "7"
    error_message = "The consumer must remember notifications for 7 days by default."
  }

  assert {
    condition     = length(aws_secretsmanager_secret.database) == 1 && length(aws_secretsmanager_secret.google_play) == 1
    error_message = "Missing secrets must be created for their owners to fill in."
  }

  assert {
    condition     = aws_sqs_queue.this.kms_master_key_id == var.kms_key_arn && aws_sqs_queue.dlq.kms_master_key_id == var.kms_key_arn
    error_message = "Both queues must be encrypted with the given key."
  }

  assert {
    condition     = alltrue([for g in [module.receiver.log_group, module.consumer.log_group, aws_cloudwatch_log_group.api] : g.kms_key_id == var.kms_key_arn])
    error_message = "Log groups must be encrypted with the given key."
  }

  assert {
    condition     = module.consumer.function.kms_key_arn == var.kms_key_arn && aws_secretsmanager_secret.database[0].kms_key_id == var.kms_key_arn
    error_message = "Function environments and secrets must be encrypted with the given key."
  }

  assert {
    condition     = toset([for r in aws_apigatewayv2_route.this : r.route_key]) == toset(["POST /notifications/apple", "POST /notifications/google"])
    error_message = "The HTTP API must have the Apple and Google routes."
  }

  assert {
    condition     = aws_apigatewayv2_stage.this.default_route_settings[0].throttling_rate_limit == 100 && aws_apigatewayv2_stage.this.default_route_settings[0].throttling_burst_limit == 200
    error_message = "The stage must throttle."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq_depth.dimensions["QueueName"] == "subscription-notifications-dlq.fifo" && aws_cloudwatch_metric_alarm.dlq_depth.threshold == 0
    error_message = "The DLQ alarm must fire on the first dead-lettered message."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.oldest_message_age.metric_name == "ApproximateAgeOfOldestMessage"
    error_message = "The queue must have an oldest-message-age alarm."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq_oldest_message_age.metric_name == "ApproximateAgeOfOldestMessage" && aws_cloudwatch_metric_alarm.dlq_oldest_message_age.dimensions["QueueName"] == "subscription-notifications-dlq.fifo" && aws_cloudwatch_metric_alarm.dlq_oldest_message_age.threshold < aws_sqs_queue.dlq.message_retention_seconds
    error_message = "The DLQ must have an age alarm that fires before SQS deletes its messages."
  }

  assert {
    condition     = aws_secretsmanager_secret.database[0].recovery_window_in_days == 30 && aws_secretsmanager_secret.google_play[0].recovery_window_in_days == 30
    error_message = "By default a deleted secret stays restorable."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.lambda_errors)) == toset(["receiver", "consumer"])
    error_message = "Both functions must have an error alarm."
  }
}

run "names_follow_the_name_prefix" {
  command = plan

  variables {
    name                            = "platform-ops-staging-subscription-notifications"
    secret_recovery_window_days     = 0
    create_dlq_redrive_allow_policy = false
  }

  assert {
    condition     = aws_sqs_queue.this.name == "platform-ops-staging-subscription-notifications.fifo" && aws_sqs_queue.dlq.name == "platform-ops-staging-subscription-notifications-dlq.fifo"
    error_message = "The queues carry the name, so two environments fit in one account."
  }

  assert {
    condition     = module.consumer.role_name == "platform-ops-staging-subscription-notifications-consumer" && aws_cloudwatch_log_group.api.name == "/aws/apigateway/platform-ops-staging-subscription-notifications" && aws_secretsmanager_secret.database[0].name == "platform-ops-staging-subscription-notifications/database-url"
    error_message = "Roles, log groups and secrets carry the name."
  }

  assert {
    condition     = alltrue([for s in [aws_secretsmanager_secret.database[0], aws_secretsmanager_secret.google_play[0], aws_secretsmanager_secret.app_store_key[0]] : s.recovery_window_in_days == 0])
    error_message = "A recovery window of 0 deletes the secrets at once, so the names are free again after a destroy."
  }

  assert {
    condition     = length(aws_sqs_queue_redrive_allow_policy.dlq) == 0
    error_message = "The redrive-allow policy is optional."
  }
}

run "rejects_a_recovery_window_secrets_manager_refuses" {
  command = plan

  variables {
    secret_recovery_window_days              = 3
    dlq_oldest_message_age_threshold_seconds = 1209600
  }

  expect_failures = [var.secret_recovery_window_days, var.dlq_oldest_message_age_threshold_seconds]
}

run "existing_secrets_are_used_not_created" {
  command = plan

  variables {
    database_secret_arn                = "arn:aws:secretsmanager:us-east-1:123456789012:secret:entitlements-db-AbCdEf"
    google_play_credentials_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:play-sa-AbCdEf"
  }

  assert {
    condition     = length(aws_secretsmanager_secret.database) == 0 && module.consumer.function.environment[0].variables["DATABASE_SECRET_ARN"] == var.database_secret_arn
    error_message = "A given database secret must be passed through, not created."
  }
}

run "queues_use_sqs_managed_encryption_without_a_key" {
  command = plan

  variables {
    kms_key_arn = null
  }

  assert {
    condition     = aws_sqs_queue.this.sqs_managed_sse_enabled && aws_sqs_queue.dlq.sqs_managed_sse_enabled
    error_message = "Without a KMS key the queues must still be encrypted (SQS-managed SSE)."
  }
}

run "rejects_bad_queue_and_mapping_settings" {
  command = plan

  variables {
    queue_name                   = "subscription-notifications"
    dlq_name                     = "subscription-notifications-dlq"
    batch_size                   = 11
    consumer_maximum_concurrency = 1
  }

  expect_failures = [var.queue_name, var.dlq_name, var.batch_size, var.consumer_maximum_concurrency]
}

run "rejects_an_unknown_apple_environment" {
  command = plan

  variables {
    apple_environment = "Staging"
  }

  expect_failures = [var.apple_environment]
}

run "requires_the_app_apple_id_in_production" {
  command = plan

  variables {
    apple_app_apple_id = null
  }

  expect_failures = [var.apple_environment]
}

run "reconciler_runs_on_schedule_with_the_consumers_configuration" {
  command = plan

  variables {
    apple_consumption_response = true
    apple_refund_preference    = "DECLINE"
  }

  assert {
    condition     = module.reconcile[0].function.handler == "lambdas.consumer.reconcile_handler.handler" && module.reconcile[0].function.filename == var.consumer_zip_path
    error_message = "The reconciler runs reconcile_handler from the consumer's package."
  }

  assert {
    condition     = module.reconcile[0].function.environment[0].variables == module.consumer.function.environment[0].variables
    error_message = "The reconciler must read exactly the consumer's configuration."
  }

  assert {
    condition     = module.consumer.function.environment[0].variables["APPLE_CONSUMPTION_RESPONSE"] == "on" && module.consumer.function.environment[0].variables["APPLE_REFUND_PREFERENCE"] == "DECLINE"
    error_message = "Consumption answers must follow the variables."
  }

  assert {
    condition     = aws_cloudwatch_event_rule.reconcile["due"].schedule_expression == "rate(1 hour)" && jsondecode(aws_cloudwatch_event_target.reconcile["sweep"].input).every == true
    error_message = "An hourly run of due subscriptions and a full sweep must be scheduled."
  }

  assert {
    condition     = length(aws_secretsmanager_secret.app_store_key) == 1 && module.reconcile[0].function.environment[0].variables["APP_STORE_API_KEY_SECRET_ARN"] == local.app_store_key_secret_arn
    error_message = "The App Store key secret must be created and given to the reconciler."
  }

  assert {
    condition     = contains(jsondecode(aws_iam_role_policy.consumer_app_store.policy).Statement[0].Resource, local.app_store_key_secret_arn)
    error_message = "The consumer must be able to read the App Store key (consumption answers)."
  }
}

run "reconciler_can_be_turned_off" {
  command = plan

  variables {
    enable_reconciliation        = false
    app_store_api_key_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:asc-key-AbCdEf"
  }

  assert {
    condition     = length(module.reconcile) == 0 && length(aws_cloudwatch_event_rule.reconcile) == 0 && length(aws_secretsmanager_secret.app_store_key) == 0
    error_message = "Without reconciliation there is no reconciler and no schedule; a given key secret is not created."
  }
}

run "purchase_routes_reach_the_receiver" {
  command = plan

  assert {
    condition     = toset([for r in aws_apigatewayv2_route.purchases : r.route_key]) == toset(["POST /purchases/apple", "POST /purchases/google"])
    error_message = "The app's purchase routes must exist."
  }

  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.purchases : r.authorization_type == "NONE"]) && length(aws_apigatewayv2_authorizer.purchases) == 0
    error_message = "Without an issuer the purchase routes have no authorizer."
  }
}

run "purchase_routes_require_the_apps_jwt_when_configured" {
  command = plan

  variables {
    purchase_jwt_issuer    = "https://auth.example.com/"
    purchase_jwt_audiences = ["couple-diary-app"]
  }

  assert {
    condition     = alltrue([for r in aws_apigatewayv2_route.purchases : r.authorization_type == "JWT"]) && length(aws_apigatewayv2_authorizer.purchases) == 1
    error_message = "With an issuer the purchase routes require the app's JWT."
  }
}

run "rejects_an_unknown_refund_preference" {
  command = plan

  variables {
    apple_refund_preference = "MAYBE"
  }

  expect_failures = [var.apple_refund_preference]
}
