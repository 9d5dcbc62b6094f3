# Inputs. Every stage sets these in stages/<stage>.tfvars; defaults are the
# values a small production deployment wants, so a tfvars file only says how a
# stage differs.

variable "project" {
  type        = string
  description = "Prefix of every resource name (<project>-<stage>-<thing>). The Chalice app and chalicelib/config.py assume tweetlake."
  default     = "tweetlake"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project))
    error_message = "project must be 2-16 characters: lowercase letters, digits and '-', starting with a letter."
  }
}

variable "stage" {
  type        = string
  description = "Deployment stage, e.g. dev or prod. Must match the Chalice stage name you deploy with (chalice deploy --stage <stage>)."

  validation {
    # Same rule as chalicelib/config.py (_STAGE_RE), so a name Terraform accepts the app accepts too.
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.stage))
    error_message = "stage must be 1-16 characters: lowercase letters, digits and '-', starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region for every resource (the Chalice functions must be deployed to the same region)."

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must look like eu-west-1."
  }
}

variable "stream_mode" {
  type        = string
  description = "Kinesis capacity mode: PROVISIONED (pay per shard-hour: one shard is $10.95 a month and takes X pay-per-use's 250 posts/s) or ON_DEMAND (pay per GB plus $29.20 a month of stream-hours; scales itself, for Enterprise volumes)."
  default     = "PROVISIONED"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "stream_shard_count" {
  type        = number
  description = "Shards when stream_mode is PROVISIONED (ignored for ON_DEMAND). One shard takes 1 MB/s or 1,000 records/s in and gives 2 MB/s out, shared by the consumer and the raw Firehose."
  default     = 1

  validation {
    condition     = var.stream_shard_count >= 1 && floor(var.stream_shard_count) == var.stream_shard_count
    error_message = "stream_shard_count must be a whole number >= 1."
  }
}

variable "stream_retention_hours" {
  type        = number
  description = "How long Kinesis keeps records: the window to fix and recover a failing consumer before records expire (Lambda retries a failing batch until then). 24 h is included in the shard price; any longer costs $14.60 a month per provisioned shard. Records that expire are still in raw/ (Firehose), from where tweetlake_ops.backfill restores them."
  default     = 24

  validation {
    condition     = var.stream_retention_hours >= 24 && var.stream_retention_hours <= 8760
    error_message = "stream_retention_hours must be between 24 and 8760."
  }
}

variable "firehose_buffer_size_mb" {
  type        = number
  description = "Curated Firehose buffer before it writes a Parquet file to curated/ (MiB), per active dt/hour partition. Record format conversion needs at least 64."
  default     = 128

  validation {
    condition     = var.firehose_buffer_size_mb >= 64 && var.firehose_buffer_size_mb <= 128
    error_message = "firehose_buffer_size_mb must be between 64 (the minimum with format conversion) and 128."
  }
}

variable "firehose_buffer_interval_s" {
  type        = number
  description = "Longest the curated Firehose waits before writing a curated/ file (seconds): the analysts' freshness versus file count (raw/ has raw_buffer_interval_s). 900 by default: a third of the objects of 300, so a third of the purge's reads and rewrites."
  default     = 900

  validation {
    condition     = var.firehose_buffer_interval_s >= 60 && var.firehose_buffer_interval_s <= 900
    error_message = "firehose_buffer_interval_s must be between 60 and 900."
  }
}

variable "raw_buffer_interval_s" {
  type        = number
  description = "Longest the raw Firehose waits before writing a raw/ file (seconds). raw/ is the lossless copy read by backfills, re-drives and the purge, not by live queries, so the default is the longest Firehose allows: a third of the objects (and S3 PUTs) of 300 s."
  default     = 900

  validation {
    condition     = var.raw_buffer_interval_s >= 60 && var.raw_buffer_interval_s <= 900
    error_message = "raw_buffer_interval_s must be between 60 and 900."
  }
}

variable "raw_buffer_size_mb" {
  type        = number
  description = "Raw Firehose buffer before it writes a gzip JSON-lines file of the stream's records to raw/ (MiB); no conversion, so any size from 1."
  default     = 64

  validation {
    condition     = var.raw_buffer_size_mb >= 1 && var.raw_buffer_size_mb <= 128
    error_message = "raw_buffer_size_mb must be between 1 and 128."
  }
}

variable "athena_bytes_scanned_cutoff" {
  type        = number
  description = "Athena cancels any query of the workgroup that scans more than this many bytes (cost guard). Athena's minimum is 10 MB."
  default     = 10737418240

  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760
    error_message = "athena_bytes_scanned_cutoff must be at least 10485760 (10 MB), Athena's minimum."
  }
}

