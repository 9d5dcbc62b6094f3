"""Re-drive quarantined records after a fix: ``python -m tweetlake_local redrive s3://…``.

The quarantine (``chalicelib.quarantine``) holds one JSON line per record with
its reason and its bytes in ``data_b64``, in objects named by where they came
from. The two origins need different routes back, and that decides the design:

* ``consumer-…`` objects hold records that travelled the stream. Firehose read
  them too, so they are already in ``raw/`` and ``curated/``: putting them back
  on the stream would store them in the lake twice and pay Kinesis and Firehose
  again. They go straight to the consumer (``chalicelib.consume.handler.handle_batch``,
  the code of this checkout, which must hold the fix), in Lambda-shaped batches
  of the trigger's batch size, like ``backfill`` does.
* ``producer-…`` objects hold what the ingest function could not send: source
  lines the normalizer rejected, or envelopes over Kinesis' 1 MiB. They never
  reached the stream, so the lake lacks them too. Lines are normalized again
  (with the fixed normalizer) and the envelopes go back on the stream through
  the ingest function's own ``KinesisProducer``, so the consumer AND the lake
  get them. What still cannot be normalized or sent is counted and left where
  it is.

The consumer's writes are idempotent and the stream's readers dedupe on
``hash_line``/``tweet_id``, so a re-drive run twice does no harm. Records that
fail again are quarantined again (a new object, with the new reason), never
dropped. Nothing is deleted from the quarantine: once the run's counts look
right, remove the prefix yourself (``aws s3 rm --recursive``) or let the
lifecycle rule expire it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.aws import split_s3_uri
from chalicelib.envelope.normalize import normalize_line
from chalicelib.ingest.handler import encode_record
from chalicelib.ingest.producer import UnsendableRecordError
from chalicelib.retry import Backoff
from tweetlake_local.kinesis_events import lambda_record
from tweetlake_local.poller import (
    BatchFailedError,
    Handler,
    invoke_with_retry,
)
from tweetlake_ops.backfill import RawZone, S3Zone


class RedriveError(RuntimeError):
    """The quarantine cannot be read, or the consumer kept failing."""


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    line: int
    reason: str
    data: bytes
    arrival: str | None = None  # for producer entries: when the run read the line


@dataclass
class RedriveSummary:
    objects: int = 0
    to_consumer: int = 0
    to_stream: int = 0
    batches: int = 0
    skipped: int = 0  # filtered out by --reason
    still_bad: list[str] = field(default_factory=list)  # "<key>:<line>: <why>"


def origin_of(key: str) -> str:
    """``consumer`` or ``producer``, from ``quarantine/dt=…/<origin>-<batch key>.jsonl``."""
    name = key.rsplit("/", 1)[-1]
    origin = name.split("-", 1)[0]
    if origin not in ("consumer", "producer"):
        raise RedriveError(f"{key}: not a quarantine object (origin {origin!r})")
    return origin


def entries(zone: RawZone, key: str) -> Iterator[Entry]:
    body = zone.read(key)
    for number, text in enumerate(body.decode("utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            doc = json.loads(text)
            data = base64.b64decode(doc["data_b64"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise RedriveError(f"{key}:{number}: not a quarantine line ({exc})") from None
        yield Entry(key, number, str(doc.get("reason", "")), data, doc.get("approximate_arrival"))


def redrive_event(batch: list[Entry], stream_arn: str) -> dict[str, Any]:
    """A Kinesis event; the pseudo shard names the object, sequence numbers its lines."""
    shard = "shardId-redrive-" + hashlib.sha256(batch[0].key.encode()).hexdigest()[:12]
    return {
        "Records": [
            lambda_record(
                entry.data,
                shard=shard,
                sequence=entry.line,
                partition_key="redrive",
                arrival=0.0,
                stream_arn=stream_arn,
                role="tweetlake-redrive",
            )
            for entry in batch
        ]
    }


def redrive(
    zone: RawZone,
    *,
    consumer: Handler | None,
    producer: Any | None,
    batch_size: int,
    stream_arn: str,
    reason: str | None = None,
    retry: Backoff | None = None,
) -> RedriveSummary:
    """Send every quarantined record under ``zone`` back (None: count only)."""
    summary = RedriveSummary()
    retry = retry or Backoff(base_s=0.5, cap_s=10, max_attempts=5)
    for key in zone.list_keys():
        origin = origin_of(key)
        summary.objects += 1
        picked = []
        for entry in entries(zone, key):
            if reason and reason not in entry.reason:
                summary.skipped += 1
            else:
                picked.append(entry)
        if origin == "consumer":
            for start in range(0, len(picked), batch_size):
                batch = picked[start : start + batch_size]
                summary.to_consumer += len(batch)
                summary.batches += 1
                if consumer is not None:
                    event = redrive_event(batch, stream_arn)
                    try:
                        invoke_with_retry(consumer, event, retry)
                    except BatchFailedError as exc:
                        raise RedriveError(
                            f"{key}: the consumer kept failing ({exc}); nothing after"
                            f" line {batch[0].line - 1} of it was re-driven"
                        ) from exc
        else:
            for entry in picked:
                _to_stream(entry, producer, summary)
    if producer is not None:
        producer.flush()
    return summary


def _to_stream(entry: Entry, producer: Any | None, summary: RedriveSummary) -> None:
    where = f"{entry.key}:{entry.line}"
    if entry.data.startswith(b"{") and b'"kind"' in entry.data[:200]:
        try:  # an envelope the producer could not send (over 1 MiB)
            envelopes = [json.loads(entry.data)]
        except ValueError:
            envelopes = []
    else:
        envelopes = []
    if not envelopes:
        # the original ingest time, so the envelope is what the fixed run would have sent
        text = entry.data.decode("utf-8", errors="replace")
        items = normalize_line(text, ingested_at=entry.arrival)
        envelopes = [i.envelope for i in items if i.envelope and i.kind in ("tweet", "delete")]
        if not envelopes:
            why = "; ".join(i.reason or i.kind for i in items) or "nothing in it"
            summary.still_bad.append(f"{where}: still rejected by the normalizer: {why}")
            return
    for envelope in envelopes:
        data, partition_key, tweet_id = encode_record(envelope)
        if producer is not None:
            try:
                producer.put(data, partition_key, tweet_id=tweet_id)
            except UnsendableRecordError as exc:
                summary.still_bad.append(f"{where}: still unsendable: {exc}")
                continue
        summary.to_stream += 1


def open_quarantine(source: str, s3_client: Any) -> S3Zone:
    """``s3://bucket/quarantine/…`` (a prefix under quarantine/)."""
    expected = f"{source}: expected s3://bucket/quarantine/[dt=YYYY-MM-DD/]"
    try:
        bucket, prefix = split_s3_uri(source)
    except ValueError:
        raise RedriveError(expected) from None
    if not prefix.startswith("quarantine/"):
        raise RedriveError(expected)
    return S3Zone(s3_client, bucket, prefix)
