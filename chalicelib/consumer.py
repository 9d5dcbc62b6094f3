"""The Kinesis consumer: decode → validate → enrich → quarantine / DynamoDB, once per batch.

``handle_batch`` takes the raw Lambda event dict, not Chalice's
``KinesisEvent``: iterating that decodes base64 eagerly, so one malformed
record would raise and fail (and block) the whole shard.

One batch costs, whatever its size:

1. the pure transform (:mod:`chalicelib.enrich`);
2. one S3 object for the records that cannot be stored (:mod:`chalicelib.quarantine`;
   its key comes from the shard and the first/last sequence numbers, so a retried
   batch overwrites its own object);
3. strongly consistent ``BatchGetItem`` calls, 100 keys each, for the batch's
   tweets, authors and hour buckets (a second round only for the authors of
   deleted tweets the batch did not name);
4. ``BatchWriteItem`` calls, 25 items each: content first (tweets, tombstones,
   hour directory), then one item per changed author (:mod:`chalicelib.ledger`
   explains why that order makes a retry exact).

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
from chalicelib.emf import emf_document, emit, stdout_line
from chalicelib.enrich import Transformed, TweetRecord, arrival_iso, transform
from chalicelib.ledger import authors_to_read, hours_of, plan
from chalicelib.quarantine import write_quarantine
from chalicelib.retry import Backoff
from chalicelib.store import DynamoRepository
from chalicelib.timeutil import now_iso

QUARANTINE_ORIGIN = "consumer"

# Everything a tombstone holds (a tweet-after-delete rewrites it whole) plus what
# the ledger needs of a live tweet; the rest of a tweet item is not read.
TWEET_PROJECTION = (
    "hash_line, #status, origin, author_id, tweet_id, deleted_at, source_api,"
    " processed_at, deleted_author_id, replaced",
    {"#status": "status"},
)
RESULT_KEYS = (
    "records",
    "stored",
    "duplicates",
    "deleted",
    "suppressed",
    "recovered",
    "quarantined",
    "tweets_written",
    "authors_written",
    "hours_written",
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
) -> dict[str, int]:
    """Process one Lambda batch of Kinesis records; returns the batch counts."""
    started = time.perf_counter()
    settings = settings or get_settings()
    records = event.get("Records") or []
    check_source(records, settings)
    processed_at = clock()
    batch = transform(records, processed_at)

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

    client = dynamodb or aws.client("dynamodb", settings.region)
    repo = DynamoRepository(client, backoff or Backoff())
    counts: dict[str, int] = dict.fromkeys(RESULT_KEYS, 0)
    if batch.records:
        counts.update(_store(batch, repo, settings, processed_at))
    counts["records"] = batch.total
    counts["quarantined"] = len(batch.quarantine)
    counts["duration_ms"] = round((time.perf_counter() - started) * 1000)
    _log(batch, counts, repo, settings, quarantine_key, sink)
    return counts


def _quarantine_day(batch: Transformed, processed_at: str) -> str:
    arrival = arrival_iso(batch.first_arrival) if batch.first_arrival is not None else None
    return (arrival or processed_at)[:10]


def _store(
    batch: Transformed, repo: DynamoRepository, settings: Settings, processed_at: str
) -> dict[str, int]:
    hash_lines = {r.hash_line for r in batch.records}
    named_authors = {r.author_id for r in batch.records if isinstance(r, TweetRecord)}
    hours = hours_of(batch)
    found = repo.get_many(
        {
            settings.tweets_table: [{"hash_line": h} for h in sorted(hash_lines)],
            settings.authors_table: [{"author_id": a} for a in sorted(named_authors)],
            settings.state_table: [{"pk": "hours", "sk": h} for h in sorted(hours)],
        },
        projections={
            settings.tweets_table: TWEET_PROJECTION,
            settings.state_table: ("pk, sk", {}),
        },
    )
    tweets = {item["hash_line"]: item for item in found[settings.tweets_table]}
    authors = {item["author_id"]: item for item in found[settings.authors_table]}
    missing = sorted(authors_to_read(batch, tweets) - named_authors)
    if missing:
        more = repo.get_many({settings.authors_table: [{"author_id": a} for a in missing]})
        authors.update({item["author_id"]: item for item in more[settings.authors_table]})
    writes = plan(
        batch,
        tweets,
        authors,
        {item["sk"] for item in found[settings.state_table]},
        tweets_table=settings.tweets_table,
        state_table=settings.state_table,
        processed_at=processed_at,
    )
    repo.put_many(writes.content)
    repo.put_many([(settings.authors_table, item) for item in writes.authors])
    return dict(writes.counts)


def _log(
    batch: Transformed,
    counts: Mapping[str, int],
    repo: DynamoRepository,
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
        "dynamodb": repo.stats.as_dict(),
    }
    emit(emf_document(metrics, {"stage": settings.stage}, properties), sink)
