"""Create the resources a stage uses in the emulated account.

Names come from the stage's settings, table shapes from ``chalicelib.dynamo.tables``;
Terraform declares the same things for AWS (a test compares the two).
"""

from __future__ import annotations

from typing import Any

from chalicelib.config import Settings
from chalicelib.dynamo.tables import AUTHORS, STATE, TWEETS, TableDef, create_table_request

STREAM_SHARDS = 2
#: Where moto's Firehose drops what the consumer publishes when it runs with the stage's
#: own settings (``chalice.test.Client``, ``chalice local``): moto stores the rows as they
#: came, without Parquet or partitions, so they stay out of ``curated/``. The local mode
#: hands the consumer the emulated delivery instead (tweetlake_local.poller.DirectPutSource).
MOTO_CURATED_PREFIX = "firehose-moto/curated/"


def curated_firehose_name(settings: Settings) -> str:
    """The stage's curated delivery stream (Terraform: ``tweetlake-<stage>-curated``)."""
    return settings.curated_firehose or f"tweetlake-{settings.stage}-curated"


def table_names(settings: Settings) -> dict[str, TableDef]:
    return {
        settings.tweets_table: TWEETS,
        settings.authors_table: AUTHORS,
        settings.state_table: STATE,
    }


def create_resources(settings: Settings, session: Any = None, shards: int = STREAM_SHARDS) -> None:
    """Stream, tables (with their indexes), the lake bucket and the curated delivery
    stream; waits until usable."""
    import boto3

    session = session or boto3.session.Session()
    region = settings.region
    kinesis = session.client("kinesis", region_name=region)
    dynamodb = session.client("dynamodb", region_name=region)
    s3 = session.client("s3", region_name=region)

    kinesis.create_stream(StreamName=settings.stream_name, ShardCount=shards)
    for name, table in table_names(settings).items():
        dynamodb.create_table(**create_table_request(table, name))
    if region == "us-east-1":
        s3.create_bucket(Bucket=settings.lake_bucket)
    else:
        s3.create_bucket(
            Bucket=settings.lake_bucket,
            CreateBucketConfiguration={"LocationConstraint": region},
        )
    session.client("firehose", region_name=region).create_delivery_stream(
        DeliveryStreamName=curated_firehose_name(settings),
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/tweetlake-firehose-curated",
            "BucketARN": f"arn:aws:s3:::{settings.lake_bucket}",
            "Prefix": MOTO_CURATED_PREFIX,
        },
    )
    kinesis.get_waiter("stream_exists").wait(
        StreamName=settings.stream_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )
