# One role per principal, each allowed exactly the calls it makes on the
# resources it makes them on. tests/unit/test_terraform_iam.py derives the AWS
# calls each Chalice function's code makes (AST over app.py and chalicelib/)
# and checks these policies grant those actions and no others.
#
# The Kinesis stream, DynamoDB tables, bucket and secret use AWS managed keys,
# whose key policies already let principals of this account use them through
# the owning service: no kms:* grants are needed.

locals {
  lake_objects = {
    for zone, prefix in {
      raw        = local.raw_prefix
      curated    = local.curated_prefix
      quarantine = local.quarantine_pfx
      errors     = local.errors_prefix
      replay     = local.replay_prefix
    } : zone => "${aws_s3_bucket.lake.arn}/${prefix}*"
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# --- ingest: the scheduled function (source -> Kinesis) ----------------------

resource "aws_iam_role" "ingest" {
  name               = "${local.prefix}-ingest"
  description        = "Chalice function ${local.lambda_functions.ingest}: reads the source, writes the stream."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "ingest" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda["ingest"].arn}:*"]
  }

  statement {
    sid       = "Produce"
    actions   = ["kinesis:PutRecords"]
    resources = [aws_kinesis_stream.tweets.arn]
  }

  statement {
    sid       = "Checkpoint"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.state.arn]
  }

  statement {
    sid       = "Quarantine"
    actions   = ["s3:PutObject"]
    resources = [local.lake_objects.quarantine]
  }

  statement {
    sid       = "ReplayFiles"
    actions   = ["s3:GetObject"]
    resources = [local.lake_objects.replay]
  }

  statement {
    sid       = "TwitterCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.twitter.arn]
  }
}

resource "aws_iam_role_policy" "ingest" {
  name   = "ingest"
  role   = aws_iam_role.ingest.id
  policy = data.aws_iam_policy_document.ingest.json
}

# --- consume: the Kinesis consumer (stream -> DynamoDB, quarantine, curated) ---

resource "aws_iam_role" "consume" {
  name               = "${local.prefix}-consume"
  description        = "Chalice function ${local.lambda_functions.consume}: reads the stream, writes the tables and the curated Firehose."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "consume" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda["consume"].arn}:*"]
  }

  # What Lambda's event source mapping calls with the function's role
  # (Lambda developer guide, "Process Amazon Kinesis Data Streams records
  # with Lambda"). kinesis:ListStreams is not needed and could only be
  # granted on "*".
  statement {
    sid = "EventSourceMapping"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.tweets.arn]
  }

  statement {
    sid     = "Tables"
    actions = ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"]
    resources = [
      aws_dynamodb_table.tweets.arn,
      aws_dynamodb_table.authors.arn,
      aws_dynamodb_table.state.arn,
    ]
  }

  statement {
    sid       = "Quarantine"
    actions   = ["s3:PutObject"]
    resources = [local.lake_objects.quarantine]
  }

  # The accepted rows and tombstones, to the curated zone (chalicelib/consume/lake.py).
  statement {
    sid       = "PublishCurated"
    actions   = ["firehose:PutRecordBatch"]
    resources = [aws_kinesis_firehose_delivery_stream.curated.arn]
  }
}

resource "aws_iam_role_policy" "consume" {
  name   = "consume"
  role   = aws_iam_role.consume.id
  policy = data.aws_iam_policy_document.consume.json
}

# --- compliance: the hourly X batch compliance run (rotation -> X -> Kinesis) ---

