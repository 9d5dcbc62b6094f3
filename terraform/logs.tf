# Log groups of the Chalice functions, created here so they have a retention
# (Lambda would otherwise create them on first write, kept forever) and so the
# function roles need no logs:CreateLogGroup.

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch Logs service key; a customer managed key needs a key policy for the logs service for no gain here.
  #checkov:skip=CKV_AWS_338:Operational logs; retention is the log_retention_days variable (30 days by default), not a year.
  for_each = local.lambda_functions

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
}
