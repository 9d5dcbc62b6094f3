# Two Firehose delivery streams, one per lake zone.
#
# raw: the lossless copy of the Kinesis stream. Firehose reads the stream and
# writes every record as received, gzip JSON lines (the producer ends each
# record with a newline), in arrival-time partitions: what arrived when, for
# backfills, re-drives and the purge.
#
# curated: the consumer's decisions, not the stream. Only the consumer knows
# which records it stored, which were duplicates, deleted or quarantined, so
# after its DynamoDB writes it sends the rows it accepted (and a tombstone row
# for each tweet it buried) to this Direct PUT stream with PutRecordBatch
# (chalicelib/consume/lake.py). Firehose converts them to Parquet with the Glue
# table's schema and partitions them by the tweet's creation time. A retried
# batch publishes its rows again: the base table is at-least-once, and analysts
# query the view that keeps one row per tweet (glue.tf).
#
# Why two and not one converting stream with a raw backup (as before): the
# curated zone is no longer a copy of the stream, so it cannot be the stream's
# delivery. The stream still has two readers, the consumer and the raw
# Firehose, so its read throughput is shared as before; a Direct PUT stream
# reads nothing. The price is a second Firehose ingestion: both streams bill
# every record rounded up to 5 KB (docs/cost.md). Splitting also frees raw/
# from the conversion's 64 MiB minimum buffer (it keeps its own size and
# interval) and from its failure modes: a schema mismatch that stops Parquet
# conversion no longer touches the lossless copy.

resource "aws_cloudwatch_log_group" "firehose" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch Logs service key; a customer managed key needs a key policy for the logs service for no gain here.
  #checkov:skip=CKV_AWS_338:Operational delivery-error logs; retention is the log_retention_days variable (30 days by default), not a year.
  for_each = local.firehose_names

  name              = "/aws/kinesisfirehose/${each.value}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_stream" "firehose" {
  for_each = local.firehose_names

  name           = "DestinationDelivery"
  log_group_name = aws_cloudwatch_log_group.firehose[each.key].name
}

resource "aws_kinesis_firehose_delivery_stream" "raw" {
  #checkov:skip=CKV_AWS_240:Server-side encryption applies to Direct PUT sources only; this stream reads an encrypted Kinesis stream and writes to an encrypted bucket.
  #checkov:skip=CKV_AWS_241:As above: Firehose SSE (with or without a customer managed key) is not available for a Kinesis source.
  name        = local.firehose_names.raw
  destination = "extended_s3"

  kinesis_source_configuration {
    kinesis_stream_arn = aws_kinesis_stream.tweets.arn
    role_arn           = aws_iam_role.firehose_raw.arn
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose_raw.arn
    bucket_arn          = aws_s3_bucket.lake.arn
    prefix              = "${local.raw_prefix}${local.time_partitions}"
    error_output_prefix = "${local.errors_prefix}raw/!{firehose:error-output-type}/${local.time_partitions}"

    # No conversion here: any buffer size from 1 MiB is allowed.
    buffering_size     = var.raw_buffer_size_mb
    buffering_interval = var.raw_buffer_interval_s
    compression_format = "GZIP"

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose["raw"].name
      log_stream_name = aws_cloudwatch_log_stream.firehose["raw"].name
    }
  }
}

resource "aws_kinesis_firehose_delivery_stream" "curated" {
  #checkov:skip=CKV_AWS_241:Encrypted at rest with the Firehose AWS owned key (Firehose offers no AWS managed key); a customer managed key would add a key policy, a monthly key charge and KMS grants for the consumer, for no control this project uses.
  name        = local.firehose_names.curated
  destination = "extended_s3"

  # Direct PUT: the consumer puts the rows; no kinesis_source_configuration.
  server_side_encryption {
    enabled  = true
    key_type = "AWS_OWNED_CMK"
  }

  extended_s3_configuration {
    role_arn   = aws_iam_role.firehose_curated.arn
    bucket_arn = aws_s3_bucket.lake.arn

    # Creation-time partitions, Hive style, from the JQ query (locals.tf);
    # failures go outside the table path, by arrival time (an error prefix
    # cannot use partitionKeyFromQuery).
    prefix              = "${local.curated_prefix}${local.creation_partitions}"
    error_output_prefix = "${local.errors_prefix}curated/!{firehose:error-output-type}/${local.time_partitions}"

    dynamic_partitioning_configuration {
      enabled = true
    }

    processing_configuration {
      enabled = true

      processors {
        type = "MetadataExtraction"

        parameters {
          parameter_name  = "MetadataExtractionQuery"
          parameter_value = local.creation_partition_query
        }

        parameters {
          parameter_name  = "JsonParsingEngine"
          parameter_value = "JQ-1.6"
        }
      }
    }

    # Format conversion and dynamic partitioning need a buffer of at least 64 MiB
    # (variable checks); each active dt/hour partition buffers on its own.
    buffering_size     = var.firehose_buffer_size_mb
    buffering_interval = var.firehose_buffer_interval_s

    # Parquet carries its own (Snappy) compression: the S3 object stays UNCOMPRESSED.
    compression_format = "UNCOMPRESSED"

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose["curated"].name
      log_stream_name = aws_cloudwatch_log_stream.firehose["curated"].name
    }

    data_format_conversion_configuration {
      enabled = true

      input_format_configuration {
        deserializer {
          # OpenX reads the rows' ISO-8601 times ending in Z as timestamps.
          open_x_json_ser_de {}
        }
      }

      output_format_configuration {
        serializer {
          parquet_ser_de {
            compression = "SNAPPY"
          }
        }
      }

      schema_configuration {
        role_arn      = aws_iam_role.firehose_curated.arn
        database_name = aws_glue_catalog_table.tweet_versions.database_name
        table_name    = aws_glue_catalog_table.tweet_versions.name
        region        = var.region
        version_id    = "LATEST"
      }
    }
  }
}
