terraform {
  # Write-only secret values (the generated database passwords never reach state or plans).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.90, < 6.0"
    }
  }
}