resource "aws_iam_role" "compliance" {
  name               = "${local.prefix}-compliance"
  description        = "Chalice function ${local.lambda_functions.compliance}: checks stored tweet ids with X, writes deletes to the stream."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "compliance" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda["compliance"].arn}:*"]
  }

  # The ids of an hour bucket: the tweets table's by_time index only.
  statement {
    sid       = "RotationIds"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.tweets.arn}/index/by_time"]
  }

  # Which hour buckets hold tweets: the consumer's directory (pk = "hours").
  statement {
    sid       = "HourDirectory"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.state.arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = ["hours"]
    }
  }

  # Each hour's last check and the job in flight (pk = "compliance").
  statement {
    sid = "RotationState"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
    ]
    resources = [aws_dynamodb_table.state.arn]

    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = ["compliance"]
    }
  }

  statement {
    sid       = "Deletes"
    actions   = ["kinesis:PutRecords"]
    resources = [aws_kinesis_stream.tweets.arn]
  }

  statement {
    sid       = "TwitterCredentials"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.twitter.arn]
  }
}

resource "aws_iam_role_policy" "compliance" {
  name   = "compliance"
  role   = aws_iam_role.compliance.id
  policy = data.aws_iam_policy_document.compliance.json
}

# --- api: the REST API handler (read only) -----------------------------------

resource "aws_iam_role" "api" {
  name               = "${local.prefix}-api"
  description        = "Chalice function ${local.lambda_functions.api}: serves the read-only REST API."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda["api"].arn}:*"]
  }

  statement {
    sid     = "Read"
    actions = ["dynamodb:GetItem", "dynamodb:Query"]
    resources = [
      aws_dynamodb_table.tweets.arn,
      "${aws_dynamodb_table.tweets.arn}/index/*",
      aws_dynamodb_table.authors.arn,
      aws_dynamodb_table.state.arn,
    ]
  }

  # A feed page holding Bluesky posts reads their accounts' status in one call.
  statement {
    sid       = "AuthorStatus"
    actions   = ["dynamodb:BatchGetItem"]
    resources = [aws_dynamodb_table.authors.arn]
  }

  statement {
    sid       = "Health"
    actions   = ["dynamodb:DescribeTable"]
    resources = [aws_dynamodb_table.tweets.arn]
  }

  statement {
    sid       = "CursorKey"
    actions   = ["ssm:GetParameter"]
    resources = ["arn:${local.partition}:ssm:${var.region}:${local.account_id}:parameter${local.cursor_key_parameter}"]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "api"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

# --- purge: the scheduled lake purge (deleted tweets out of every object) ----

resource "aws_iam_role" "purge" {
  name               = "${local.prefix}-purge"
  description        = "Chalice function ${local.lambda_functions.purge}: rewrites lake objects that hold deleted tweets."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

locals {
  # The zones the purge reads and rewrites (chalicelib/purge/engine.py).
  purge_prefixes = [local.raw_prefix, local.curated_prefix, local.quarantine_pfx, local.errors_prefix]
}

data "aws_iam_policy_document" "purge" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda["purge"].arn}:*"]
  }

  statement {
    sid       = "Requests"
    actions   = ["dynamodb:Query", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.state.arn]
  }

  # Listing objects and their versions, only under the zones it purges.
  statement {
    sid       = "ListZones"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [aws_s3_bucket.lake.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = flatten([for p in local.purge_prefixes : [p, "${p}*"]])
    }
  }

  # Rewrite in place; an emptied object and the old versions of a rewritten one
  # are deleted by version id (the bucket is versioned).
  statement {
    sid     = "RewriteZones"
    actions = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:PutObject"]
    resources = [
      local.lake_objects.raw,
      local.lake_objects.curated,
      local.lake_objects.quarantine,
      local.lake_objects.errors,
    ]
  }
}

resource "aws_iam_role_policy" "purge" {
  name   = "purge"
  role   = aws_iam_role.purge.id
  policy = data.aws_iam_policy_document.purge.json
}

# --- Firehose: one role per delivery stream -----------------------------------

data "aws_iam_policy_document" "firehose_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }

    # Firehose passes the account id as the external id (confused deputy guard).
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [local.account_id]
    }
  }
}

# raw: stream -> raw/ (gzip JSON lines). Reads the stream; no Glue.

