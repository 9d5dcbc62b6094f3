"""Replay the raw zone through the consumer: rebuild DynamoDB from the lake.

The raw zone holds every record the stream carried, byte for byte (gzip JSON
lines, one envelope a line). Backfill reads its objects in key order (the keys
sort by arrival: ``raw/dt=…/hour=…/<stream>-1-<time>-…``), each file's lines in
order, and hands them to a consumer callable as Lambda-shaped Kinesis events of
the consumer's batch size. It adds no state of its own: safety on re-runs comes
from the consumer being idempotent, so feeding the same lake twice leaves the
tables as once did. A batch the consumer keeps failing stops the run with the
object to resume from (``--start-after``).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from chalicelib.aws import split_s3_uri
from chalicelib.retry import Backoff
from tweetlake_local.firehose import RAW_PREFIX
from tweetlake_local.kinesis_events import lambda_record
from tweetlake_local.kinesis_events import stream_arn as kinesis_stream_arn
from tweetlake_local.poller import (
    BatchFailedError,
    Handler,
    invoke_with_retry,
)

_PARTITION = re.compile(r"dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/")
_GZIP_MAGIC = b"\x1f\x8b"


class BackfillError(RuntimeError):
    """The source cannot be read, or the consumer kept failing; says where to resume."""


class RawZone(Protocol):
    def list_keys(self) -> list[str]: ...

    def read(self, key: str) -> bytes: ...


@dataclass
class LocalZone:
    """Raw objects in a folder: the lake mirror's root (holding ``raw/``) or ``raw/`` itself."""

    root: Path

    def __post_init__(self) -> None:
        if not self.root.is_dir():
            raise BackfillError(f"{self.root} is not a folder: pass the lake folder or its raw/")
        if (self.root / RAW_PREFIX).is_dir():
            self.root = self.root / RAW_PREFIX

    def list_keys(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()


@dataclass
class S3Zone:
    client: Any
    bucket: str
    prefix: str = RAW_PREFIX

    def list_keys(self) -> list[str]:
        keys = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        return sorted(keys)

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body


def open_zone(source: str, s3_client: Any | None = None) -> RawZone:
    """``s3://bucket/prefix`` (prefix defaults to ``raw/``) or a local folder."""
    if source.startswith("s3://"):
        try:
            bucket, prefix = split_s3_uri(source)
        except ValueError:
            raise BackfillError(f"{source}: expected s3://bucket[/prefix]") from None
        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        return S3Zone(s3_client, bucket, prefix or RAW_PREFIX)
    return LocalZone(Path(source))


def object_lines(body: bytes) -> list[bytes]:
    """The records of one raw object (gzip or plain), newline kept, blank lines dropped."""
    if body.startswith(_GZIP_MAGIC):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise BackfillError(f"corrupt gzip: {exc}") from None
    return [line + b"\n" for line in body.split(b"\n") if line.strip()]


def _arrival(key: str) -> float | None:
    match = _PARTITION.search(key)
    if not match:
        return None
    day, hour = match.groups()
    return datetime.fromisoformat(f"{day}T{hour}:00:00+00:00").astimezone(UTC).timestamp()


def backfill_event(
    lines: list[bytes],
    first_line: int,
    key: str,
    stream_arn: str,
    arrival: float,
) -> dict[str, Any]:
    """A Lambda Kinesis event for some lines of one raw object.

    The pseudo shard id names the object (``backfill-<hash of key>``) and the
    sequence number is the line number, so a quarantined record can be traced
    back to its file and line.
    """
    shard_id = "shardId-backfill-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    return {
        "Records": [
            lambda_record(
                line,
                shard=shard_id,
                sequence=first_line + i,
                partition_key="backfill",
                arrival=arrival,
                stream_arn=stream_arn,
                role="tweetlake-backfill",
            )
            for i, line in enumerate(lines)
        ]
    }


@dataclass
class BackfillSummary:
    objects: int = 0
    records: int = 0
    batches: int = 0


def iter_batches(
    zone: RawZone, batch_size: int, start_after: str | None = None
) -> Iterator[tuple[str, int, list[bytes]]]:
    """(key, first line number, lines) per batch, in key order then line order."""
    for key in zone.list_keys():
        if start_after is not None and key <= start_after:
            continue
        try:
            lines = object_lines(zone.read(key))
        except BackfillError as exc:
            raise BackfillError(f"{key}: {exc}") from None
        for start in range(0, len(lines), batch_size):
            yield key, start + 1, lines[start : start + batch_size]


def backfill(
    zone: RawZone,
    consumer: Handler,
    *,
    batch_size: int,
    region: str,
    stream_arn: str | None = None,
    start_after: str | None = None,
    retry: Backoff | None = None,
    clock: Callable[[], float] = time.time,
    progress: Callable[[BackfillSummary], None] | None = None,
) -> BackfillSummary:
    """Feed every raw record, in order, to ``consumer``; returns what was fed."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    arn = stream_arn or kinesis_stream_arn("tweetlake-backfill", region)
    retry = retry or Backoff(base_s=0.5, cap_s=10, max_attempts=5)
    summary = BackfillSummary()
    current, done = None, start_after
    for key, first_line, lines in iter_batches(zone, batch_size, start_after):
        if key != current:
            done, current = current or done, key
            summary.objects += 1
        arrival = _arrival(key)
        event = backfill_event(lines, first_line, key, arn, clock() if arrival is None else arrival)
        try:
            invoke_with_retry(consumer, event, retry)
        except BatchFailedError as exc:
            resume = f"--start-after {done}" if done else "no --start-after (from the start)"
            raise BackfillError(
                f"{key} lines {first_line}-{first_line + len(lines) - 1}: {exc};"
                f" everything before it was fed: rerun with {resume}"
            ) from None
        summary.records += len(lines)
        summary.batches += 1
        if progress is not None:
            progress(summary)
    return summary
