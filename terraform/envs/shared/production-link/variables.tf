variable "peering_connection_id" {
  description = "The migration environment's output production_peering_connection_id; null on the first apply."
  type        = string
  default     = null
}
