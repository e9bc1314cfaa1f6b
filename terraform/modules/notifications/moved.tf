# The functions moved into the lambda_function module; state written before keeps its resources.
moved {
  from = aws_iam_role.receiver
  to   = module.receiver.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.receiver
  to   = module.receiver.aws_iam_role_policy.this
}

moved {
  from = aws_cloudwatch_log_group.receiver
  to   = module.receiver.aws_cloudwatch_log_group.this
}

moved {
  from = aws_lambda_function.receiver
  to   = module.receiver.aws_lambda_function.this
}

moved {
  from = aws_iam_role.consumer
  to   = module.consumer.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.consumer
  to   = module.consumer.aws_iam_role_policy.this
}

moved {
  from = aws_iam_role_policy_attachment.consumer_vpc
  to   = module.consumer.aws_iam_role_policy_attachment.vpc
}

moved {
  from = aws_cloudwatch_log_group.consumer
  to   = module.consumer.aws_cloudwatch_log_group.this
}

moved {
  from = aws_lambda_function.consumer
  to   = module.consumer.aws_lambda_function.this
}

moved {
  from = aws_iam_role.reconcile[0]
  to   = module.reconcile[0].aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.reconcile[0]
  to   = module.reconcile[0].aws_iam_role_policy.this
}

moved {
  from = aws_iam_role_policy_attachment.reconcile_vpc
  to   = module.reconcile[0].aws_iam_role_policy_attachment.vpc
}

moved {
  from = aws_cloudwatch_log_group.reconcile[0]
  to   = module.reconcile[0].aws_cloudwatch_log_group.this
}

moved {
  from = aws_lambda_function.reconcile[0]
  to   = module.reconcile[0].aws_lambda_function.this
}
