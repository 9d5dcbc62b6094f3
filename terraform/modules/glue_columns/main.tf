# Glue columns derived from the envelope schema file, so the curated table
# never drifts from the record contract. Pure: reads one file, creates nothing.
#
# The schema nests at most one level (a struct or an array of primitives, or
# an array of structs of primitives); HCL has no recursion, so each depth is
# spelled out and `unsupported` names any field deeper than that, which fails
# the plan (see outputs.tf) instead of producing a wrong type.
# Each column has two spellings of its type: the Glue/Hive one the table
# declares (struct<a:string>, array<string>) and the Presto/Trino one an
# Athena view records for its columns (row(a varchar), array(varchar)).
# tests/unit/test_terraform_glue.py evaluates these expressions and compares
# the result with chalicelib.envelope.schema.glue_columns() and with a Trino
# spelling derived from the same schema.

locals {
  schema      = jsondecode(file(var.schema_file))
  lake_fields = [for f in local.schema.kinds[var.kind].fields : f if try(f.lake, true)]
  primitives  = ["string", "bigint", "boolean", "timestamp"]
  # Athena engine 3 reads Hive timestamps with millisecond precision.
  presto = { string = "varchar", bigint = "bigint", boolean = "boolean", timestamp = "timestamp(3)" }

  columns = [for f in local.lake_fields : {
    name    = f.name
    comment = substr(try(f.description, ""), 0, 255)
    type = (
      f.type == "struct" ? "struct<${join(",", [for m in f.fields : "${m.name}:${m.type}"])}>" :
      f.type == "array" ? (
        f.items.type == "struct"
        ? "array<struct<${join(",", [for m in f.items.fields : "${m.name}:${m.type}"])}>>"
        : "array<${f.items.type}>"
      ) :
      f.type
    )
    # try(): a type outside the primitives is left as is; `unsupported` fails the plan.
    presto_type = (
      f.type == "struct" ? "row(${join(",", [for m in f.fields : "${m.name} ${try(local.presto[m.type], m.type)}"])})" :
      f.type == "array" ? (
        f.items.type == "struct"
        ? "array(row(${join(",", [for m in f.items.fields : "${m.name} ${try(local.presto[m.type], m.type)}"])}))"
        : "array(${try(local.presto[f.items.type], f.items.type)})"
      ) :
      try(local.presto[f.type], f.type)
    )
  }]

  unsupported = [for f in local.lake_fields : f.name if !(
    contains(local.primitives, f.type) ||
    (f.type == "struct" && alltrue([for m in try(f.fields, []) : contains(local.primitives, m.type)])) ||
    (f.type == "array" && contains(local.primitives, try(f.items.type, ""))) ||
    (f.type == "array" && try(f.items.type, "") == "struct" && alltrue([for m in try(f.items.fields, []) : contains(local.primitives, m.type)]))
  )]
}
