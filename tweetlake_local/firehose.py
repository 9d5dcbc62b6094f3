"""Emulated Firehose deliveries: the stream's records into the raw and curated zones.

moto's Firehose neither reads a Kinesis source nor buffers nor converts, so the
local mode does what the two Terraform delivery streams do on AWS:

* ``raw``: records concatenated as they arrive (each envelope already ends in a
  newline, so the object is JSON Lines), gzip, under ``raw/``.
* ``curated``: each record parsed and converted to the curated table's schema
  (``raw`` dropped), written as Parquet with Snappy under ``curated/``; a record
  that fails conversion goes to the error prefix, wrapped as Firehose wraps it,
  and the rest of the buffer is still delivered.

Both buffer by size and by time and flush on close. The curated zone is
partitioned by when each tweet was posted, as Firehose's dynamic partitioning
does with the JQ query in ``terraform/firehose.tf``: ``dt=…/hour=…`` from the
envelope's ``created_at`` (UTC), one object per partition per flush, and
``dt=unknown/hour=unknown`` for a record whose time is missing or implausible
(:func:`creation_partition`). The raw zone is Firehose's source-record backup,
which dynamic partitioning does not reach: like the ``!{timestamp:…}`` prefix
expressions, its partition is the approximate arrival time of the *oldest*
record in the object. Object names are
derived from the first record's shard and sequence number, so re-delivering the
same records (after a restart from a checkpoint) overwrites instead of
duplicating. Every object goes to each sink: the emulated bucket and a folder
on disk for people and DuckDB.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

DEFAULT_LAKE_DIR = Path(".tweetlake") / "lake"
RAW_PREFIX = "raw/"
CURATED_PREFIX = "curated/"
QUARANTINE_PREFIX = "quarantine/"
ERROR_PREFIX = "firehose-errors/"
# Small local buffers so files appear within seconds (AWS: 1-128 MiB, 0-900 s;
# format conversion wants at least 64 MiB).
DEFAULT_BUFFER_BYTES = 1024 * 1024
DEFAULT_BUFFER_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One Kinesis record as a Firehose delivery receives it."""

    data: bytes
    shard_id: str
    sequence_number: str
    arrival: datetime  # ApproximateArrivalTimestamp, aware UTC


class Sink(Protocol):
    def put(self, key: str, body: bytes) -> None: ...


@dataclass
class S3Sink:
    """Objects into a bucket (the emulated one, through an injected boto3 client)."""

    client: Any
    bucket: str

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body)


@dataclass
class DirSink:
    """Objects as files under ``root``; written beside and renamed, so readers never
    see half a file (the temporary name does not match ``*.parquet`` or ``*.gz``)."""

    root: Path

    def put(self, key: str, body: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(body)
        os.replace(tmp, path)


class MirroredS3:
    """An S3 client that also copies what it puts under ``prefixes`` to ``mirror``.

    The ingest run and the consumer write the quarantine through the S3 client
    they are given (:mod:`chalicelib.quarantine`); locally they are given this
    one, so quarantined records land in the lake folder beside ``raw/`` and
    ``curated/`` and outlive the emulated bucket, which lives in moto's memory.
    The bucket is written first: a failed put copies nothing.
    """

    def __init__(self, client: Any, mirror: Sink, prefixes: tuple[str, ...]) -> None:
        self._client = client
        self._mirror = mirror
        self._prefixes = prefixes

    def put_object(self, **kwargs: Any) -> Any:
        response = self._client.put_object(**kwargs)
        key, body = kwargs.get("Key", ""), kwargs.get("Body", b"")
        if key.startswith(self._prefixes):
            self._mirror.put(key, body if isinstance(body, bytes) else body.encode("utf-8"))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def quarantine_mirror(client: Any, lake_dir: Path) -> MirroredS3:
    """``client`` with the quarantine copied under ``lake_dir/quarantine/``."""
    return MirroredS3(client, DirSink(lake_dir), (QUARANTINE_PREFIX,))


@dataclass(frozen=True, slots=True)
class Encoded:
    """What one flush produces: the object body and the records that failed."""

    body: bytes | None
    failures: list[tuple[StreamRecord, str, str]]  # record, error code, message


Encoder = Callable[[list[StreamRecord]], Encoded]


def gzip_lines(records: list[StreamRecord]) -> Encoded:
    """Raw zone: bytes concatenated exactly as they arrived, gzip (mtime 0: same input,
    same bytes)."""
    return Encoded(gzip.compress(b"".join(r.data for r in records), mtime=0), [])


def parquet_rows(records: list[StreamRecord]) -> Encoded:
    """Curated zone: JSON → curated row → Parquet/Snappy; bad records set aside."""
    from tweetlake_local.parquet import ConversionError, parquet_bytes, rows_to_table, to_row

    rows, failures = [], []
    for record in records:
        try:
            rows.append(to_row(json.loads(record.data)))
        except UnicodeDecodeError as exc:
            failures.append((record, "DataFormatConversion.MalformedData", f"not UTF-8: {exc}"))
        except ValueError as exc:  # JSONDecodeError and ConversionError
            code = (
                "DataFormatConversion.InvalidSchema"
                if isinstance(exc, ConversionError)
                else "DataFormatConversion.MalformedData"
            )
            failures.append((record, code, str(exc)))
    body = parquet_bytes(rows_to_table(rows)) if rows else None
    return Encoded(body, failures)


def partition(when: datetime) -> str:
    """``dt=YYYY-MM-DD/hour=HH/``, the Terraform prefix
    ``dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`` evaluated at ``when``."""
    when = when.astimezone(UTC)
    return f"dt={when:%Y-%m-%d}/hour={when:%H}/"


#: The partition of a record whose creation time is missing or implausible: a name no
#: date projection produces, so it never passes for a day.
UNKNOWN_TIME_PARTITION = "dt=unknown/hour=unknown/"
#: The envelope's canonical ``created_at`` up to the hour, as the Terraform JQ query tests it.
CREATED_AT_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):"
#: The day of the first tweet: nothing posted on X is older.
FIRST_TWEET_DAY = "2006-03-21"
#: How far past its arrival a tweet's time may be (the poster's clock) and still count.
FUTURE_TOLERANCE = timedelta(days=1)


