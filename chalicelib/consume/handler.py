"""The Kinesis consumer: decode → validate → enrich → quarantine / DynamoDB, once per batch.

``handle_batch`` takes the raw Lambda event dict, not Chalice's
``KinesisEvent``: iterating that decodes base64 eagerly, so one malformed
record would raise and fail (and block) the whole shard.

One batch costs, whatever its size:

1. the pure transform (:mod:`chalicelib.consume.transform`);
2. one S3 object for the records that cannot be stored (:mod:`chalicelib.quarantine`;
   its key comes from the shard and the first/last sequence numbers, so a retried
   batch overwrites its own object);
3. strongly consistent ``BatchGetItem`` calls, 100 keys each, for the batch's
   tweets, authors and hour buckets (a second round only for the authors of
   deleted tweets the batch did not name);
4. ``BatchWriteItem`` calls, 25 items each: content first (tweets, tombstones,
   hour directory), then one item per changed author (:mod:`chalicelib.consume.plan`
   explains why that order makes a retry exact).

Steps 3 and 4 go through the port :class:`~chalicelib.consume.repository.LedgerRepository`;
``handle_batch`` builds its DynamoDB implementation unless handed a repository.

Bad data never raises; DynamoDB or S3 faults that survive the bounded retries
do, so Lambda retries the batch, which the ledger makes safe. Each batch
writes one JSON log line that is also its CloudWatch metrics (:mod:`chalicelib.emf`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chalicelib import aws
from chalicelib.config import ConfigError, Settings, get_settings
from chalicelib.consume.lake import FirehosePublisher, LakePublisher, encode_row
from chalicelib.consume.plan import Plan, authors_to_read, hours_of, plan
from chalicelib.consume.records import Transformed, TweetRecord
from chalicelib.consume.repository import DynamoLedgerRepository, LedgerRepository, TableNames
from chalicelib.consume.transform import arrival_iso, transform
from chalicelib.dynamo.repository import DynamoRepository
from chalicelib.emf import emf_document, emit, stdout_line
from chalicelib.quarantine import write_quarantine
from chalicelib.retry import Backoff
from chalicelib.timeutil import now_iso

QUARANTINE_ORIGIN = "consumer"
RESULT_KEYS = (
    "records",
    "stored",
    "duplicates",
    "deleted",
    "suppressed",
    "recovered",
    "updated",
    "accounts",
    "quarantined",
    "tweets_written",
    "authors_written",
    "hours_written",
    "purge_requests",
    "lake_rows",
)


def stream_name_of(arn: str) -> str:
    """``arn:aws:kinesis:<region>:<account>:stream/<name>`` → ``<name>``."""
    _, _, name = arn.partition(":stream/")
    return name


def check_source(records: Sequence[Mapping[str, Any]], settings: Settings) -> None:
    """The batch must come from the configured stream, else the deploy is miswired."""
    arns = {str(r.get("eventSourceARN")) for r in records if r.get("eventSourceARN")}
    for arn in arns:
        if stream_name_of(arn) != settings.stream_name:
            raise ConfigError(
                "TWEETLAKE_STREAM",
                f"is {settings.stream_name!r} but this batch came from {arn!r}",
                "make the stage's TWEETLAKE_STREAM name the stream the consume trigger reads",
            )


def handle_batch(
    event: Mapping[str, Any],
    *,
    settings: Settings | None = None,
    dynamodb: Any = None,
    s3: Any = None,
    clock: Callable[[], str] = now_iso,
    backoff: Backoff | None = None,
    sink: Callable[[str], None] = stdout_line,
    repository: LedgerRepository | None = None,
    lake: LakePublisher | None = None,
) -> dict[str, int]:
    """Process one Lambda batch of Kinesis records; returns the batch counts.

    ``repository`` replaces the tables (``dynamodb`` and ``backoff`` then go unused);
    ``lake`` receives the accepted rows (default: the stage's curated Firehose, if set).
    """
    started = time.perf_counter()
    settings = settings or get_settings()
    records = event.get("Records") or []
    check_source(records, settings)
    processed_at = clock()
    batch = transform(records, processed_at)
    tables = TableNames.of(settings)

    quarantine_key = None
    if batch.quarantine:
        quarantine_key = write_quarantine(
            s3 or aws.client("s3", settings.region),
            settings.lake_bucket,
            QUARANTINE_ORIGIN,
            _quarantine_day(batch, processed_at),
            f"{batch.shard_id}-{batch.first_seq}-{batch.last_seq}",
            batch.quarantine,
        )

    repo = repository
    if repo is None:
        client = dynamodb or aws.client("dynamodb", settings.region)
        repo = DynamoLedgerRepository(DynamoRepository(client, backoff or Backoff()), tables)
    counts: dict[str, int] = dict.fromkeys(RESULT_KEYS, 0)
    if batch.records or batch.accounts:
        writes = _store(batch, repo, tables, processed_at)
        counts.update(writes.counts)
        counts["lake_rows"] = _publish(writes, lake, settings, backoff)
    counts["records"] = batch.total
    counts["quarantined"] = len(batch.quarantine)
    counts["duration_ms"] = round((time.perf_counter() - started) * 1000)
    _log(batch, counts, repo, settings, quarantine_key, sink)
    return counts


def _quarantine_day(batch: Transformed, processed_at: str) -> str:
    arrival = arrival_iso(batch.first_arrival) if batch.first_arrival is not None else None
    return (arrival or processed_at)[:10]


def _publish(
    writes: Plan, lake: LakePublisher | None, settings: Settings, backoff: Backoff | None
) -> int:
    """Hand the batch's accepted rows to the lake, after the tables hold them."""
    if lake is None and settings.curated_firehose:
        client = aws.client("firehose", settings.region)
        lake = FirehosePublisher(client, settings.curated_firehose, backoff)
    if lake is None or not writes.lake:
        return 0
    lake.publish([encode_row(row) for row in writes.lake])
    return len(writes.lake)


def _store(
    batch: Transformed, repo: LedgerRepository, tables: TableNames, processed_at: str
) -> Plan:
    """Read what the tables hold for the batch's keys, plan, write content then authors."""
    named_authors = {
        r.author_id for r in batch.records if isinstance(r, TweetRecord) and r.author_id
    }
    stored = repo.read(
        hash_lines={r.hash_line for r in batch.records},
        author_ids=named_authors,
        hours=hours_of(batch),
    )
    missing = authors_to_read(batch, stored.tweets) - named_authors
    if missing:
        stored.authors.update(repo.read(author_ids=missing).authors)
    writes = plan(
        batch,
        stored.tweets,
        stored.authors,
        stored.hours,
        tweets_table=tables.tweets,
        state_table=tables.state,
        processed_at=processed_at,
    )
    repo.write(writes.content)
    repo.write([(tables.authors, item) for item in writes.authors])
    return writes


def _log(
    batch: Transformed,
    counts: Mapping[str, int],
    repo: LedgerRepository,
    settings: Settings,
    quarantine_key: str | None,
    sink: Callable[[str], None],
) -> None:
    metrics: dict[str, tuple[float, str]] = {
        name: (counts.get(name, 0), "Count")
        for name in ("records", "stored", "duplicates", "deleted", "suppressed", "quarantined")
    }
    metrics["batch_duration"] = (counts["duration_ms"], "Milliseconds")
    properties: dict[str, Any] = {
        "event": "consume_batch",
        "function": "consume",
        "shard_id": batch.shard_id,
        "first_sequence": batch.first_seq,
        "last_sequence": batch.last_seq,
        "counts": dict(counts),
        "quarantine_reasons": batch.reason_counts(),
        "quarantine_key": quarantine_key,
        "dynamodb": repo.usage(),
    }
    emit(emf_document(metrics, {"stage": settings.stage}, properties), sink)
