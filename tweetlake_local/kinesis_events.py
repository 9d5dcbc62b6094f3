"""Lambda-shaped Kinesis events, built by hand: the one home of that shape.

``chalice.test.Client``'s ``generate_kinesis_event`` gives every record the same
sequence number and a fixed stream name; the consumer's exactly-once
bookkeeping needs real, increasing sequence numbers per shard. The local
mode's poller, backfill, redrive, the benchmarks and the tests build events here.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.normalize import envelope_bytes

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


def kinesis_record(
    data: bytes | str | Mapping[str, Any],
    *,
    sequence: int | str,
    stream: str,
    shard: str = "shardId-000000000000",
    partition_key: str = "0",
    arrival: float = 1_764_000_000.0,
    region: str = "us-east-1",
    encoded: str | None = None,
) -> dict[str, Any]:
    """One record as Lambda delivers it; ``data`` may be an envelope dict, text or bytes.

    ``encoded`` overrides the base64 text (to send something that is not base64).
    """
    if isinstance(data, Mapping):
        data = envelope_bytes(data)  # as the producer writes it
    if isinstance(data, str):
        data = data.encode("utf-8")
    record = lambda_record(
        data,
        shard=shard,
        sequence=sequence,
        partition_key=partition_key,
        arrival=arrival,
        stream_arn=stream_arn(stream, region),
        role="tweetlake-consume",
    )
    if encoded is not None:
        record["kinesis"]["data"] = encoded
    return record


def kinesis_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}
