variable "region" {
  description = "Region of the production VPC and database."
  type        = string
}

variable "allowed_account_ids" {
  description = "The production account: the provider refuses any other."
  type        = list(string)
}

variable "peering_connection_id" {
  description = "The migration environment's output production_peering_connection_id; null on the first apply."
  type        = string
  default     = null
}
