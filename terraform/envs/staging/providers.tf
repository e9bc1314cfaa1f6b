provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "platform-ops"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
