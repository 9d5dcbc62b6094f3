"""Create the resources a stage uses in the emulated account, as the dev stage has them.

Names come from the stage's settings, table shapes (encryption included) from
``chalicelib.dynamo.tables``; Terraform declares the same things for AWS, and
tests compare the two: the tables with ``terraform/dynamodb.tf``
(tests/unit/test_terraform_tables.py), and the stream's shards, retention and
encryption here with ``terraform/stages/dev.tfvars`` and ``terraform/kinesis.tf``
(tests/unit/test_terraform_static.py), then what moto reports after
:func:`create_resources` with both (tests/integration/test_harness.py).

What moto cannot do, it only records: the stream's KMS encryption and the
tables' encryption and point-in-time recovery are settings the emulation
reports back, not encrypted bytes or restorable backups.
"""

from __future__ import annotations

from typing import Any

from chalicelib.config import Settings
from chalicelib.dynamo.tables import (
    AUTHORS,
    POINT_IN_TIME_RECOVERY,
    STATE,
    TWEETS,
    TableDef,
    create_table_request,
)

# The dev stage's stream (terraform/stages/dev.tfvars, terraform/kinesis.tf).
STREAM_SHARDS = 1
STREAM_RETENTION_HOURS = 24
STREAM_ENCRYPTION = "KMS"
STREAM_KMS_KEY = "alias/aws/kinesis"  # the AWS managed key
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
    stream; waits until usable.

    ``shards``: the dev stage's one by default; the test harness asks for two so
    that per-shard ordering and interleaving are exercised.
    """
    import boto3

    session = session or boto3.session.Session()
    region = settings.region
    kinesis = session.client("kinesis", region_name=region)
    dynamodb = session.client("dynamodb", region_name=region)
    s3 = session.client("s3", region_name=region)

    stream = settings.stream_name
    kinesis.create_stream(StreamName=stream, ShardCount=shards)
    for name, table in table_names(settings).items():
        dynamodb.create_table(**create_table_request(table, name))
        if POINT_IN_TIME_RECOVERY:
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
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
        StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50}
    )
    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    if summary["RetentionPeriodHours"] < STREAM_RETENTION_HOURS:
        kinesis.increase_stream_retention_period(
            StreamName=stream, RetentionPeriodHours=STREAM_RETENTION_HOURS
        )
    kinesis.start_stream_encryption(
        StreamName=stream, EncryptionType=STREAM_ENCRYPTION, KeyId=STREAM_KMS_KEY
    )
