# The lake bucket. One bucket, one prefix per zone:
#   raw/             the stream's records as the raw Firehose read them (gzip JSON lines)
#   curated/         the rows the consumer accepted, as Parquet (the Glue table
#                    `tweet_versions`; analysts query the view `tweets`)
#   quarantine/      records ingest or consume could not store, with the reason
#   athena-results/  query results of the workgroup
#   firehose-errors/ records Firehose could not convert or deliver
#   replay/          JSON-lines files an operator uploads for the replay source

resource "aws_s3_bucket" "lake" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket per stage; CloudTrail data events are the audit trail to enable where one is required.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; the raw zone is a replayable copy of the stream, not the only one of anything.
  #checkov:skip=CKV2_AWS_62:No consumer of S3 event notifications: Firehose and the functions know what they wrote.
  #checkov:skip=CKV_AWS_145:Default encryption is SSE-S3, which Firehose, Athena and the crawler read without KMS permissions; a customer managed key adds a key policy and per-request cost for no gain here.
  bucket = local.lake_bucket_name

  lifecycle {
    precondition {
      condition     = length(local.lake_bucket_name) <= 63
      error_message = "The lake bucket name is longer than 63 characters: shorten project or stage, or set lake_bucket_name."
    }
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  bucket                  = aws_s3_bucket.lake.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

# Versioning protects the lake from an overwrite or delete by mistake; old
# versions expire (lifecycle below) so it does not double the storage bill.
resource "aws_s3_bucket_versioning" "lake" {
  bucket = aws_s3_bucket.lake.id

  versioning_configuration {
    status = "Enabled"
  }
}

data "aws_iam_policy_document" "lake_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.lake.arn,
      "${aws_s3_bucket.lake.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "lake" {
  bucket = aws_s3_bucket.lake.id
  policy = data.aws_iam_policy_document.lake_bucket.json

  # S3 rejects a bucket policy while Block Public Access is being applied.
  depends_on = [aws_s3_bucket_public_access_block.lake]
}

resource "aws_s3_bucket_lifecycle_configuration" "lake" {
  bucket = aws_s3_bucket.lake.id

  # Everything: clean up failed multipart uploads and old versions.
  rule {
    id     = "housekeeping"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }

  rule {
    id     = "raw-to-infrequent-access"
    status = "Enabled"

    filter {
      prefix = local.raw_prefix
    }

    transition {
      days          = var.raw_transition_days
      storage_class = "STANDARD_IA"
    }
  }

  rule {
    id     = "quarantine-expires"
    status = "Enabled"

    filter {
      prefix = local.quarantine_pfx
    }

    expiration {
      days = var.quarantine_expiration_days
    }
  }

  rule {
    id     = "athena-results-expire"
    status = "Enabled"

    filter {
      prefix = local.athena_prefix
    }

    expiration {
      days = var.athena_results_expiration_days
    }
  }

  rule {
    id     = "firehose-errors-expire"
    status = "Enabled"

    filter {
      prefix = local.errors_prefix
    }

    expiration {
      days = var.firehose_errors_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.lake]
}