resource "aws_iam_role" "firehose_raw" {
  name               = "${local.prefix}-firehose-raw"
  description        = "Firehose ${local.firehose_names.raw}: reads the stream, writes raw/."
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
}

data "aws_iam_policy_document" "firehose_raw" {
  statement {
    sid = "ReadStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.tweets.arn]
  }

  statement {
    sid       = "Bucket"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid       = "WriteRaw"
    actions   = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    resources = [local.lake_objects.raw, local.lake_objects.errors]
  }

  statement {
    sid       = "DeliveryErrorLogs"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose["raw"].arn}:*"]
  }
}

resource "aws_iam_role_policy" "firehose_raw" {
  name   = "firehose-raw"
  role   = aws_iam_role.firehose_raw.id
  policy = data.aws_iam_policy_document.firehose_raw.json
}

# curated: Direct PUT rows -> curated/ (Parquet). Reads the Glue table's
# schema for the conversion; reads no stream (the consumer puts the rows).

resource "aws_iam_role" "firehose_curated" {
  name               = "${local.prefix}-firehose-curated"
  description        = "Firehose ${local.firehose_names.curated}: reads the Glue table schema, writes curated/."
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
}

data "aws_iam_policy_document" "firehose_curated" {
  statement {
    sid       = "Bucket"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid       = "WriteCurated"
    actions   = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    resources = [local.lake_objects.curated, local.lake_objects.errors]
  }

  statement {
    sid     = "ConversionSchema"
    actions = ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"]
    resources = [
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:catalog",
      aws_glue_catalog_database.lake.arn,
      aws_glue_catalog_table.tweet_versions.arn,
    ]
  }

  statement {
    sid       = "DeliveryErrorLogs"
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose["curated"].arn}:*"]
  }
}

resource "aws_iam_role_policy" "firehose_curated" {
  name   = "firehose-curated"
  role   = aws_iam_role.firehose_curated.id
  policy = data.aws_iam_policy_document.firehose_curated.json
}

# --- Glue crawler: raw/ -> the raw database ----------------------------------

data "aws_iam_policy_document" "crawler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "crawler" {
  name               = "${local.prefix}-crawler"
  description        = "Glue crawler ${local.prefix}-raw: reads raw/, writes tables of ${local.glue_raw_database}."
  assume_role_policy = data.aws_iam_policy_document.crawler_assume.json
}

data "aws_iam_policy_document" "crawler" {
  statement {
    sid       = "ListRaw"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [local.raw_prefix, "${local.raw_prefix}*"]
    }
  }

  statement {
    sid       = "BucketLocation"
    actions   = ["s3:GetBucketLocation"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid       = "ReadRaw"
    actions   = ["s3:GetObject"]
    resources = [local.lake_objects.raw]
  }

  # Only the raw database and its tables: the curated table is out of reach.
  statement {
    sid = "CatalogRaw"
    actions = [
      "glue:GetDatabase",
      "glue:GetTable",
      "glue:GetTables",
      "glue:CreateTable",
      "glue:UpdateTable",
      "glue:GetPartition",
      "glue:GetPartitions",
      "glue:BatchGetPartition",
      "glue:CreatePartition",
      "glue:BatchCreatePartition",
      "glue:UpdatePartition",
      "glue:BatchUpdatePartition",
    ]
    resources = [
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:catalog",
      aws_glue_catalog_database.raw.arn,
      "arn:${local.partition}:glue:${var.region}:${local.account_id}:table/${aws_glue_catalog_database.raw.name}/*",
    ]
  }

  # Glue crawlers log to this fixed, account-wide group.
  statement {
    sid     = "CrawlerLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws-glue/crawlers",
      "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws-glue/crawlers:*",
    ]
  }
}

resource "aws_iam_role_policy" "crawler" {
  name   = "crawler"
  role   = aws_iam_role.crawler.id
  policy = data.aws_iam_policy_document.crawler.json
}
