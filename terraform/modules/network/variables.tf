variable "name" {
  description = "Name prefix of every resource in the migration VPC."
  type        = string
}

variable "cidr_block" {
  description = "CIDR block of the migration VPC."
  type        = string

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR block, for example 10.40.0.0/16."
  }
}

variable "azs" {
  description = "Availability zones of the private subnets (at least two, so DMS and RDS can be Multi-AZ)."
  type        = list(string)

  validation {
    condition     = length(var.azs) >= 2
    error_message = "azs must list at least two availability zones."
  }
}

variable "private_subnet_cidrs" {
  description = "CIDR block of the private subnet in each availability zone, in the order of azs."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_cidrs) == length(var.azs)
    error_message = "private_subnet_cidrs must have one CIDR block per entry of azs."
  }
}

variable "enable_nat_gateway" {
  description = "Whether the private subnets get a route to the internet through one NAT gateway (the notification consumer calls the Google Play Developer API)."
  type        = bool
  default     = false
}

variable "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets that hold the NAT gateway, in the order of azs (enable_nat_gateway = true)."
  type        = list(string)
  default     = []

  validation {
    condition     = !var.enable_nat_gateway || (length(var.public_subnet_cidrs) >= 1 && length(var.public_subnet_cidrs) <= length(var.azs))
    error_message = "public_subnet_cidrs needs at least one CIDR block (and at most one per entry of azs) when enable_nat_gateway is true."
  }
}

variable "consumer_database_cidrs" {
  description = "CIDR blocks where the notification consumer reaches its PostgreSQL database (port 5432)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.consumer_database_cidrs : can(cidrhost(cidr, 0))])
    error_message = "consumer_database_cidrs must be valid IPv4 CIDR blocks."
  }
}

variable "interface_endpoint_services" {
  description = "AWS services reached through interface VPC endpoints (short names such as ssm or sqs)."
  type        = list(string)
  default     = ["ssm", "ssmmessages", "ec2messages", "logs", "monitoring", "secretsmanager", "sqs", "sts"]
}

variable "create_interface_endpoints" {
  description = "Whether to create the interface VPC endpoints listed in interface_endpoint_services."
  type        = bool
  default     = true
}

variable "production_connection_type" {
  description = "How the migration VPC reaches the production VPC for DMS: none, peering or transit_gateway."
  type        = string
  default     = "none"

  validation {
    condition     = contains(["none", "peering", "transit_gateway"], var.production_connection_type)
    error_message = "production_connection_type must be one of none, peering, transit_gateway."
  }
}

variable "production_database_port" {
  description = "Port of the production PostgreSQL, the DMS source: DMS's egress to the production VPC opens this port."
  type        = number
  default     = 5432

  validation {
    condition     = var.production_database_port >= 1 && var.production_database_port <= 65535 && floor(var.production_database_port) == var.production_database_port
    error_message = "production_database_port must be a TCP port (1-65535)."
  }
}

variable "production_vpc_cidr" {
  description = "CIDR block of the production VPC (the DMS source database lives there). Required unless production_connection_type is none."
  type        = string
  default     = null

  validation {
    condition     = var.production_connection_type == "none" || try(cidrhost(var.production_vpc_cidr, 0), null) != null
    error_message = "production_vpc_cidr must be a valid CIDR block when production_connection_type is peering or transit_gateway."
  }
}

variable "production_vpc_id" {
  description = "ID of the production VPC to peer with (production_connection_type = peering)."
  type        = string
  default     = null

  validation {
    condition     = var.production_connection_type != "peering" || var.production_vpc_id != null
    error_message = "production_vpc_id is required when production_connection_type is peering."
  }
}

variable "production_vpc_owner_id" {
  description = "AWS account ID owning the production VPC; null means this account. In another account (or region) the production side accepts the peering (module production_link)."
  type        = string
  default     = null

  validation {
    condition     = var.production_vpc_owner_id == null || can(regex("^[0-9]{12}$", var.production_vpc_owner_id))
    error_message = "production_vpc_owner_id must be a 12-digit AWS account ID or null."
  }
}

variable "production_vpc_region" {
  description = "Region of the production VPC; null means this region."
  type        = string
  default     = null
}

variable "transit_gateway_id" {
  description = "Transit gateway that routes to the production VPC (production_connection_type = transit_gateway)."
  type        = string
  default     = null

  validation {
    condition     = var.production_connection_type != "transit_gateway" || var.transit_gateway_id != null
    error_message = "transit_gateway_id is required when production_connection_type is transit_gateway."
  }
}

variable "enable_flow_log" {
  description = "Whether to record VPC flow logs to CloudWatch Logs."
  type        = bool
  default     = true
}

variable "flow_log_retention_days" {
  description = "Retention of the flow log group, in days."
  type        = number
  default     = 365
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the flow log group; null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
