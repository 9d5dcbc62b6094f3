# The Glue catalog: the curated base table Firehose converts into (declared
# here, so conversion never waits on a crawler), the view analysts query over
# it, and a crawler that catalogs the raw zone in a database of its own, so it
# can never touch the curated table's partition projection properties.

module "glue_columns" {
  source      = "./modules/glue_columns"
  schema_file = "${path.module}/../chalicelib/envelope/schema.json"
  kind        = "tweet"
}

resource "aws_glue_catalog_database" "lake" {
  name        = local.glue_database
  description = "tweetlake ${var.stage}: the curated Parquet table (${local.curated_table}), the view analysts query (${local.tweets_view}), and nothing a crawler writes."
}

resource "aws_glue_catalog_database" "raw" {
  name        = local.glue_raw_database
  description = "tweetlake ${var.stage}: tables the raw-zone crawler discovers over s3://${local.lake_bucket_name}/${local.raw_prefix}."
}

resource "aws_glue_catalog_table" "tweet_versions" {
  name          = local.curated_table
  database_name = aws_glue_catalog_database.lake.name
  description   = "What the consumer published, as Parquet (Snappy) through Firehose, at least once: each stored copy of a tweet and a tombstone row (kind = 'delete') for each tweet it buried. Analysts query the view ${local.tweets_view} (one row per live tweet). Columns from chalicelib/envelope/schema.json. Partitioned by when the tweet was posted (created_at, UTC): dt=yyyy-MM-dd, hour=HH; rows without a plausible time are under dt=unknown, which the projection does not list."
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL              = "TRUE"
    classification        = "parquet"
    "parquet.compression" = "SNAPPY"

    # Partition projection: Athena computes partitions from these rules, so
    # new hours are queryable at once with no crawler or MSCK REPAIR. dt is
    # the creation day; the range reaches a day past now, as the Firehose JQ
    # query accepts a tweet up to a day ahead of the clock. A date projection
    # yields only dates: dt=unknown stays out of the table (never a wrong day).
    "projection.enabled"          = "true"
    "projection.dt.type"          = "date"
    "projection.dt.format"        = "yyyy-MM-dd"
    "projection.dt.range"         = "${var.projection_start_date},NOW+1DAYS"
    "projection.dt.interval"      = "1"
    "projection.dt.interval.unit" = "DAYS"
    "projection.hour.type"        = "enum"
    "projection.hour.values"      = "00,01,02,03,04,05,06,07,08,09,10,11,12,13,14,15,16,17,18,19,20,21,22,23"
    "storage.location.template"   = "s3://${aws_s3_bucket.lake.bucket}/${local.curated_prefix}dt=$${dt}/hour=$${hour}/"
  }

  partition_keys {
    name    = "dt"
    type    = "string"
    comment = "Day the tweet was posted (created_at, UTC), yyyy-MM-dd."
  }

  partition_keys {
    name    = "hour"
    type    = "string"
    comment = "Hour the tweet was posted (created_at, UTC), 00-23."
  }

  storage_descriptor {
    location      = "s3://${aws_s3_bucket.lake.bucket}/${local.curated_prefix}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      name                  = "parquet"
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

      parameters = {
        "serialization.format" = "1"
      }
    }

    dynamic "columns" {
      for_each = module.glue_columns.columns

      content {
        name    = columns.value.name
        type    = columns.value.type
        comment = columns.value.comment
      }
    }
  }
}

# The view analysts query: one row per tweet the consumer accepted, none once
# deleted (sql/views/tweets.sql). An Athena view is a Glue table of type
# VIRTUAL_VIEW whose original text carries, base64-encoded, the JSON Athena
# (Trino) reads back: the SQL, the catalog and schema it resolves names in, and
# the columns with their Trino types. Athena reports a view as stale when those
# columns no longer match what the SQL returns, so both derive from the schema
# (tests/unit/test_terraform_glue.py checks the SQL's select list).

locals {
  tweets_view_columns = concat(
    [for c in module.glue_columns.columns : { name = c.name, type = c.type, presto_type = c.presto_type }],
    [for k in ["dt", "hour"] : { name = k, type = "string", presto_type = "varchar" }],
  )
  tweets_view_definition = jsonencode({
    originalSql = file("${path.module}/../sql/views/tweets.sql")
    catalog     = "awsdatacatalog"
    schema      = local.glue_database
    columns     = [for c in local.tweets_view_columns : { name = c.name, type = c.presto_type }]
  })
}

resource "aws_glue_catalog_table" "tweets" {
  name               = local.tweets_view
  database_name      = aws_glue_catalog_database.lake.name
  description        = "The tweets analysts query: one row per tweet the consumer accepted and has not buried, read from ${local.curated_table} (sql/views/tweets.sql). Filter on dt/hour (the posting day and hour, UTC) to prune partitions."
  table_type         = "VIRTUAL_VIEW"
  view_original_text = "/* Presto View: ${base64encode(local.tweets_view_definition)} */"
  view_expanded_text = "/* Presto View */"

  parameters = {
    presto_view = "true"
    comment     = "Presto View"
  }

  storage_descriptor {
    dynamic "columns" {
      for_each = local.tweets_view_columns

      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_glue_crawler" "raw" {
  #checkov:skip=CKV_AWS_195:A Glue security configuration that encrypts crawler logs needs a customer managed key; the crawler reads SSE-S3 objects and writes only catalog metadata.
  name          = "${local.prefix}-raw"
  description   = "Catalogs the raw zone (gzip JSON lines) for ad-hoc Athena queries over the lossless copy."
  database_name = aws_glue_catalog_database.raw.name
  role          = aws_iam_role.crawler.arn
  schedule      = var.crawler_schedule

  s3_target {
    path = "s3://${aws_s3_bucket.lake.bucket}/${local.raw_prefix}"
  }

  # Incremental: later runs only list folders added since the last one, so the
  # run time does not grow with the lake. Glue requires LOG for both
  # behaviours then: a schema change is logged, never applied behind the
  # analysts' backs (rerun with CRAWL_EVERYTHING after changing the schema).
  recrawl_policy {
    recrawl_behavior = "CRAWL_NEW_FOLDERS_ONLY"
  }

  schema_change_policy {
    update_behavior = "LOG"
    delete_behavior = "LOG"
  }

  # One table for the whole prefix (tweets and deletes share it), with
  # partitions that inherit the table's schema.
  configuration = jsonencode({
    Version = 1.0
    Grouping = {
      TableGroupingPolicy = "CombineCompatibleSchemas"
    }
    CrawlerOutput = {
      Partitions = { AddOrUpdateBehavior = "InheritFromTable" }
    }
  })
}
