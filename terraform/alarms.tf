# Alarms, all to one SNS topic; docs/deploy.md lists them with what each
# means. Missing data is "not breaching" unless the
# absence of data is itself the problem (ingest silence).

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key (its key policy cannot grant cloudwatch.amazonaws.com); alarm messages hold metric names, no data.
  name = "${local.prefix}-alarms"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

# --- consumer lag --------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "consume_iterator_age" {
  alarm_name          = "${local.prefix}-consume-iterator-age"
  alarm_description   = "The consumer is falling behind the stream: its oldest unprocessed record is older than ${var.iterator_age_alarm_ms / 60000} minutes. Records expire after ${var.stream_retention_hours} hours."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = local.lambda_functions.consume }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.iterator_age_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "stream_iterator_age" {
  alarm_name          = "${local.prefix}-stream-iterator-age"
  alarm_description   = "Some reader of ${local.stream_name} (the consumer or the raw Firehose) is more than ${var.iterator_age_alarm_ms / 60000} minutes behind."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = aws_kinesis_stream.tweets.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  threshold           = var.iterator_age_alarm_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "stream_read_throttled" {
  alarm_name          = "${local.prefix}-stream-read-throttled"
  alarm_description   = "Reads of ${local.stream_name} are throttled for 15 minutes: the readers exceed a shard's 2 MB/s or 5 calls/s. Add shards (PROVISIONED) or check for an extra reader."
  namespace           = "AWS/Kinesis"
  metric_name         = "ReadProvisionedThroughputExceeded"
  dimensions          = { StreamName = aws_kinesis_stream.tweets.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "ingest_silence" {
  count = var.ingest_silence_alarm ? 1 : 0

  alarm_name          = "${local.prefix}-ingest-silence"
  alarm_description   = "No record reached ${local.stream_name} for 30 minutes: check the ingest function's logs (credentials, source, errors)."
  namespace           = "AWS/Kinesis"
  metric_name         = "IncomingRecords"
  dimensions          = { StreamName = aws_kinesis_stream.tweets.name }
  statistic           = "Sum"
  period              = 600
  evaluation_periods  = 3
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  # No data: a stage without an X source skips the run and emits nothing; a failing
  # run is the lambda-errors alarm's.
  treat_missing_data = "missing"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}

# --- the functions ---------------------------------------------------------------

# Two alarms for all the functions, not two per function: with no dimension, AWS/Lambda
# Errors and Throttles are the sums over every function of the account in this region
# (the Lambda developer guide, "Across All Functions"). CloudWatch bills an alarm per
# metric it watches ($0.10), so per-function alarms cost $0.10 x functions each, and a
# metric math or Metrics Insights alarm over the functions costs the same per metric.
# The price: the alarm fires for any function of the account and region, another
# stage's or another project's too, and does not say which one; docs/operations.md
# says how to find it. A dedicated account per stage makes it exact.

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  alarm_name          = "${local.prefix}-lambda-errors"
  alarm_description   = "A Lambda function of this account and region raised errors: one of ${join(", ", values(local.lambda_functions))}, or a function outside this stage. For consume, Lambda retries the failing batch and the shard waits behind it. Which one: docs/operations.md."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  alarm_name          = "${local.prefix}-lambda-throttles"
  alarm_description   = "Invocations of a Lambda function of this account and region were throttled (account concurrency, or reserved concurrency too low): one of ${join(", ", values(local.lambda_functions))}, or a function outside this stage. Which one: docs/operations.md."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- the lake (Firehose) ---------------------------------------------------------
#
# raw (reads the stream): one alarm, on freshness. A failing S3 delivery is
# retried with the records held back, so failures show as staleness within
# the threshold; a raw stream that stops reading shows in stream_iterator_age.
# (A second alarm on DeliveryToS3.Success would page sooner on transient
# failures Firehose retries anyway, for $0.10 a month.)
# curated (Direct PUT from the consumer): deliveries failing, or rows Firehose
# could not convert (a schema mismatch, which no retry fixes). A row refused at
# PutRecordBatch never reaches Firehose: the consumer retries it and then fails
# its batch (lambda_errors).

resource "aws_cloudwatch_metric_alarm" "firehose_raw_freshness" {
  alarm_name          = "${local.prefix}-raw-freshness"
  alarm_description   = "The oldest record in ${local.firehose_names.raw} waited more than 15 minutes beyond the buffer interval to reach raw/: delivery is failing or retrying (see its log group; what it gives up on lands in firehose-errors/raw/), and the lossless copy lags the stream."
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.DataFreshness"
  dimensions          = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.raw.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.raw_buffer_interval_s + 900
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "firehose_curated_delivery_failures" {
  alarm_name          = "${local.prefix}-curated-delivery-failures"
  alarm_description   = "Some Parquet deliveries of ${local.firehose_names.curated} to curated/ failed (see its log group; what it gives up on lands in firehose-errors/curated/)."
  namespace           = "AWS/Firehose"
  metric_name         = "DeliveryToS3.Success"
  dimensions          = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.curated.name }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "firehose_curated_conversion_failures" {
  alarm_name          = "${local.prefix}-curated-conversion-failures"
  alarm_description   = "${local.firehose_names.curated} could not convert rows the consumer published to Parquet (schema mismatch with the Glue table ${local.curated_table}); they are in firehose-errors/curated/, and the tweets themselves in DynamoDB and raw/."
  namespace           = "AWS/Firehose"
  metric_name         = "FailedConversion.Records"
  dimensions          = { DeliveryStreamName = aws_kinesis_firehose_delivery_stream.curated.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- quarantine --------------------------------------------------------------------

# The consumer emits an EMF metric "Quarantined" in namespace "tweetlake". A
# Metrics Insights query sums it over whatever dimensions the code attaches,
# so the alarm does not break when a dimension is added. It covers every
# stage that reports into this account and region under that namespace.
resource "aws_cloudwatch_metric_alarm" "quarantine" {
  alarm_name          = "${local.prefix}-quarantine"
  alarm_description   = "Records landed in s3://${local.lake_bucket_name}/${local.quarantine_pfx} (undecodable or invalid). Read the reasons there, fix, re-drive."
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "quarantined"
    label       = "Records quarantined"
    expression  = "SELECT SUM(Quarantined) FROM ${local.metrics_namespace}"
    period      = 300
    return_data = true
  }
}

# --- deletes reach the lake ----------------------------------------------------------

# Each purge run emits the age of the oldest request it left pending (EMF metric
# OldestPendingPurgeAgeSeconds; chalicelib/purge/engine.py). X wants deleted content
# gone within 24 hours. The function runs every 6 hours, so a 12-hour period always
# holds a run: no data means the purge is not running at all, which is breaching too.
resource "aws_cloudwatch_metric_alarm" "purge_overdue" {
  alarm_name          = "${local.prefix}-purge-overdue"
  alarm_description   = "A delete is older than 24 hours and still in the lake (or the purge function has not run for 12 hours): read the ${local.lambda_functions.purge} logs, then run `python -m tweetlake_local purge --stage ${var.stage}` (docs/operations.md)."
  namespace           = local.metrics_namespace
  metric_name         = "OldestPendingPurgeAgeSeconds"
  dimensions          = { stage = var.stage }
  statistic           = "Maximum"
  period              = 43200
  evaluation_periods  = 1
  threshold           = 86400
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- the X post budget ---------------------------------------------------------------

# Each ingest run of a billed source (v2) emits the billing cycle's post reads as the
# EMF metric XPostsReadThisCycle (X's usage endpoint at the run's start plus what the
# run read). The run itself stops reading at the budget; this alarm warns at 80 %.
resource "aws_cloudwatch_metric_alarm" "x_post_budget" {
  alarm_name          = "${local.prefix}-x-post-budget"
  alarm_description   = "X post reads this billing cycle passed 80 % of the budget (${var.x_post_budget} posts). At 100 % every ingest run stops reading until the cycle resets: raise TWEETLAKE_X_POST_BUDGET (and x_post_budget) or narrow the rules."
  namespace           = local.metrics_namespace
  metric_name         = "XPostsReadThisCycle"
  dimensions          = { stage = var.stage }
  statistic           = "Maximum"
  period              = 600
  evaluation_periods  = 1
  threshold           = floor(var.x_post_budget * 0.8)
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- the compliance rotation ------------------------------------------------------------

# Each hourly compliance run emits due_after: hour buckets still due and not in a job
# after the run. A rotation that keeps up ends most runs at 0; debt that lasts
# compliance_behind_hours consecutive hours means the jobs cannot keep up (more ids
# due than one job an hour takes, or X failing or never finishing the jobs).
resource "aws_cloudwatch_metric_alarm" "compliance_behind" {
  alarm_name          = "${local.prefix}-compliance-behind"
  alarm_description   = "The compliance rotation has left hour buckets due for ${var.compliance_behind_hours} consecutive hours: deletions on X reach the tables later than the tiers promise. See docs/operations.md (compliance)."
  namespace           = local.metrics_namespace
  metric_name         = "due_after"
  dimensions          = { stage = var.stage }
  statistic           = "Minimum"
  period              = 3600
  evaluation_periods  = var.compliance_behind_hours
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  # No data: a stage without an X source skips the run and emits nothing; a failing
  # run is the lambda-errors alarm's.
  treat_missing_data = "missing"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
}
