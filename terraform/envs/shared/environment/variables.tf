variable "lambda_package_dir" {
  description = "Folder with receiver.zip and consumer.zip; null means build/lambdas (`make package`)."
  type        = string
  default     = null
}
