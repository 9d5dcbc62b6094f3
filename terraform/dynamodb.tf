# The operational store, exactly as chalicelib/dynamo/tables.py declares it (a test
# compares the two). On demand: the write rate follows the tweet rate, which
# nobody controls.

resource "aws_dynamodb_table" "tweets" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb); a customer managed key adds a key policy to maintain and a monthly fee for no gain here.
  name                        = "${local.prefix}-tweets"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "hash_line"
  deletion_protection_enabled = var.dynamodb_deletion_protection

  attribute {
    name = "hash_line"
    type = "S"
  }

  attribute {
    name = "author_id"
    type = "S"
  }

  attribute {
    name = "created_hour"
    type = "S"
  }

  attribute {
    name = "created_key"
    type = "S"
  }

  # A user's timeline, newest first.
  global_secondary_index {
    name            = "by_author"
    hash_key        = "author_id"
    range_key       = "created_key"
    projection_type = "ALL"
  }

  # The global feed: one partition per hour keeps writes spread out.
  global_secondary_index {
    name            = "by_time"
    hash_key        = "created_hour"
    range_key       = "created_key"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "authors" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb); see the tweets table.
  name                        = "${local.prefix}-authors"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "author_id"
  deletion_protection_enabled = var.dynamodb_deletion_protection

  attribute {
    name = "author_id"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "state" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS managed key (aws/dynamodb); see the tweets table.
  name                        = "${local.prefix}-state"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.dynamodb_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
