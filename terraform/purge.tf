# The lake purge (chalicelib/purge): a Chalice scheduled function, every 6 hours, that
# rewrites every object holding a deleted tweet. Its role is in iam.tf, its
# alarm in alarms.tf. Rewriting Parquet needs pyarrow, which stays out of
# requirements.txt (every function would carry ~50 MB); the AWS SDK for pandas
# layer, which AWS publishes and which ships pyarrow, is attached to this one
# function through .chalice/config.json (tweetlake_ops.chalice_config copies the
# ARN from the purge_layer_arn output). AWS publishes the layer for x86_64 and arm64
# (aws-sdk-pandas.readthedocs.io, "AWS Lambda Managed Layers": AWSSDKPandas-Python311
# and AWSSDKPandas-Python311-Arm64); the one picked matches var.lambda_architecture,
# which the functions run on.

data "aws_ssm_parameter" "pandas_layer" {
  name = "/aws/service/aws-sdk-pandas/${var.aws_sdk_pandas_version}/${var.region}/py${var.lambda_python}/${var.lambda_architecture}/layer-arn"
}
