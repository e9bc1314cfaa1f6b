data "aws_region" "current" {}

data "aws_ssm_parameter" "al2023_arm64" {
  count = var.ami_id == null ? 1 : 0

  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
}

locals {
  ami_id = var.ami_id != null ? var.ami_id : nonsensitive(data.aws_ssm_parameter.al2023_arm64[0].value)
  region = data.aws_region.current.name

  wheelhouse_bucket = regex("^s3://([^/]+)", var.ops_wheelhouse_s3_uri)[0]
  wheelhouse_prefix = trimprefix(trimprefix(var.ops_wheelhouse_s3_uri, "s3://${local.wheelhouse_bucket}"), "/")
}

################################################################################
# IAM: Session Manager plus exactly the tables, secrets and parameters of the backfill
################################################################################

resource "aws_iam_role" "this" {
  name = "${var.name}-backfill-runner"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "backfill" {
  name = "backfill"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid    = "TargetTables"
          Effect = "Allow"
          Action = [
            "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
            "dynamodb:Scan", "dynamodb:DescribeTable", "dynamodb:UpdateItem",
          ]
          Resource = var.dynamodb_table_arns
        },
        {
          Sid    = "ControlTable"
          Effect = "Allow"
          Action = [
            "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
            "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable",
          ]
          Resource = [var.control_table_arn]
        },
        {
          Sid      = "Wheelhouse"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = ["arn:aws:s3:::${local.wheelhouse_bucket}/${local.wheelhouse_prefix}*"]
        },
        {
          Sid       = "ListWheelhouse"
          Effect    = "Allow"
          Action    = ["s3:ListBucket"]
          Resource  = ["arn:aws:s3:::${local.wheelhouse_bucket}"]
          Condition = { StringLike = { "s3:prefix" = ["${local.wheelhouse_prefix}*"] } }
        },
        {
          Sid      = "Metrics"
          Effect   = "Allow"
          Action   = ["cloudwatch:PutMetricData"]
          Resource = "*"
          Condition = {
            StringEquals = { "cloudwatch:namespace" = var.metrics_namespace }
          }
        },
      ],
      [{
        Sid      = "Secrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        Resource = concat([var.v2_database_secret_arn], var.secret_arns)
      }],
      length(var.parameter_arns) == 0 ? [] : [{
        Sid      = "MigrationMode"
        Effect   = "Allow"
        Action   = ["ssm:GetParameter", "ssm:GetParameters"]
        Resource = var.parameter_arns
      }],
      var.kms_key_arn == null ? [] : [{
        Sid      = "Decrypt"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
        Resource = [var.kms_key_arn]
      }],
    )
  })
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.name}-backfill-runner"
  role = aws_iam_role.this.name

  tags = var.tags
}

################################################################################
# Workers
################################################################################

resource "aws_instance" "this" {
  count = var.worker_count

  ami                    = local.ami_id
  instance_type          = var.instance_type
  subnet_id              = var.subnet_ids[count.index % length(var.subnet_ids)]
  vpc_security_group_ids = var.security_group_ids
  iam_instance_profile   = aws_iam_instance_profile.this.name
  ebs_optimized          = true
  monitoring             = var.enable_detailed_monitoring

  user_data = templatefile("${path.module}/files/user_data.sh.tftpl", {
    ops_package   = var.ops_package
    wheelhouse    = var.ops_wheelhouse_s3_uri
    settings_json = jsonencode(var.ops_environment)
    env_script    = trimspace(file("${path.module}/files/platform_ops_env.py"))
    v2_secret_arn = var.v2_database_secret_arn
    worker_index  = count.index
    worker_count  = var.worker_count
    # Unset, each worker runs one process per vCPU of its own instance type.
    processes = var.processes == null ? "$(nproc)" : tostring(var.processes)
  })
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    encrypted   = true
    kms_key_id  = var.kms_key_arn
    volume_size = var.root_volume_size
    volume_type = "gp3"
  }

  tags = merge(var.tags, { Name = "${var.name}-backfill-${count.index}", WorkerIndex = tostring(count.index) })

  # A new Amazon Linux release changes the SSM parameter's AMI; that must not replace workers in
  # the middle of a backfill. New workers (or a taint) pick up the new AMI.
  lifecycle {
    ignore_changes = [ami]
  }
}

################################################################################
# Dashboard and alarms on the backfill metrics
################################################################################

locals {
  # Metrics carry per-run and per-worker dimensions; Metrics Insights sums them across workers.
  metric_schema = join(", ", concat([jsonencode(var.metrics_namespace)], var.metric_dimensions))
  metric_query = merge(
    { for key, name in var.metric_names : key => "SELECT SUM(${name}) FROM SCHEMA(${local.metric_schema})" },
    # A rate is averaged per worker (summing samples would multiply it by the publish frequency).
    { write_mbps = "SELECT AVG(${var.metric_names.write_mbps}) FROM SCHEMA(${local.metric_schema}) GROUP BY Worker" },
  )

  dashboard_widgets = [
    { title = "Rows per minute", keys = ["rows_read", "rows_written", "rows_present", "rows_failed"] },
    { title = "Write throughput per worker (Mbps)", keys = ["write_mbps"] },
    { title = "Throttle events", keys = ["throttle"] },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name}-backfill"
  dashboard_body = jsonencode({
    widgets = concat(
      [for i, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = local.region
          period  = 60
          metrics = [for key in widget.keys : [{ expression = local.metric_query[key], label = var.metric_names[key], id = key }]]
        }
      }],
      # No workers, no CPU widget: CloudWatch rejects a metric widget without metrics.
      [for _ in range(var.worker_count > 0 ? 1 : 0) : {
        type   = "metric"
        x      = 12
        y      = 6
        width  = 12
        height = 6
        properties = {
          title   = "Worker CPU"
          region  = local.region
          stat    = "Average"
          period  = 60
          metrics = [for i in aws_instance.this : ["AWS/EC2", "CPUUtilization", "InstanceId", i.id]]
        }
      }],
    )
  })
}

resource "aws_cloudwatch_metric_alarm" "rows_failed" {
  alarm_name          = "${var.name}-backfill-rows-failed"
  alarm_description   = "Rows are landing in the backfill failure log; inspect them with `ops backfill failures` and re-drive them with `ops backfill retry-failed`."
  evaluation_periods  = 1
  threshold           = var.failed_rows_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  metric_query {
    id          = "failed"
    expression  = local.metric_query["rows_failed"]
    period      = 300
    return_data = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "throttle" {
  alarm_name          = "${var.name}-backfill-throttled"
  alarm_description   = "The backfill is throttled for 15 minutes; lower its rate (`ops backfill set-rate`) or raise the table's write limits."
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  metric_query {
    id          = "throttled"
    expression  = local.metric_query["throttle"]
    period      = 300
    return_data = true
  }

  tags = var.tags
}
