################################################################################
# One Lambda function with what every function of this repository needs: its own role (its
# statements, plus writing its log group, X-Ray traces and using the KMS key), a log group with
# retention and the key, arm64, active tracing, JSON logs, and optional VPC placement.
#
# The callers (notifications: receiver, consumer, reconciler; reverse_replication) add only what
# differs: handler, package, sizes, environment and their own permissions.
################################################################################

locals {
  in_vpc = length(var.subnet_ids) > 0

  baseline_statements = concat(
    [
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.this.arn}:*"]
      },
      # Active tracing sends segments with the function's role; X-Ray has no resource-level permission.
      {
        Sid      = "Tracing"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = ["*"]
      },
    ],
    var.kms_key_arn == null ? [] : [{
      Sid      = "UseKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.kms_key_arn]
    }],
  )
}

resource "aws_iam_role" "this" {
  name = var.name
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name = var.policy_name
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = concat(var.policy_statements, local.baseline_statements)
  })
}

resource "aws_iam_role_policy_attachment" "vpc" {
  count = local.in_vpc ? 1 : 0

  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Every caller is an event source that keeps its own failures (API Gateway answers the store, which retries; the SQS queue's redrive policy; the stream mapping's on-failure queue; the next scheduled run), so a function DLQ would never receive anything.
  #checkov:skip=CKV_AWS_117:VPC placement is the caller's input (subnet_ids): the functions that reach a database are placed in the VPC; the receiver only calls SQS and public endpoints and would need a NAT for no isolation gain.
  #checkov:skip=CKV_AWS_272:Packages are built and deployed by this repository's own pipeline (make package + terraform); AWS Signer is not part of it.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is the caller's input: the receiver, the consumer and the reverse writer set one; the hourly reconciler does not, so a manual run during an incident is never blocked.
  function_name                  = var.name
  description                    = var.description
  role                           = aws_iam_role.this.arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = ["arm64"]
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  # The role's permissions exist before the function can run.
  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc]
}
