output "columns" {
  description = "Curated-table columns in schema order: name, Glue/Hive type, Presto/Trino type (presto_type, for views) and comment (the field's description)."
  value       = local.columns

  precondition {
    condition     = length(local.unsupported) == 0
    error_message = "Fields nest deeper than the Glue derivation supports: ${join(", ", local.unsupported)}. Extend modules/glue_columns or flatten them."
  }
}
