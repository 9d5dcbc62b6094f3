# Names and shared values. Every name follows <project>-<stage>-<thing>, the
# convention the Chalice stage config uses; the bridge
# (python -m tweetlake_ops.chalice_config) copies the real values from
# `terraform output -json` into .chalice/config.json.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  prefix     = "${var.project}-${var.stage}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # S3 bucket names are global: the account id (and region, for a second
  # region of the same account) make the default unique without coordination.
  lake_bucket_name = coalesce(var.lake_bucket_name, "${local.prefix}-lake-${local.account_id}-${var.region}")

  # Glue and Athena identifiers take underscores, not dashes.
  glue_database     = replace("${var.project}_${var.stage}", "-", "_")
  glue_raw_database = "${local.glue_database}_raw"
  curated_table     = "tweets"

  # Lake layout: one prefix per zone. The Firehose prefixes partition by
  # arrival time, Hive style, the same dt=/hour= layout the local Parquet
  # writer uses and the curated table's partition projection expects.
  time_partitions = "dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
  raw_prefix      = "raw/"
  curated_prefix  = "curated/"
  quarantine_pfx  = "quarantine/"
  athena_prefix   = "athena-results/"
  errors_prefix   = "firehose-errors/"
  replay_prefix   = "replay/"

  # Function names as Chalice builds them: <app>-<stage>-<name> for the
  # scheduled and Kinesis functions, <app>-<stage> for the API handler.
  lambda_functions = {
    ingest  = "${local.prefix}-ingest"
    consume = "${local.prefix}-consume"
    api     = local.prefix
  }

  stream_name    = "${local.prefix}-tweets"
  firehose_name  = "${local.prefix}-lake"
  twitter_secret = "${var.project}/${var.stage}/twitter"
  # SSM SecureString with the API's cursor-signing key; created out of band
  # (docs/deploy.md) so the key is never in Terraform state.
  cursor_key_parameter = "/${var.project}/${var.stage}/api-cursor-key"

  # Namespace of the metrics the functions emit (Embedded Metric Format).
  # Fixed in the code, whatever the project prefix.
  metrics_namespace = "tweetlake"
}
