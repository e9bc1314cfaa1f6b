output "prefix" {
  description = "Path prefix of the mode parameters (OPS_FLAG_PREFIX)."
  value       = var.prefix
}

output "parameter_names" {
  description = "Mode parameter name of each dataset."
  value       = { for dataset, p in aws_ssm_parameter.this : dataset => p.name }
}

output "parameter_arns" {
  description = "Mode parameter ARN of each dataset."
  value       = { for dataset, p in aws_ssm_parameter.this : dataset => p.arn }
}

output "read_policy_arn" {
  description = "ARN of the IAM policy that grants read access to the mode parameters."
  value       = try(aws_iam_policy.read[0].arn, null)
}
