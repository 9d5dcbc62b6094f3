# One Firehose delivers both lake zones from the stream.
#
# Why one and not two: every reader of a Kinesis shard shares its 2 MB/s and
# five GetRecords calls a second. The consumer Lambda and a Firehose already
# make two readers; a second Firehose would make three, raising read
# throttling (ReadProvisionedThroughputExceeded) and consumer lag at the same
# shard count, and would pay Firehose ingestion twice for the same bytes.
# Instead the converting delivery writes Parquet to curated/ and backs up the
# source records, untouched, to raw/ (s3_backup_mode = "Enabled"). Each
# record is newline-terminated by the producer, so raw/ is JSON lines.
# Trade-off: the two zones share one delivery stream's fate and settings (the
# raw backup has its own buffering and compression, below). The curated zone is
# dynamically partitioned by the tweet's creation time; the backup is not (it
# keeps arrival-time partitions: what arrived when, for backfills and purges).

resource "aws_cloudwatch_log_group" "firehose" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch Logs service key; a customer managed key needs a key policy for the logs service for no gain here.
  #checkov:skip=CKV_AWS_338:Operational delivery-error logs; retention is the log_retention_days variable (30 days by default), not a year.
  name              = "/aws/kinesisfirehose/${local.firehose_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_stream" "firehose_curated" {
  name           = "curated"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

resource "aws_cloudwatch_log_stream" "firehose_raw" {
  name           = "raw"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

resource "aws_kinesis_firehose_delivery_stream" "lake" {
  #checkov:skip=CKV_AWS_240:Server-side encryption applies to Direct PUT sources only; this stream reads an encrypted Kinesis stream and writes to an encrypted bucket.
  #checkov:skip=CKV_AWS_241:As above: Firehose SSE (with or without a customer managed key) is not available for a Kinesis source.
  name        = local.firehose_name
  destination = "extended_s3"

  kinesis_source_configuration {
    kinesis_stream_arn = aws_kinesis_stream.tweets.arn
    role_arn           = aws_iam_role.firehose.arn
  }

  extended_s3_configuration {
    role_arn   = aws_iam_role.firehose.arn
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
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.firehose_curated.name
    }

    data_format_conversion_configuration {
      enabled = true

      input_format_configuration {
        deserializer {
          # OpenX reads the envelope's ISO-8601 times ending in Z as timestamps.
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
        role_arn      = aws_iam_role.firehose.arn
        database_name = aws_glue_catalog_table.tweets.database_name
        table_name    = aws_glue_catalog_table.tweets.name
        region        = var.region
        version_id    = "LATEST"
      }
    }

    # The lossless copy: every source record as received, gzip JSON lines.
    s3_backup_mode = "Enabled"

    s3_backup_configuration {
      role_arn            = aws_iam_role.firehose.arn
      bucket_arn          = aws_s3_bucket.lake.arn
      prefix              = "${local.raw_prefix}${local.time_partitions}"
      error_output_prefix = "${local.errors_prefix}raw/!{firehose:error-output-type}/${local.time_partitions}"
      buffering_size      = var.raw_buffer_size_mb
      buffering_interval  = var.firehose_buffer_interval_s
      compression_format  = "GZIP"

      cloudwatch_logging_options {
        enabled         = true
        log_group_name  = aws_cloudwatch_log_group.firehose.name
        log_stream_name = aws_cloudwatch_log_stream.firehose_raw.name
      }
    }
  }
}
