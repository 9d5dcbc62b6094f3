# Athena: one workgroup per stage whose settings queries cannot override, and
# the named queries, one per file in sql/ (Athena engine v3, Trino dialect).
# fileset() does not descend into folders: sql/views/ holds the view's SQL
# (glue.tf), which is a view, not a named query.

resource "aws_athena_workgroup" "this" {
  name        = local.prefix
  description = "tweetlake ${var.stage}: query the view ${local.glue_database}.${local.tweets_view} (one row per live tweet; ${local.curated_table} is its base table); results encrypted, bytes scanned capped."

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = "s3://${aws_s3_bucket.lake.bucket}/${local.athena_prefix}"

      encryption_configuration {
        encryption_option = "SSE_S3"
      }
    }
  }
}

resource "aws_athena_named_query" "sql" {
  for_each = fileset("${path.module}/../sql", "*.sql")

  name        = trimsuffix(each.value, ".sql")
  description = "sql/${each.value} from the repository."
  workgroup   = aws_athena_workgroup.this.id
  database    = aws_glue_catalog_database.lake.name
  query       = file("${path.module}/../sql/${each.value}")
}
