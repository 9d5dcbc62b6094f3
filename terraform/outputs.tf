# What the Chalice stage needs (python -m tweetlake_ops.chalice_config reads
# `terraform output -json`) and what an operator looks for.

output "stage" {
  description = "Stage these resources belong to (the Chalice stage to deploy)."
  value       = var.stage
}

output "region" {
  description = "Region of every resource; deploy the Chalice app to the same one."
  value       = var.region
}

output "stream_name" {
  description = "Kinesis stream the ingest function writes and the consumer reads (TWEETLAKE_STREAM)."
  value       = aws_kinesis_stream.tweets.name
}

output "stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = aws_kinesis_stream.tweets.arn
}

output "tweets_table" {
  description = "DynamoDB table of tweets (TWEETLAKE_TWEETS_TABLE)."
  value       = aws_dynamodb_table.tweets.name
}

output "authors_table" {
  description = "DynamoDB table of authors (TWEETLAKE_AUTHORS_TABLE)."
  value       = aws_dynamodb_table.authors.name
}

output "state_table" {
  description = "DynamoDB table of checkpoints and the hour directory (TWEETLAKE_STATE_TABLE)."
  value       = aws_dynamodb_table.state.name
}

output "lake_bucket" {
  description = "S3 bucket of the lake (TWEETLAKE_LAKE_BUCKET): raw/, curated/, quarantine/, athena-results/, firehose-errors/, replay/."
  value       = aws_s3_bucket.lake.bucket
}

output "twitter_secret_arn" {
  description = "Secrets Manager secret holding the Twitter/X credentials (TWEETLAKE_TWITTER_SECRET); its value is put out of band."
  value       = aws_secretsmanager_secret.twitter.arn
}

output "x_post_budget" {
  description = "Monthly X post budget (TWEETLAKE_X_POST_BUDGET of the ingest function); the same number sets the 80 % alarm."
  value       = var.x_post_budget
}

output "cursor_key_parameter" {
  description = "SSM SecureString name of the API's cursor-signing key (TWEETLAKE_CURSOR_KEY_PARAMETER); created out of band."
  value       = local.cursor_key_parameter
}

output "lambda_role_arns" {
  description = "IAM role of each Chalice function, keyed by Chalice function name (ingest, consume, compliance, api_handler, purge)."
  value = {
    ingest      = aws_iam_role.ingest.arn
    consume     = aws_iam_role.consume.arn
    compliance  = aws_iam_role.compliance.arn
    api_handler = aws_iam_role.api.arn
    purge       = aws_iam_role.purge.arn
  }
}

output "lambda_architecture" {
  description = "Instruction set of the Chalice functions (and of the purge's layer); chalice_config writes it to the stage."
  value       = var.lambda_architecture
}

output "purge_layer_arn" {
  description = "Lambda layer giving the purge function pyarrow (AWS SDK for pandas, published by AWS for this region and Python); chalice_config writes it to the purge function's layers."
  value       = data.aws_ssm_parameter.pandas_layer.value
}

output "lambda_function_names" {
  description = "Function names Chalice will create, which the log groups and alarms are named after."
  value       = local.lambda_functions
}

output "raw_firehose" {
  description = "Firehose delivery stream copying the Kinesis stream to raw/ (gzip JSON lines)."
  value       = aws_kinesis_firehose_delivery_stream.raw.name
}

output "curated_firehose" {
  description = "Direct PUT Firehose the consumer publishes accepted rows to, written to curated/ as Parquet (TWEETLAKE_CURATED_FIREHOSE)."
  value       = aws_kinesis_firehose_delivery_stream.curated.name
}

output "glue_database" {
  description = "Glue database of the curated table and its view (Athena: SELECT ... FROM <glue_database>.tweets)."
  value       = aws_glue_catalog_database.lake.name
}

output "glue_raw_database" {
  description = "Glue database the raw-zone crawler writes."
  value       = aws_glue_catalog_database.raw.name
}

output "curated_table" {
  description = "Glue base table of the curated Parquet zone (every row the consumer published, tombstones included)."
  value       = aws_glue_catalog_table.tweet_versions.name
}

output "tweets_view" {
  description = "Athena view analysts query: one row per live tweet, over curated_table."
  value       = aws_glue_catalog_table.tweets.name
}

output "crawler_name" {
  description = "Glue crawler over raw/ (start it by hand with aws glue start-crawler --name ...)."
  value       = aws_glue_crawler.raw.name
}

output "athena_workgroup" {
  description = "Athena workgroup to run queries in (aws athena start-query-execution --work-group ...)."
  value       = aws_athena_workgroup.this.name
}

output "named_queries" {
  description = "Athena named query ids, by name (one per sql/*.sql file)."
  value       = { for name, query in aws_athena_named_query.sql : trimsuffix(name, ".sql") => query.id }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies; subscribe pagers or chat here."
  value       = aws_sns_topic.alarms.arn
}

output "api_reader_policy_arn" {
  description = "Managed policy granting GET on this stage's REST API only: attach it to analysts' roles. null until api_id is set (after the first chalice deploy)."
  value       = try(aws_iam_policy.api_reader[0].arn, null)
}

output "api_throttle" {
  description = "Rate (requests/s) and burst of the REST API's stage; null values until api_id is set."
  value = {
    rate_limit  = try(aws_api_gateway_method_settings.throttle[0].settings[0].throttling_rate_limit, null)
    burst_limit = try(aws_api_gateway_method_settings.throttle[0].settings[0].throttling_burst_limit, null)
  }
}
