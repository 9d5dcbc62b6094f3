"""What the consumer accepted, on its way to the lake's curated zone.

The curated table is fed by the consumer, not by a second reader of the
stream: only the consumer knows which records it stored, which were
duplicates, which were deleted (before or after they arrived) and which it
quarantined, so the lake's rows are its decisions and nothing else. After a
batch's DynamoDB writes, :func:`chalicelib.consume.handler.handle_batch`
publishes one row per tweet the batch left live (the copy stored) and one
tombstone row per tweet the batch buried, dated with the buried tweet's
``created_at`` so it lands in the same ``dt``/``hour`` partition. Publishing
after the writes makes the lake at-least-once: a retried batch publishes its
rows again, so analysts read the ``tweets`` view, which keeps one row per
``tweet_id`` and drops ids whose latest row is a tombstone (docs/local-lake.md).

On AWS the rows go to a Direct PUT Firehose delivery stream
(``TWEETLAKE_CURATED_FIREHOSE``) that converts them to Parquet and partitions
them by creation time; locally, to the emulated delivery in
:mod:`tweetlake_local.firehose`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from chalicelib import aws
from chalicelib.envelope.schema import lake_fields, schema_version
from chalicelib.retry import Backoff, RetriesExhaustedError

#: The columns of the curated table, in schema order (``raw`` is not one of them).
LAKE_COLUMNS = tuple(spec["name"] for spec in lake_fields("tweet"))
TWEET = "tweet"
TOMBSTONE = "delete"
# PutRecordBatch: at most 500 records and 4 MiB a call, 1,000 KiB a record.
BATCH_RECORDS = 500
BATCH_BYTES = 4 * 1024 * 1024


def tweet_row(item: Mapping[str, Any]) -> dict[str, Any]:
    """A stored tweet item's lake columns (the enriched item has more; they stay out).

    The item does not keep the envelope's ``kind`` and ``schema_version``; the row
    states them again, in the shape this consumer wrote."""
    row = {name: item[name] for name in LAKE_COLUMNS if item.get(name) is not None}
    row["kind"] = TWEET
    row["schema_version"] = schema_version()
    return row


def tombstone_row(tomb: Mapping[str, Any]) -> dict[str, Any]:
    """The row that hides a buried tweet: its id, ``kind = 'delete'`` and its creation
    time (for the partition), plus where the delete came from."""
    row = {
        "kind": TOMBSTONE,
        "schema_version": schema_version(),
        "tweet_id": tomb["tweet_id"],
        "created_at": tomb["created_at"],
        "source_api": tomb.get("source_api"),
    }
    return {name: value for name, value in row.items() if value is not None}


def encode_row(row: Mapping[str, Any]) -> bytes:
    """One newline-terminated JSON line, as Firehose's JSON deserializer reads it."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class LakePublisher(Protocol):
    """Where the consumer's accepted rows go (Firehose on AWS, the local delivery)."""

    def publish(self, rows: Sequence[bytes]) -> None: ...


def chunks(rows: Sequence[bytes]) -> Iterator[list[bytes]]:
    """Rows in PutRecordBatch-sized groups (count and bytes)."""
    chunk: list[bytes] = []
    size = 0
    for row in rows:
        if chunk and (len(chunk) == BATCH_RECORDS or size + len(row) > BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += len(row)
    if chunk:
        yield chunk


class FirehosePublisher:
    """PutRecordBatch into the curated delivery stream, retrying the records it refused.

    A batch that still has refused records after the bounded retries raises, so
    Lambda retries the whole Kinesis batch; the DynamoDB writes are idempotent
    and the view tolerates the repeated rows.
    """

    def __init__(self, client: Any, delivery_stream: str, backoff: Backoff | None = None) -> None:
        self._client = client
        self._stream = delivery_stream
        self._backoff = backoff or Backoff()

    def publish(self, rows: Sequence[bytes]) -> None:
        for chunk in chunks(rows):
            self._put(chunk)

    def _put(self, rows: list[bytes]) -> None:
        pending = rows
        last_error = ""
        for attempt in self._backoff.attempts():
            if attempt:
                self._backoff.wait(attempt - 1)
            try:
                response = self._client.put_record_batch(
                    DeliveryStreamName=self._stream, Records=[{"Data": row} for row in pending]
                )
            except Exception as exc:  # botocore's ClientError and connection errors
                if not aws.is_transient(exc):
                    raise
                last_error = aws.error_code(exc) or type(exc).__name__
                continue
            if not response.get("FailedPutCount"):
                return
            answers = response.get("RequestResponses") or []
            refused = [
                (row, a) for row, a in zip(pending, answers, strict=True) if a.get("ErrorCode")
            ]
            pending = [row for row, _ in refused]
            last_error = str(refused[0][1].get("ErrorCode")) if refused else ""
        raise RetriesExhaustedError(
            f"{len(pending)} rows refused by Firehose {self._stream} ({last_error})"
        )
