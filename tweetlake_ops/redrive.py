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

Bytes are never repaired. A record that is not UTF-8 stays in quarantine and the
report says so, unless ``decode`` (``--decode-non-utf8 CODEC``) names the
encoding to read producer lines in; consumer records are envelopes our own
producer wrote as ASCII, so non-UTF-8 ones are never re-driven (the consumer
would only refuse them again).

The report covers what the consumer did with every re-driven record (its
``stored``/``duplicates``/``deleted``/``suppressed``/``quarantined`` counts, summed
over the batches), and a record the consumer refuses again is quarantined under
its original day: the re-driven event carries the record's first arrival time,
and its pseudo shard and sequence numbers are stable, so re-driving the same
object again overwrites that copy instead of adding one more.

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
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chalicelib.aws import split_s3_uri
from chalicelib.consume.transform import arrival_iso
from chalicelib.envelope.normalize import normalize_line
from chalicelib.ingest.handler import encode_record
from chalicelib.ingest.producer import UnsendableRecordError
from chalicelib.quarantine import quarantine_key
from chalicelib.retry import Backoff
from chalicelib.timeutil import parse_iso
from tweetlake_local.kinesis_events import lambda_record
from tweetlake_local.poller import (
    BatchFailedError,
    Handler,
    invoke_with_retry,
)
from tweetlake_ops.backfill import RawZone, S3Zone

#: What the consumer's counts say about re-driven records, in report order.
CONSUMER_OUTCOMES = ("stored", "duplicates", "deleted", "suppressed", "quarantined")
_REDRIVE_SHARD = "shardId-redrive-"
_DAY = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


class RedriveError(RuntimeError):
    """The quarantine cannot be read, or the consumer kept failing."""


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    line: int
    reason: str
    data: bytes
    arrival: str | None = None  # when the record first arrived (consumer) or was read (producer)
    source_api: str | None = None  # producer entries: the run's source (replay, synthetic…)
    shard: str | None = None
    sequence: str | None = None


@dataclass
class RedriveSummary:
    objects: int = 0
    to_consumer: int = 0
    to_stream: int = 0
    batches: int = 0
    skipped: int = 0  # filtered out by --reason
    decoded: int = 0  # non-UTF-8 producer lines read with the codec the operator named
    consumer: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CONSUMER_OUTCOMES, 0))
    requarantined_in: list[str] = field(default_factory=list)  # objects the consumer wrote
    kept: list[str] = field(default_factory=list)  # "<key>:<line>: <why>", not re-driven
    still_bad: list[str] = field(default_factory=list)  # "<key>:<line>: <why>"

    @property
    def clean(self) -> bool:
        """Everything picked was re-driven and nothing was refused again."""
        return not (self.kept or self.still_bad or self.consumer["quarantined"])


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
        yield Entry(
            key,
            number,
            str(doc.get("reason", "")),
            data,
            doc.get("approximate_arrival"),
            doc.get("source_api"),
            doc.get("shard_id"),
            doc.get("sequence_number"),
        )


def _arrival_seconds(entry: Entry) -> float:
    """The record's first arrival (epoch seconds), else midnight of its object's day.

    The consumer files what it refuses under the arrival day, so a re-driven record
    refused again lands beside its original, not under ``dt=1970-01-01``.
    """
    if entry.arrival:
        try:
            return parse_iso(entry.arrival).timestamp()
        except ValueError:
            pass
    day = _DAY.search("/" + entry.key)
    return parse_iso(f"{day.group(1)}T00:00:00Z").timestamp() if day else 0.0


def _pseudo_origin(entry: Entry) -> tuple[str, int]:
    """Shard and sequence number for a re-driven record.

    A record of an object the re-drive itself caused keeps the shard and sequence
    number it had there, so its next refusal overwrites that object.
    """
    if entry.shard and entry.shard.startswith(_REDRIVE_SHARD) and str(entry.sequence).isdigit():
        return entry.shard, int(str(entry.sequence))
    return _REDRIVE_SHARD + hashlib.sha256(entry.key.encode()).hexdigest()[:12], entry.line


def redrive_event(batch: list[Entry], stream_arn: str) -> dict[str, Any]:
    """A Kinesis event; the pseudo shard names the object, sequence numbers its lines."""
    records = []
    for entry in batch:
        shard, sequence = _pseudo_origin(entry)
        records.append(
            lambda_record(
                entry.data,
                shard=shard,
                sequence=sequence,
                partition_key="redrive",
                arrival=_arrival_seconds(entry),
                stream_arn=stream_arn,
                role="tweetlake-redrive",
            )
        )
    return {"Records": records}


