resource "aws_ssm_parameter" "this" {
  for_each = toset(var.datasets)

  #checkov:skip=CKV2_AWS_34:The migration mode is a public enum value read by the application, not a secret; SecureString would add a KMS call to every cached read.
  name        = "${var.prefix}/${each.value}/mode"
  description = "Migration mode of dataset ${each.value}; changed only through the ops CLI with its gates."
  type        = "String"
  # The ops CLI owns the value's format (a mode, later with its fencing generation) and checks
  # every transition; Terraform only creates the parameter in the first mode.
  value = var.initial_mode

  tags = merge(var.tags, { Dataset = each.value })

  # The ops CLI moves the mode through its gated transitions; Terraform must not reset it.
  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_iam_policy" "read" {
  count = var.create_read_policy ? 1 : 0

  name        = var.read_policy_name
  description = "Read the migration mode parameters under ${var.prefix}"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ReadMigrationMode"
      Effect   = "Allow"
      Action   = ["ssm:GetParameter", "ssm:GetParameters"]
      Resource = [for p in aws_ssm_parameter.this : p.arn]
    }]
  })

  tags = var.tags
}
