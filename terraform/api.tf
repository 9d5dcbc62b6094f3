# The REST API's access and bill. `chalice deploy` creates the API (its methods carry
# AWS_IAM authorization unless the stage sets TWEETLAKE_API_ACCESS=public); Terraform
# adds what Chalice cannot set: the stage's throttle, and the managed policy a reader
# needs. Both need the API's id, which exists only after the first `chalice deploy`
# (.chalice/deployed/<stage>.json, rest_api_id): set var.api_id and apply again.
#
# Why a variable and not a lookup: an execute-api ARN names the API by id, never by
# name, and Chalice gives every stage's API the same name (the app's), so a lookup by
# name is ambiguous once two stages share an account, and a wildcard over ids would
# grant every API in the account.

locals {
  api_stage_arn = var.api_id == null ? null : "arn:${local.partition}:execute-api:${var.region}:${local.account_id}:${var.api_id}/${var.api_gateway_stage}"
}

# Every method of the stage: a flood gets 429 from API Gateway before Lambda runs.
resource "aws_api_gateway_method_settings" "throttle" {
  #checkov:skip=CKV_AWS_225:A response cache is a cache cluster billed by the hour (from about $14 a month) on a stage Chalice owns; responses already carry Cache-Control, and the throttle is what bounds the bill.
  count       = var.api_id == null ? 0 : 1
  rest_api_id = var.api_id
  stage_name  = var.api_gateway_stage
  method_path = "*/*"

  settings {
    throttling_rate_limit  = var.api_throttle_rate_limit
    throttling_burst_limit = var.api_throttle_burst_limit
    metrics_enabled        = true
  }
}

# Read-only: GET on this stage of this API, nothing else. Operators attach it to
# their analysts' roles; Terraform attaches it to nobody.
data "aws_iam_policy_document" "api_reader" {
  count = var.api_id == null ? 0 : 1

  statement {
    sid       = "ReadTweetlakeApi"
    actions   = ["execute-api:Invoke"]
    resources = ["${local.api_stage_arn}/GET/*"]
  }
}

resource "aws_iam_policy" "api_reader" {
  count       = var.api_id == null ? 0 : 1
  name        = "${local.prefix}-api-reader"
  description = "Call the ${var.stage} tweetlake REST API read-only (GET on stage ${var.api_gateway_stage} of API ${var.api_id})."
  policy      = data.aws_iam_policy_document.api_reader[0].json
}