def _requarantine_key(event: dict[str, Any]) -> str:
    """Where the consumer files what it refuses from ``event`` (its own naming rule)."""
    first, last = event["Records"][0], event["Records"][-1]
    day = _arrival_day(first["kinesis"]["approximateArrivalTimestamp"])
    shard = first["eventID"].split(":", 1)[0]
    seqs = f"{first['kinesis']['sequenceNumber']}-{last['kinesis']['sequenceNumber']}"
    return quarantine_key("consumer", day, f"{shard}-{seqs}")


def _arrival_day(seconds: float) -> str:
    return (arrival_iso(seconds) or "1970-01-01")[:10]


def _not_utf8(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 ({exc.reason} at byte {exc.start})"
    return None


def redrive(
    zone: RawZone,
    *,
    consumer: Handler | None,
    producer: Any | None,
    batch_size: int,
    stream_arn: str,
    reason: str | None = None,
    retry: Backoff | None = None,
    decode: str | None = None,
) -> RedriveSummary:
    """Send every quarantined record under ``zone`` back (None: count only).

    ``decode`` names the codec non-UTF-8 producer lines are read in; without it
    they stay in quarantine.
    """
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
            _to_consumer(key, picked, consumer, batch_size, stream_arn, retry, summary)
        else:
            for entry in picked:
                _to_stream(entry, producer, summary, decode)
    if producer is not None:
        producer.flush()
    return summary


def _to_consumer(
    key: str,
    picked: list[Entry],
    consumer: Handler | None,
    batch_size: int,
    stream_arn: str,
    retry: Backoff,
    summary: RedriveSummary,
) -> None:
    sendable = []
    for entry in picked:
        why = _not_utf8(entry.data)
        if why:
            summary.kept.append(
                f"{entry.key}:{entry.line}: {why}; the consumer would refuse it again,"
                " so it stays in quarantine"
            )
        else:
            sendable.append(entry)
    for start in range(0, len(sendable), batch_size):
        batch = sendable[start : start + batch_size]
        summary.to_consumer += len(batch)
        summary.batches += 1
        if consumer is None:
            continue
        event = redrive_event(batch, stream_arn)
        try:
            counts = _invoke(consumer, event, retry)
        except BatchFailedError as exc:
            raise RedriveError(
                f"{key}: the consumer kept failing ({exc}); nothing after"
                f" line {batch[0].line - 1} of it was re-driven"
            ) from exc
        for name in CONSUMER_OUTCOMES:
            summary.consumer[name] += int(counts.get(name, 0))
        if counts.get("quarantined"):
            summary.requarantined_in.append(_requarantine_key(event))


def _invoke(consumer: Handler, event: dict[str, Any], retry: Backoff) -> dict[str, Any]:
    """The consumer's counts for ``event`` (its last, successful, attempt)."""
    results: list[Any] = []
    invoke_with_retry(lambda e: results.append(consumer(e)), event, retry)
    last = results[-1] if results else None
    return last if isinstance(last, dict) else {}


def _to_stream(
    entry: Entry, producer: Any | None, summary: RedriveSummary, decode: str | None
) -> None:
    where = f"{entry.key}:{entry.line}"
    envelopes = _oversized_envelope(entry.data)
    if not envelopes:
        text = _line_text(entry, summary, decode)
        if text is None:
            return
        # the original ingest time and source, so the envelope is what the fixed run
        # would have sent
        items = normalize_line(text, source_api=entry.source_api, ingested_at=entry.arrival)
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


def _oversized_envelope(data: bytes) -> list[dict[str, Any]]:
    """An envelope the producer could not send (over 1 MiB), else nothing."""
    if data.startswith(b"{") and b'"kind"' in data[:200]:
        try:
            return [json.loads(data)]
        except ValueError:
            return []
    return []


def _line_text(entry: Entry, summary: RedriveSummary, decode: str | None) -> str | None:
    """The line as text, strictly: UTF-8, else the codec the operator named, else kept."""
    why = _not_utf8(entry.data)
    if why is None:
        return entry.data.decode("utf-8")
    where = f"{entry.key}:{entry.line}"
    if decode is None:
        summary.kept.append(
            f"{where}: {why}; stays in quarantine (bytes are never repaired: pass"
            " --decode-non-utf8 CODEC, e.g. cp1252, if you know its encoding)"
        )
        return None
    try:
        text = entry.data.decode(decode)
    except UnicodeDecodeError as exc:
        summary.kept.append(f"{where}: {why}, and not {decode} either ({exc.reason})")
        return None
    summary.decoded += 1
    return text


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
