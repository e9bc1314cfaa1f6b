mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name               = "platform-ops-test-worker"
  description        = "A function under test"
  handler            = "lambdas.reverse.handler.handler"
  runtime            = "python3.12"
  zip_path           = "tests/fixtures/reverse.zip"
  memory_size        = 512
  timeout            = 60
  environment        = { OPS_DATASET = "answers" }
  policy_name        = "worker"
  log_retention_days = 365
  kms_key_arn        = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  policy_statements = [
    { Sid = "Enqueue", Effect = "Allow", Action = ["sqs:SendMessage"], Resource = ["arn:aws:sqs:us-east-1:123456789012:q"] },
  ]
}

run "every_function_gets_the_same_baseline" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.function_name == var.name && aws_iam_role.this.name == var.name && aws_cloudwatch_log_group.this.name == "/aws/lambda/${var.name}"
    error_message = "The function, its role and its log group carry one name."
  }

  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["arm64"]) && aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "Every function runs on arm64 with active tracing."
  }

  assert {
    condition     = aws_lambda_function.this.logging_config[0].log_format == "JSON" && aws_lambda_function.this.logging_config[0].log_group == aws_cloudwatch_log_group.this.name
    error_message = "Every function logs JSON to its own log group."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 365 && aws_cloudwatch_log_group.this.kms_key_id == var.kms_key_arn && aws_lambda_function.this.kms_key_arn == var.kms_key_arn
    error_message = "The log group keeps its retention and the key encrypts logs and environment."
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid] == ["Enqueue", "Logs", "Tracing", "UseKey"]
    error_message = "The role holds the caller's statements, then writing the logs, sending traces and using the key."
  }

  assert {
    condition     = jsondecode(aws_iam_role_policy.this.policy).Statement[2].Action == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    error_message = "Active tracing needs the role to send segments to X-Ray."
  }

  assert {
    condition     = aws_iam_role_policy.this.name == "worker" && aws_lambda_function.this.environment[0].variables == tomap({ OPS_DATASET = "answers" })
    error_message = "The inline policy's name and the environment come from the caller."
  }

  assert {
    condition     = length(aws_lambda_function.this.vpc_config) == 0 && length(aws_iam_role_policy_attachment.vpc) == 0
    error_message = "Without subnets the function runs outside any VPC and its role gets no VPC access policy."
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == -1 || aws_lambda_function.this.reserved_concurrent_executions == null
    error_message = "Without a reservation the function has none."
  }
}

run "subnets_place_it_in_the_vpc" {
  command = plan

  variables {
    subnet_ids           = ["subnet-1", "subnet-2"]
    security_group_ids   = ["sg-1"]
    reserved_concurrency = 5
    kms_key_arn          = null
  }

  assert {
    condition     = length(aws_lambda_function.this.vpc_config) == 1 && length(aws_iam_role_policy_attachment.vpc) == 1
    error_message = "With subnets the function runs in the VPC and its role may create its network interfaces."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.vpc[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    error_message = "VPC access is AWS's managed execution policy."
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 5
    error_message = "The reservation comes from the caller."
  }

  assert {
    condition     = !contains([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid], "UseKey")
    error_message = "Without a key the role gets no KMS statement."
  }
}

run "rejects_bad_names_timeouts_and_effects" {
  command = plan

  variables {
    name    = "platform ops/worker"
    timeout = 901
    policy_statements = [
      { Sid = "Typo", Effect = "allow", Action = ["sqs:SendMessage"], Resource = ["*"] },
    ]
  }

  expect_failures = [var.name, var.timeout, var.policy_statements]
}