def creation_partition(record: StreamRecord) -> str:
    """``dt=YYYY-MM-DD/hour=HH/`` of the envelope's ``created_at`` (UTC), or
    :data:`UNKNOWN_TIME_PARTITION` when it is absent, not the canonical form, before
    :data:`FIRST_TWEET_DAY` or more than :data:`FUTURE_TOLERANCE` after arrival.

    The same string tests as the JQ query Firehose runs (``terraform/firehose.tf``),
    where "now" plays the arrival's part.
    """
    try:
        created = json.loads(record.data).get("created_at")
    except (ValueError, AttributeError):
        return UNKNOWN_TIME_PARTITION
    if not isinstance(created, str) or not re.match(CREATED_AT_PATTERN, created):
        return UNKNOWN_TIME_PARTITION
    latest = (record.arrival.astimezone(UTC) + FUTURE_TOLERANCE).strftime("%Y-%m-%dT%H")
    if created[:10] < FIRST_TWEET_DAY or created[:13] > latest:
        return UNKNOWN_TIME_PARTITION
    return f"dt={created[:10]}/hour={created[11:13]}/"


@dataclass
class DeliveryStats:
    records_in: int = 0
    records_delivered: int = 0
    records_failed: int = 0
    objects_written: int = 0
    bytes_written: int = 0
    keys: list[str] = field(default_factory=list)


