output "function_name" {
  description = "Name of the function"
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the function"
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "ARN API Gateway invokes the function with"
  value       = aws_lambda_function.this.invoke_arn
}

output "function" {
  description = "The function resource, every argument and attribute (for the callers' checks)"
  value       = aws_lambda_function.this
}

output "role_name" {
  description = "Name of the function's role (a caller may attach more policies to it)"
  value       = aws_iam_role.this.name
}

output "role_policy" {
  description = "The role's inline policy document (JSON)"
  value       = aws_iam_role_policy.this.policy
}

output "log_group" {
  description = "The function's log group resource"
  value       = aws_cloudwatch_log_group.this
}
