# Twitter/X credentials for the live sources. Terraform creates the empty
# secret only: its value is put out of band (docs/deploy.md) so it never
# appears in Terraform state, a plan or a tfvars file. Expected JSON keys:
# {"bearer_token": ...} for v2, or the four OAuth 1.0a keys for v1.1.

resource "aws_secretsmanager_secret" "twitter" {
  #checkov:skip=CKV2_AWS_57:Twitter/X tokens are rotated in the X developer portal, not by a rotation Lambda; docs/deploy.md says how to put the new value.
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS managed key (aws/secretsmanager), which the ingest role can use without extra KMS grants.
  name                    = local.twitter_secret
  description             = "Twitter/X API credentials for tweetlake ${var.stage} (read by the ingest and compliance functions)."
  recovery_window_in_days = var.secret_recovery_window_days
}
