# The stream every tweet passes through. Its readers share each shard's 2 MB/s
# and five GetRecords calls a second: the consumer's event source mapping and
# the raw Firehose. The curated Firehose does not read it: the consumer puts
# its accepted rows there (firehose.tf).

resource "aws_kinesis_stream" "tweets" {
  name             = local.stream_name
  retention_period = var.stream_retention_hours
  shard_count      = var.stream_mode == "PROVISIONED" ? var.stream_shard_count : null

  # The AWS managed key: encryption at rest without key policies to maintain;
  # producers and consumers need no KMS permissions for it.
  encryption_type = "KMS"
  kms_key_id      = "alias/aws/kinesis"

  stream_mode_details {
    stream_mode = var.stream_mode
  }
}
