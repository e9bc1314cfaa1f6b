# Every root's provider (each root links this file). Its terraform.tfvars pins the one account it
# is applied in: the environment's (migration account) or, for production-link, the production
# account.
variable "region" {
  description = "AWS region of the root's resources."
  type        = string
}

variable "allowed_account_ids" {
  description = "The account the root is applied in: the provider refuses any other."
  type        = list(string)
}

provider "aws" {
  region = var.region
  # A plan with the wrong credentials stops before it reads anything.
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = {
      Project   = "platform-ops"
      ManagedBy = "terraform"
    }
  }
}
