variable "schema_file" {
  type        = string
  description = "Path of the envelope schema (chalicelib/envelope/schema.json), the single source of the record contract."
}

variable "kind" {
  type        = string
  description = "Envelope kind whose lake fields become the columns (the curated table holds tweets)."
  default     = "tweet"
}
