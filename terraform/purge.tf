# The lake purge (chalicelib/purge): a Chalice scheduled function, every 6 hours, that
# rewrites every object holding a deleted tweet. Its role is in iam.tf, its
# alarm in alarms.tf. Rewriting Parquet needs pyarrow, which stays out of
# requirements.txt (every function would carry ~50 MB); the AWS SDK for pandas
# layer, which AWS publishes and which ships pyarrow, is attached to this one
# function through .chalice/config.json (tweetlake_ops.chalice_config copies the
# ARN from the purge_layer_arn output).

data "aws_ssm_parameter" "pandas_layer" {
  name = "/aws/service/aws-sdk-pandas/${var.aws_sdk_pandas_version}/${var.region}/py${var.lambda_python}/x86_64/layer-arn"
}
