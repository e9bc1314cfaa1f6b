terraform {
  # State per environment, locked with an S3 lock file (no DynamoDB lock table needed).
  backend "s3" {
    bucket       = "platform-ops-terraform-state-prod"
    key          = "platform-ops/prod/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
