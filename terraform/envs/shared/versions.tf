# Every root's Terraform and provider versions (each root links this file; its backend.tf names
# its own state).
terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 6.0"
    }
  }
}
