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
  # The base table holds what the consumer published (at least once, with
  # tombstones); analysts query the view over it (sql/views/tweets.sql).
  curated_table = "tweet_versions"
  tweets_view   = "tweets"

  # Lake layout: one prefix per zone, Hive-style dt=/hour= partitions. The
  # curated zone is partitioned by when each tweet was posted (UTC), read from
  # the envelope's created_at by the JQ query below (Firehose dynamic
  # partitioning), as the local emulation does (tweetlake_local/firehose.py
  # creation_partition). Raw (the lossless copy of the stream) and the error
  # outputs are partitioned by arrival time.
  time_partitions     = "dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"
  creation_partitions = "dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/"

  # dt/hour of created_at when it is the envelope's canonical UTC form, on or after
  # the first tweet's day and at most a day after now (86400 s: a poster's fast
  # clock); else dt=unknown/hour=unknown, which Athena's date projection never
  # lists, so such a tweet never passes for a wrong day (docs/local-lake.md).
  creation_partition_query = <<-JQ
    (.created_at) as $t
    | ((now + 86400) | strftime("%Y-%m-%dT%H")) as $latest
    | if ($t | type) != "string" then {dt: "unknown", hour: "unknown"}
      elif ($t | test("^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):") | not) then {dt: "unknown", hour: "unknown"}
      elif $t[0:10] < "2006-03-21" or $t[0:13] > $latest then {dt: "unknown", hour: "unknown"}
      else {dt: $t[0:10], hour: $t[11:13]}
      end
  JQ
  raw_prefix               = "raw/"
  curated_prefix           = "curated/"
  quarantine_pfx           = "quarantine/"
  athena_prefix            = "athena-results/"
  errors_prefix            = "firehose-errors/"
  replay_prefix            = "replay/"

  # Function names as Chalice builds them: <app>-<stage>-<name> for the
  # scheduled and Kinesis functions, <app>-<stage> for the API handler.
  lambda_functions = {
    ingest     = "${local.prefix}-ingest"
    consume    = "${local.prefix}-consume"
    compliance = "${local.prefix}-compliance"
    api        = local.prefix
    purge      = "${local.prefix}-purge"
  }

  stream_name = "${local.prefix}-tweets"
  # The two delivery streams (firehose.tf), named as the local emulation names
  # them (tweetlake_local/firehose.py raw_delivery, curated_delivery).
  firehose_names = {
    raw     = "${local.prefix}-raw"
    curated = "${local.prefix}-curated"
  }
  twitter_secret = "${var.project}/${var.stage}/twitter"
  # SSM SecureString with the API's cursor-signing key; created out of band
  # (docs/deploy.md) so the key is never in Terraform state.
  cursor_key_parameter = "/${var.project}/${var.stage}/api-cursor-key"

  # Namespace of the metrics the functions emit (Embedded Metric Format).
  # Fixed in the code, whatever the project prefix.
  metrics_namespace = "tweetlake"
}
