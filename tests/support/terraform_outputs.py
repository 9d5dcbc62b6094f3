"""What ``terraform output -json`` prints after an apply of ``terraform/`` (shape and names)."""

from __future__ import annotations

from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"


def lake_bucket(stage: str = "prod") -> str:
    return f"tweetlake-{stage}-lake-{ACCOUNT}-{REGION}"


def terraform_outputs(stage: str = "prod") -> dict[str, Any]:
    """The outputs the Chalice bridge reads, for a stage in account ACCOUNT, region REGION."""
    values = {
        "stage": stage,
        "region": REGION,
        "stream_name": f"tweetlake-{stage}-tweets",
        "stream_arn": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/tweetlake-{stage}-tweets",
        "tweets_table": f"tweetlake-{stage}-tweets",
        "authors_table": f"tweetlake-{stage}-authors",
        "state_table": f"tweetlake-{stage}-state",
        "lake_bucket": lake_bucket(stage),
        "curated_firehose": f"tweetlake-{stage}-curated",
        "twitter_secret_arn": (
            f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tweetlake/{stage}/twitter-AbCdEf"
        ),
        "cursor_key_parameter": f"/tweetlake/{stage}/api-cursor-key",
        "x_post_budget": 1000000,
        "lambda_role_arns": {
            "ingest": f"arn:aws:iam::{ACCOUNT}:role/tweetlake-{stage}-ingest",
            "consume": f"arn:aws:iam::{ACCOUNT}:role/tweetlake-{stage}-consume",
            "compliance": f"arn:aws:iam::{ACCOUNT}:role/tweetlake-{stage}-compliance",
            "api_handler": f"arn:aws:iam::{ACCOUNT}:role/tweetlake-{stage}-api",
            "purge": f"arn:aws:iam::{ACCOUNT}:role/tweetlake-{stage}-purge",
        },
        "lambda_architecture": "arm64",
        "purge_layer_arn": (
            f"arn:aws:lambda:{REGION}:336392948345:layer:AWSSDKPandas-Python311-Arm64:1"
        ),
    }
    return {k: {"sensitive": False, "type": "string", "value": v} for k, v in values.items()}
