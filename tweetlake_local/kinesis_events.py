"""Lambda-shaped Kinesis events, built by hand: the one home of that shape.

``chalice.test.Client``'s ``generate_kinesis_event`` gives every record the same
sequence number and a fixed stream name; the consumer's exactly-once
bookkeeping needs real, increasing sequence numbers per shard. The local
mode's poller, backfill and redrive build events here, and so do the tests
(through ``tests.support.kinesis_events``).
"""

from __future__ import annotations

import base64
from typing import Any

DEFAULT_ACCOUNT = "123456789012"


def stream_arn(stream: str, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT) -> str:
    return f"arn:aws:kinesis:{region}:{account}:stream/{stream}"


def lambda_record(
    data: bytes,
    *,
    shard: str,
    sequence: int | str,
    partition_key: str,
    arrival: float,
    stream_arn: str,
    role: str,
) -> dict[str, Any]:
    """One record as Lambda's Kinesis event source mapping delivers it."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": str(sequence),
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/{role}",
        "awsRegion": stream_arn.split(":")[3],
        "eventSourceARN": stream_arn,
    }
