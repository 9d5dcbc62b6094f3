"""A batching Kinesis producer that loses nothing and keeps each partition key in order.

Why batch: one ``PutRecords`` call carries up to 500 records (5 MiB), so a
tweet costs 1/500 of a round trip instead of one; ``put_record`` per tweet is
two orders of magnitude slower (``python -m bench.ingest`` measures both).

Why the odd packing rule: a ``PutRecords`` call can partly fail, and Kinesis
does not stop at a failed entry: if entry *i* for key K is throttled while a
later entry *j* for K in the same call succeeds, *j* is already in the shard
ahead of *i*, and no resend can undo that. The only way to guarantee per-key
order under arbitrary per-entry failures is to never have two records of one
key in the same call. So a call takes, in arrival order, the *oldest* pending
record of each key (at most one per key); a failed entry goes back to the
front of its key's line and is resent, with backoff, before any later record
of that key is sent. Tweets come from millions of authors and the platform
caps one account at 2,400 posts a day, so calls still fill to 500 in practice;
a pathological hot key only costs extra calls, never order.

Nothing is dropped silently: a record over the 1 MiB Kinesis limit (or with
an unusable partition key) raises :class:`UnsendableRecordError` at
:meth:`KinesisProducer.put` (the caller quarantines it), and entries that
still fail after the bounded retries raise
:class:`~chalicelib.retry.RetriesExhaustedError` with the unsent records kept
in :attr:`KinesisProducer.pending`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.aws import RETRYABLE_ERROR_CODES, error_code
from chalicelib.envelope.codec import decode_valid
from chalicelib.envelope.normalize import envelope_bytes
from chalicelib.retry import Backoff, RetriesExhaustedError

log = logging.getLogger(__name__)

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
DEFAULT_LINGER_S = 0.5
DEFAULT_MAX_PENDING = 10 * MAX_RECORDS_PER_CALL


def encode_record(envelope: Mapping[str, Any]) -> tuple[bytes, str, int | None]:
    """``(data, partition key, tweet id for the checkpoint)`` of one envelope.

    The data is :func:`envelope_bytes`. The partition key is the author id (one author's
    records stay in order on one shard), else the tweet id (v2 compliance
    deletes name no author). Only a tweet the consumer will accept (the same
    decoder, :func:`~chalicelib.envelope.codec.decode_valid`) may move the
    checkpoint: an invalid one still travels, to be quarantined with its reason,
    but a garbage id must not make the next catch-up ask for ``since_id`` beyond
    every real tweet.
    """
    data = envelope_bytes(envelope)
    tweet_id = str(envelope.get("tweet_id") or "")
    if envelope["kind"] == "tweet":
        author = envelope.get("author") or {}
        key = str(author.get("id") or tweet_id)
        # Only X ids checkpoint; a Bluesky record's checkpoint is its frame's cursor.
        valid = tweet_id.isdigit() and decode_valid(data) is not None
        return data, key, int(tweet_id) if valid else None
    return data, str(envelope.get("author_id") or tweet_id), None


class UnsendableRecordError(ValueError):
    """Kinesis would reject this record whatever we do: the caller quarantines it."""


class OversizeRecordError(UnsendableRecordError):
    """A record is larger than Kinesis accepts (data + partition key > 1 MiB)."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(f"record of {size} bytes exceeds the {MAX_RECORD_BYTES}-byte limit")


@dataclass(order=True, slots=True)
class PendingRecord:
    """One buffered record; ``seq`` is its arrival order and sorts records."""

    seq: int
    data: bytes = field(compare=False)
    partition_key: str = field(compare=False)
    size: int = field(compare=False)
    #: When the record became sendable: when it was put, or when the call that
    #: held the previous record of its key returned. Linger counts from here.
    ready: float = field(compare=False)
    tweet_id: int | None = field(compare=False, default=None)
    failures: int = field(compare=False, default=0)


@dataclass(slots=True)
class ProducerStats:
    calls: int = 0
    sent: int = 0
    resent: int = 0
    failed_calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def record_size(data: bytes, partition_key: str) -> int:
    """What Kinesis counts against its limits: the blob plus the partition key."""
    return len(data) + len(partition_key.encode("utf-8"))


