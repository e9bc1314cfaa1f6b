terraform {
  # In the production account, beside the application's own state: its owners apply this root.
  backend "s3" {
    bucket       = "platform-ops-production-link-state-prod"
    key          = "platform-ops/prod/production-link.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
