terraform {
  # State per environment, locked with an S3 lock file (no DynamoDB lock table needed).
  backend "s3" {
    bucket       = "platform-ops-terraform-state-staging"
    key          = "platform-ops/staging/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