class KinesisProducer:
    """Buffers records and sends them with ``PutRecords``.

    A call goes out when 500 keys have a record waiting, or 5 MiB are waiting,
    or the oldest record has waited ``linger_s`` (checked on :meth:`put` and
    :meth:`poll`), or more than ``max_pending`` records are buffered (a hot
    key's backlog). :meth:`close` (or :meth:`flush`) sends everything.
    """

    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        linger_s: float = DEFAULT_LINGER_S,
        max_records: int = MAX_RECORDS_PER_CALL,
        max_bytes: int = MAX_BYTES_PER_CALL,
        max_pending: int = DEFAULT_MAX_PENDING,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= max_records <= MAX_RECORDS_PER_CALL:
            raise ValueError(f"max_records must be 1..{MAX_RECORDS_PER_CALL}")
        if max_bytes < MAX_RECORD_BYTES:
            raise ValueError("max_bytes must hold at least one maximum-size record")
        self._client = client
        self._stream = stream_name
        self._linger_s = linger_s
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._max_pending = max(max_pending, max_records)
        self._backoff = backoff or Backoff(base_s=0.1, cap_s=5.0, max_attempts=8)
        self._clock = clock
        self._seq = itertools.count()
        #: Records not yet acknowledged by Kinesis, in arrival order.
        self.pending: list[PendingRecord] = []
        self._pending_bytes = 0
        self._keys: Counter[str] = Counter()
        self._oldest_ready: float | None = None
        self.stats = ProducerStats()
        #: Largest ``tweet_id`` Kinesis has acknowledged (ids arrive out of order).
        self.max_tweet_id_sent: int | None = None

    # --- public --------------------------------------------------------------

    def put(self, data: bytes, partition_key: str, *, tweet_id: int | None = None) -> None:
        """Buffer one record, sending calls as they fill; raises for an oversize record."""
        if not 1 <= len(partition_key) <= 256:
            raise UnsendableRecordError(
                f"partition key must be 1-256 characters, got {len(partition_key)}"
            )
        size = record_size(data, partition_key)
        if size > MAX_RECORD_BYTES:
            raise OversizeRecordError(size)
        record = PendingRecord(
            seq=next(self._seq),
            data=data,
            partition_key=partition_key,
            size=size,
            ready=self._clock(),
            tweet_id=tweet_id,
        )
        self.pending.append(record)
        if self._oldest_ready is None:
            self._oldest_ready = record.ready
        self._pending_bytes += size
        self._keys[partition_key] += 1
        self.poll()

    def poll(self) -> None:
        """Send whatever is due: full calls, an over-long backlog, lingering records."""
        while self.pending and (
            len(self._keys) >= self._max_records
            or self._pending_bytes >= self._max_bytes
            or len(self.pending) > self._max_pending
            or self._clock() - (self._oldest_ready or 0.0) >= self._linger_s
        ):
            self._send_one_call()

    def flush(self) -> None:
        """Send every buffered record (raises RetriesExhaustedError if some never go)."""
        while self.pending:
            self._send_one_call()

    def close(self) -> None:
        self.flush()

    # --- internals -----------------------------------------------------------

    def _take_call(self) -> list[PendingRecord]:
        """The oldest record of each key, in arrival order, within the call limits."""
        batch: list[PendingRecord] = []
        rest: list[PendingRecord] = []
        keys: set[str] = set()
        size = 0
        for index, record in enumerate(self.pending):
            full = len(batch) >= self._max_records or size + record.size > self._max_bytes
            if full:
                rest.extend(self.pending[index:])
                break
            if record.partition_key in keys:
                rest.append(record)
                continue
            keys.add(record.partition_key)
            batch.append(record)
            size += record.size
        self.pending = rest
        return batch

    def _send_one_call(self) -> None:
        batch = self._take_call()
        if not batch:
            return
        # Back off by the most-retried record in the call: a throttled shard gets
        # longer pauses the longer it stays throttled, fresh records go at once.
        retry = max(r.failures for r in batch)
        if retry:
            self._backoff.wait(retry - 1)
        try:
            failed = self._put_records(batch)
        except Exception:
            # Not retryable here: keep the records pending so nothing is lost silently.
            self.pending = list(heapq.merge(batch, self.pending))
            raise
        failed_seqs = {r.seq for r in failed}
        for record in batch:
            if record.seq in failed_seqs:
                continue
            self._acknowledge(record)
        # Records held back because their key was in this call only become
        # sendable now; their linger starts now.
        now = self._clock()
        sent_keys = {r.partition_key for r in batch if r.seq not in failed_seqs}
        for record in self.pending:
            if record.partition_key in sent_keys:
                record.ready = max(record.ready, now)
        if not failed:
            self._oldest_ready = min((r.ready for r in self.pending), default=None)
            return
        self.stats.failed_calls += 1
        self.stats.resent += len(failed)
        for record in failed:
            record.failures += 1
        # Failed records go back where they were: each is the oldest of its key.
        self.pending = list(heapq.merge(failed, self.pending))
        self._oldest_ready = min((r.ready for r in self.pending), default=None)
        worst = max(r.failures for r in failed)
        if self._backoff.exhausted(worst):
            raise RetriesExhaustedError(
                f"{len(failed)} record(s) still failing after {worst} attempts "
                f"({dict(self.stats.errors)}); {len(self.pending)} record(s) left unsent"
            )

    def _acknowledge(self, record: PendingRecord) -> None:
        self._pending_bytes -= record.size
        self._keys[record.partition_key] -= 1
        if not self._keys[record.partition_key]:
            del self._keys[record.partition_key]
        self.stats.sent += 1
        if record.tweet_id is not None and (
            self.max_tweet_id_sent is None or record.tweet_id > self.max_tweet_id_sent
        ):
            self.max_tweet_id_sent = record.tweet_id

    def _put_records(self, batch: list[PendingRecord]) -> list[PendingRecord]:
        """One PutRecords call; returns the entries that failed (in call order)."""
        self.stats.calls += 1
        try:
            response = self._client.put_records(
                StreamName=self._stream,
                Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in batch],
            )
        except ClientError as exc:
            code = error_code(exc) or ""
            if code not in RETRYABLE_ERROR_CODES:
                raise  # a missing stream or a validation error is a bug or a bad deploy
            self.stats.errors[code] += len(batch)
            log.warning("PutRecords call failed with %s; retrying %d records", code, len(batch))
            return batch
        if not response.get("FailedRecordCount"):
            return []
        failed = []
        for record, result in zip(batch, response["Records"], strict=True):
            code = result.get("ErrorCode")
            if code:
                self.stats.errors[code] += 1
                failed.append(record)
        return failed