@dataclass
class Delivery:
    """One emulated delivery stream: buffer, encode, name, write to every sink.

    ``on_flush`` is told, per shard, the last sequence number now safely written,
    so the reader feeding this delivery checkpoints only what is on disk.
    """

    name: str
    prefix: str
    encode: Encoder
    sinks: list[Sink]
    extension: str
    buffer_bytes: int = DEFAULT_BUFFER_BYTES
    buffer_seconds: float = DEFAULT_BUFFER_SECONDS
    error_prefix: str = ERROR_PREFIX
    clock: Callable[[], float] = time.monotonic
    on_flush: Callable[[dict[str, str]], None] | None = None
    #: Each record's partition (dynamic partitioning); None: the oldest arrival's.
    partition_of: Callable[[StreamRecord], str] | None = None
    stats: DeliveryStats = field(default_factory=DeliveryStats)
    _buffer: list[StreamRecord] = field(default_factory=list)
    _buffered_bytes: int = 0
    _opened_at: float | None = None

    def put(self, records: Iterable[StreamRecord]) -> None:
        """Buffer records; flush whenever the size threshold is reached."""
        for record in records:
            if not self._buffer:
                self._opened_at = self.clock()
            self._buffer.append(record)
            self._buffered_bytes += len(record.data)
            self.stats.records_in += 1
            if self._buffered_bytes >= self.buffer_bytes:
                self.flush()

    def tick(self) -> None:
        """Flush if the oldest buffered record has waited ``buffer_seconds``."""
        if self._opened_at is not None and self.clock() - self._opened_at >= self.buffer_seconds:
            self.flush()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def flush(self) -> str | None:
        """Write the buffer as one object per partition (and each one's failures as one
        error object); returns the last object's key."""
        if not self._buffer:
            return None
        records, self._buffer = self._buffer, []
        self._buffered_bytes, self._opened_at = 0, None
        groups: dict[str, list[StreamRecord]] = {}
        if self.partition_of is None:
            groups[partition(min(r.arrival for r in records))] = records
        else:
            for record in records:
                groups.setdefault(self.partition_of(record), []).append(record)
        key = None
        for part, group in groups.items():
            key = self._deliver(part, group) or key
        if self.on_flush is not None:
            last: dict[str, str] = {}
            for record in records:
                last[record.shard_id] = record.sequence_number
            self.on_flush(last)
        return key

    def _deliver(self, part: str, records: list[StreamRecord]) -> str | None:
        """One partition's records as one object; failures under the arrival time."""
        oldest = min(r.arrival for r in records)
        first = records[0]
        stamp = oldest.astimezone(UTC).strftime("%Y-%m-%d-%H-%M-%S")
        digest = hashlib.sha256(f"{first.shard_id}:{first.sequence_number}".encode()).hexdigest()
        base = f"{self.name}-1-{stamp}-{digest[:16]}"
        encoded = self.encode(records)
        key = None
        if encoded.body is not None:
            key = f"{self.prefix}{part}{base}.{self.extension}"
            self._write(key, encoded.body)
            self.stats.records_delivered += len(records) - len(encoded.failures)
        if encoded.failures:
            self._write_errors(base, oldest, encoded.failures)
        return key

    def close(self) -> None:
        self.flush()

    def _write(self, key: str, body: bytes) -> None:
        for sink in self.sinks:
            sink.put(key, body)
        self.stats.objects_written += 1
        self.stats.bytes_written += len(body)
        self.stats.keys.append(key)

    def _write_errors(
        self, base: str, oldest: datetime, failures: list[tuple[StreamRecord, str, str]]
    ) -> None:
        """One JSON line per failed record, shaped like Firehose's error output."""
        lines = []
        for record, code, message in failures:
            arrival_ms = int(record.arrival.timestamp() * 1000)
            lines.append(
                json.dumps(
                    {
                        "attemptsMade": 1,
                        "arrivalTimestamp": arrival_ms,
                        "errorCode": code,
                        "errorMessage": message,
                        "attemptEndingTimestamp": arrival_ms,
                        "rawData": base64.b64encode(record.data).decode("ascii"),
                        "sequenceNumber": record.sequence_number,
                        "shardId": record.shard_id,
                        "deliveryStreamName": self.name,
                    },
                    separators=(",", ":"),
                )
            )
        key = (
            f"{self.error_prefix}{self.name}/format-conversion-failed/"
            f"{partition(oldest)}{base}.jsonl"
        )
        self._write(key, ("\n".join(lines) + "\n").encode())
        self.stats.records_failed += len(failures)


def lake_sinks(s3_client: Any | None, bucket: str | None, lake_dir: Path | None) -> list[Sink]:
    """The bucket and/or the folder mirror, whichever are configured."""
    sinks: list[Sink] = []
    if s3_client is not None and bucket:
        sinks.append(S3Sink(s3_client, bucket))
    if lake_dir is not None:
        sinks.append(DirSink(lake_dir))
    if not sinks:
        raise ValueError("a delivery needs a bucket, a folder, or both")
    return sinks


def raw_delivery(sinks: list[Sink], stage: str = "dev", **options: Any) -> Delivery:
    """The lossless JSON-lines delivery (what the Glue crawler and Athena read under raw/)."""
    return Delivery(
        name=f"tweetlake-{stage}-raw",
        prefix=RAW_PREFIX,
        encode=gzip_lines,
        sinks=sinks,
        extension="gz",
        **options,
    )


def curated_delivery(sinks: list[Sink], stage: str = "dev", **options: Any) -> Delivery:
    """The Parquet delivery (the Glue table with partition projection over curated/),
    partitioned by each tweet's creation time."""
    return Delivery(
        name=f"tweetlake-{stage}-curated",
        prefix=CURATED_PREFIX,
        encode=parquet_rows,
        sinks=sinks,
        extension="parquet",
        partition_of=creation_partition,
        **options,
    )
