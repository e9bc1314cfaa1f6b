terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 6.0"
    }
  }

  # In the production account, beside the application's own state: its owners apply this root.
  backend "s3" {
    bucket       = "platform-ops-production-link-state-staging"
    key          = "platform-ops/staging/production-link.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