variable "alarm_email" {
  type        = string
  description = "E-mail address subscribed to the alarm topic (confirm the subscription mail). null: no subscription; subscribe something else to the topic."
  default     = null
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the Lambda, Firehose and crawler log groups this module creates."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "raw_transition_days" {
  type        = number
  description = "Days after which raw/ objects move to S3 Standard-IA (raw is read for replays and audits, rarely)."
  default     = 30

  validation {
    condition     = var.raw_transition_days >= 30
    error_message = "raw_transition_days must be at least 30 (S3's minimum for STANDARD_IA)."
  }
}

variable "quarantine_expiration_days" {
  type        = number
  description = "Days quarantined records (quarantine/) are kept: long enough to notice, fix and re-drive."
  default     = 90

  validation {
    condition     = var.quarantine_expiration_days >= 1
    error_message = "quarantine_expiration_days must be at least 1."
  }
}

variable "athena_results_expiration_days" {
  type        = number
  description = "Days Athena query results (athena-results/) are kept."
  default     = 7

  validation {
    condition     = var.athena_results_expiration_days >= 1
    error_message = "athena_results_expiration_days must be at least 1."
  }
}

variable "firehose_errors_expiration_days" {
  type        = number
  description = "Days records Firehose could not convert or deliver (firehose-errors/) are kept."
  default     = 90

  validation {
    condition     = var.firehose_errors_expiration_days >= 1
    error_message = "firehose_errors_expiration_days must be at least 1."
  }
}

variable "projection_start_date" {
  type        = string
  description = "First dt (yyyy-MM-dd) Athena's partition projection considers for the curated table. dt is the day a tweet was posted, so the default is the first tweet's day: a later date hides older tweets (a backfill of old tweets lands in their own days). Queries without a dt filter enumerate every day from here."
  default     = "2006-03-21"

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.projection_start_date))
    error_message = "projection_start_date must be yyyy-MM-dd."
  }
}

variable "crawler_schedule" {
  type        = string
  description = "When the Glue crawler over raw/ runs (EventBridge cron, UTC), or null: only when started (aws glue start-crawler). Each run is billed at least 10 minutes of DPU time ($2.23 a month daily, $0.31 weekly). The default is null: raw/ is read by backfills, re-drives and the purge straight from S3, and an operator runs the crawler before an ad-hoc Athena query of raw/ (docs/operations.md); the curated table uses partition projection and needs no crawler."
  default     = null
}

variable "iterator_age_alarm_ms" {
  type        = number
  description = "Alarm when the consumer's oldest unread record is older than this (ms). The ingest function writes every 10 minutes, so the default leaves room for one slow batch."
  default     = 900000

  validation {
    condition     = var.iterator_age_alarm_ms >= 60000
    error_message = "iterator_age_alarm_ms must be at least 60000 (one minute)."
  }
}

variable "dynamodb_deletion_protection" {
  type        = bool
  description = "Refuse to delete the DynamoDB tables (turn off in throwaway stages so terraform destroy works)."
  default     = true
}

variable "secret_recovery_window_days" {
  type        = number
  description = "Days a deleted Twitter credentials secret can still be restored (0 deletes at once: throwaway stages only)."
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "lake_bucket_name" {
  type        = string
  description = "Override the lake bucket's name. null: <project>-<stage>-lake-<account id>-<region>, unique across AWS without coordination."
  default     = null

  validation {
    condition     = var.lake_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.lake_bucket_name))
    error_message = "lake_bucket_name must be a valid S3 bucket name (3-63 characters: a-z 0-9 . -)."
  }
}

