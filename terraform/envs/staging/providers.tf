provider "aws" {
  region = var.region
  # The environment's account only: a plan with the wrong credentials stops before it reads anything.
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = {
      Project   = "platform-ops"
      ManagedBy = "terraform"
    }
  }
}
