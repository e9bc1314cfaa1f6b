variable "region" {
  description = "AWS region of the environment."
  type        = string
}

variable "allowed_account_ids" {
  description = "The environment's AWS account: the provider refuses any other."
  type        = list(string)
}

variable "lambda_package_dir" {
  description = "Folder with receiver.zip and consumer.zip; null means build/lambdas (`make package`)."
  type        = string
  default     = null
}