variable "ingest_silence_alarm" {
  type        = bool
  description = "Alarm when nothing reaches the stream for 30 minutes (expired credentials, a stuck source). Turn off for stages that ingest only now and then."
  default     = true
}

variable "api_id" {
  type        = string
  description = "Id of the REST API `chalice deploy --stage <stage>` created (rest_api_id in .chalice/deployed/<stage>.json). null before the first deploy: no throttle and no reader policy yet."
  default     = null

  validation {
    condition     = var.api_id == null || can(regex("^[a-z0-9]{10}$", var.api_id))
    error_message = "api_id must be the 10-character REST API id (e.g. a1b2c3d4e5), not its name or URL."
  }
}

variable "api_gateway_stage" {
  type        = string
  description = "API Gateway stage Chalice deploys to: api_gateway_stage in .chalice/config.json (Chalice's default is api)."
  default     = "api"
}

variable "api_throttle_rate_limit" {
  type        = number
  description = "Steady requests per second the API's stage accepts across all callers; more get 429 before Lambda runs. Bounds the API's monthly worst case (docs/cost.md)."
  default     = 10

  validation {
    condition     = var.api_throttle_rate_limit > 0 && var.api_throttle_rate_limit <= 10000
    error_message = "api_throttle_rate_limit must be above 0 and at most 10000 (the account's default limit)."
  }
}

variable "api_throttle_burst_limit" {
  type        = number
  description = "Requests the API's stage accepts at once above the steady rate (token bucket size)."
  default     = 20

  validation {
    condition     = var.api_throttle_burst_limit >= 1 && var.api_throttle_burst_limit <= 5000
    error_message = "api_throttle_burst_limit must be from 1 to 5000 (the account's default burst)."
  }
}

variable "x_post_budget" {
  type        = number
  description = "Posts X may bill in a monthly billing cycle (pay-per-use: $0.005 each, capped at 3,000,000). The ingest function stops reading at it (TWEETLAKE_X_POST_BUDGET, copied into the Chalice stage by tweetlake_ops.chalice_config); the x-post-budget alarm fires at 80 %."
  default     = 3000000

  validation {
    condition     = var.x_post_budget >= 1 && floor(var.x_post_budget) == var.x_post_budget
    error_message = "x_post_budget must be a whole number of posts, at least 1."
  }
}

variable "aws_sdk_pandas_version" {
  type        = string
  description = "Version of the AWS SDK for pandas Lambda layer (published by AWS, it ships pyarrow) attached to the purge function only, for rewriting Parquet; its ARN is read from the public SSM parameter AWS keeps per version, region and Python."
  default     = "3.16.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.aws_sdk_pandas_version))
    error_message = "aws_sdk_pandas_version must look like 3.16.1 (see https://aws-sdk-pandas.readthedocs.io/en/stable/layers.html)."
  }
}

variable "lambda_architecture" {
  type        = string
  description = "Instruction set of every Chalice function (chalice_config writes it to the stage as lambda_architecture) and of the pandas layer picked for the purge. arm64: Lambda bills its GB-seconds 20 % below x86_64 (docs/cost.md)."
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_python" {
  type        = string
  description = "Python version of the Chalice functions' runtime (Chalice deploys with the version it runs under; pyproject.toml pins 3.11), used to pick the matching pandas layer."
  default     = "3.11"

  validation {
    condition     = can(regex("^3\\.[0-9]+$", var.lambda_python))
    error_message = "lambda_python must look like 3.11."
  }
}

variable "compliance_behind_hours" {
  type        = number
  description = "Consecutive hourly compliance runs that must end with hour buckets still due (due_after > 0) before the compliance-behind alarm fires."
  default     = 24

  validation {
    condition     = var.compliance_behind_hours >= 1 && var.compliance_behind_hours <= 24 && floor(var.compliance_behind_hours) == var.compliance_behind_hours
    error_message = "compliance_behind_hours must be a whole number from 1 to 24 (CloudWatch evaluates at most a day of hourly periods)."
  }
}
