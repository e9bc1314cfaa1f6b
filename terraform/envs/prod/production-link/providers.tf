# The production account (the application's VPC and database), not the migration account.
provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = {
      Project   = "platform-ops"
      ManagedBy = "terraform"
    }
  }
}
