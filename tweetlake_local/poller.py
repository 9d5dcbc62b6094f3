"""Emulated Kinesis readers: Lambda's event source mapping and the Firehose sources.

moto stores the stream but nothing reads it, so the local mode reads it the way
AWS does. Every reader of the stream (the consumer's event source mapping and
each Firehose delivery) keeps its own position per shard, checkpointed after
its records are handled, so a restart resumes where it stopped instead of
re-reading from TRIM_HORIZON or skipping to LATEST.

The mapping behaves like Lambda's: batches hold records of one shard, in order,
up to the batch size from ``app.py`` (and under Lambda's 6 MB payload), waiting
at most the batching window for a batch to fill; if the handler raises, the same
batch is retried (backoff with a cap) until it succeeds: records are never
skipped, and the shard waits, exactly why the consumer must not raise on bad data.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from chalicelib.retry import Backoff
from tweetlake_local.firehose import Delivery, StreamRecord
from tweetlake_local.kinesis_events import lambda_record

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Any]
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
GET_RECORDS_LIMIT = 10_000
ACCOUNT_ID = "123456789012"


def consumer_batch_settings() -> tuple[int, float]:
    """Batch size and batching window of ``app.consume_tweets``'s trigger (from config,
    where app.py reads them too), so the emulation cannot drift from the deployment."""
    from chalicelib.config import CONSUMER_BATCH_SIZE, CONSUMER_BATCHING_WINDOW_S

    return CONSUMER_BATCH_SIZE, float(CONSUMER_BATCHING_WINDOW_S)


# --- checkpoints --------------------------------------------------------------------


class Checkpoints(Protocol):
    def get(self, reader: str, shard_id: str) -> str | None: ...

    def put(self, reader: str, shard_id: str, sequence_number: str) -> None: ...

    def of(self, reader: str) -> dict[str, str]:
        """Every shard's position of ``reader`` (a copy)."""
        ...


@dataclass
class MemoryCheckpoints:
    positions: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, reader: str, shard_id: str) -> str | None:
        return self.positions.get(reader, {}).get(shard_id)

    def put(self, reader: str, shard_id: str, sequence_number: str) -> None:
        self.positions.setdefault(reader, {})[shard_id] = sequence_number

    def of(self, reader: str) -> dict[str, str]:
        return dict(self.positions.get(reader, {}))


class FileCheckpoints:
    """Positions in a JSON file (``{reader: {shard: sequence}}``), rewritten atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._positions: dict[str, dict[str, str]] = (
            json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        )

    def get(self, reader: str, shard_id: str) -> str | None:
        with self._lock:
            return self._positions.get(reader, {}).get(shard_id)

    def of(self, reader: str) -> dict[str, str]:
        with self._lock:
            return dict(self._positions.get(reader, {}))

    def put(self, reader: str, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            self._positions.setdefault(reader, {})[shard_id] = sequence_number
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(json.dumps(self._positions, indent=1, sort_keys=True), "utf-8")
            os.replace(tmp, self.path)


# --- reading shards ---------------------------------------------------------------


@dataclass
class ShardState:
    iterator: str | None = None
    closed: bool = False
    millis_behind: int = 0
    last_read: str | None = None  # newest sequence number fetched (maybe not yet handled)


class StreamReader:
    """One reader's view of every shard: iterators resumed from its checkpoints."""

    def __init__(self, kinesis: Any, stream_name: str, name: str, checkpoints: Checkpoints):
        self.kinesis = kinesis
        self.stream_name = stream_name
        self.name = name
        self.checkpoints = checkpoints
        self.shards: dict[str, ShardState] = {}
        self._arn: str | None = None

    @property
    def stream_arn(self) -> str:
        if self._arn is None:
            summary = self.kinesis.describe_stream_summary(StreamName=self.stream_name)
            self._arn = str(summary["StreamDescriptionSummary"]["StreamARN"])
        return self._arn

    def refresh_shards(self) -> list[str]:
        """ListShards (paged); new shards (after a reshard) join with their checkpoints."""
        kwargs: dict[str, Any] = {"StreamName": self.stream_name}
        while True:
            page = self.kinesis.list_shards(**kwargs)
            for shard in page["Shards"]:
                self.shards.setdefault(shard["ShardId"], ShardState())
            token = page.get("NextToken")
            if not token:
                break
            kwargs = {"NextToken": token}
        return sorted(self.shards)

    def _iterator(self, shard_id: str) -> str:
        position = self.checkpoints.get(self.name, shard_id)
        kwargs: dict[str, Any] = {"StreamName": self.stream_name, "ShardId": shard_id}
        if position is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            kwargs["StartingSequenceNumber"] = position
        return str(self.kinesis.get_shard_iterator(**kwargs)["ShardIterator"])

    def rewind(self, shard_id: str) -> None:
        """Forget the iterator: the next read restarts after the last checkpoint."""
        self.shards[shard_id].iterator = None

    def read(self, shard_id: str, limit: int = GET_RECORDS_LIMIT) -> list[dict[str, Any]]:
        """One GetRecords call on a shard; [] when it has nothing (or is closed)."""
        state = self.shards[shard_id]
        if state.closed:
            return []
        if state.iterator is None:
            state.iterator = self._iterator(shard_id)
        try:
            page = self.kinesis.get_records(ShardIterator=state.iterator, Limit=limit)
        except self.kinesis.exceptions.ExpiredIteratorException:
            state.iterator = self._iterator(shard_id)
            page = self.kinesis.get_records(ShardIterator=state.iterator, Limit=limit)
        state.iterator = page.get("NextShardIterator")
        state.closed = state.iterator is None
        state.millis_behind = int(page.get("MillisBehindLatest", 0))
        records: list[dict[str, Any]] = page["Records"]
        if records:
            state.last_read = records[-1]["SequenceNumber"]
        return records

    def millis_behind(self) -> int:
        return max((s.millis_behind for s in self.shards.values()), default=0)


def _arrival(record: Mapping[str, Any]) -> datetime:
    stamp = record["ApproximateArrivalTimestamp"]
    if isinstance(stamp, datetime):
        return stamp.astimezone(UTC)
    return datetime.fromtimestamp(float(stamp), tz=UTC)


def kinesis_event(records: list[dict[str, Any]], shard_id: str, stream_arn: str) -> dict[str, Any]:
    """A Lambda Kinesis event for GetRecords output, shaped as AWS delivers it."""
    return {
        "Records": [
            lambda_record(
                r["Data"],
                shard=shard_id,
                sequence=r["SequenceNumber"],
                partition_key=r["PartitionKey"],
                arrival=_arrival(r).timestamp(),
                stream_arn=stream_arn,
                role="tweetlake-local-consumer",
            )
            for r in records
        ]
    }


def _record_payload_size(record: Mapping[str, Any]) -> int:
    # base64 data plus roughly 600 bytes of JSON around it.
    return (len(record["Data"]) + 2) // 3 * 4 + 600


# --- invoking with retries --------------------------------------------------------


class BatchFailedError(RuntimeError):
    """A batch kept failing for ``max_attempts``; its records were not checkpointed."""


def invoke_with_retry(
    handler: Handler,
    event: dict[str, Any],
    policy: Backoff,
    stopping: Callable[[], bool] = lambda: False,
    on_error: Callable[[int, BaseException], None] | None = None,
) -> bool:
    """Call ``handler(event)`` until it returns; False if stopped first.

    Raises ``BatchFailedError`` only when ``policy.max_attempts`` is set and spent.
    """
    attempt = 0
    while True:
        try:
            handler(event)
            return True
        except Exception as exc:  # any handler failure means: retry the same batch
            if on_error is not None:
                on_error(attempt, exc)
            log.warning(
                "batch of %d failed (attempt %d): %r", len(event["Records"]), attempt + 1, exc
            )
            attempt += 1
            if policy.exhausted(attempt):
                raise BatchFailedError(
                    f"batch of {len(event['Records'])} records failed {attempt} times: {exc!r}"
                ) from exc
        if stopping():
            return False
        policy.wait(attempt - 1)
        if stopping():
            return False


# --- the two kinds of readers -----------------------------------------------------


@dataclass
class MappingStats:
    invocations: int = 0
    records_handled: int = 0
    failed_attempts: int = 0
    last_error: str | None = None


class EventSourceMapping:
    """Lambda's Kinesis trigger: per-shard batches into ``handler``, retried on error."""

    def __init__(
        self,
        kinesis: Any,
        stream_name: str,
        handler: Handler,
        *,
        region: str,
        checkpoints: Checkpoints,
        batch_size: int | None = None,
        batching_window_s: float | None = None,
        retry: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        name: str = "consume",
        parallel_shards: bool = False,
    ) -> None:
        if batch_size is None or batching_window_s is None:
            app_size, app_window = consumer_batch_settings()
            batch_size = app_size if batch_size is None else batch_size
            batching_window_s = app_window if batching_window_s is None else batching_window_s
        self.batch_size = batch_size
        self.batching_window_s = batching_window_s
        self.reader = StreamReader(kinesis, stream_name, name, checkpoints)
        self.handler = handler
        self.region = region
        self.retry = retry or Backoff(base_s=0.5, cap_s=30.0, max_attempts=None)
        self.clock = clock
        self.stats = MappingStats()
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._pending_since: dict[str, float] = {}
        self._stop = threading.Event()
        self.parallel_shards = parallel_shards
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._stats_lock = threading.Lock()  # shards' threads count into one MappingStats

    @property
    def name(self) -> str:
        return self.reader.name

    def stop(self) -> None:
        self._stop.set()

    def millis_behind(self) -> int:
        return self.reader.millis_behind()

    def pending(self) -> int:
        """Records read from the stream but not yet handled successfully."""
        return sum(len(p) for p in self._pending.values())

    def oldest_pending(self) -> datetime | None:
        """Arrival time of the oldest record read but not yet handled (None if none).

        Safe to call from another thread for display: it only reads the
        first element of each shard's list, and a shard added meanwhile is
        seen on the next call.
        """
        arrivals = []
        for pending in list(self._pending.values()):
            with contextlib.suppress(IndexError):
                arrivals.append(_arrival(pending[0]))
        return min(arrivals, default=None)

    def poll(self) -> int:
        """Read every shard once and invoke each batch that is due; returns records handled.

        With ``parallel_shards``, shards are polled at once, one thread each, as Lambda
        runs one invocation per shard at a time, shards side by side.
        """
        shards = self.reader.refresh_shards()
        for shard_id in shards:
            self._pending.setdefault(shard_id, [])
        if not self.parallel_shards or len(shards) < 2:
            return sum(self._poll_shard(shard_id) for shard_id in shards)
        if self._pool is None or self._pool_size < len(shards):
            self._pool = ThreadPoolExecutor(len(shards), thread_name_prefix=f"{self.name}-shard")
            self._pool_size = len(shards)
        return sum(self._pool.map(self._poll_shard, shards))

    def _poll_shard(self, shard_id: str) -> int:
        handled = 0
        pending = self._pending[shard_id]
        if len(pending) < self.batch_size:
            fresh = self.reader.read(shard_id, limit=GET_RECORDS_LIMIT)
            if fresh and not pending:
                self._pending_since[shard_id] = self.clock()
            pending.extend(fresh)
        while pending and self._due(shard_id):
            batch = self._take_batch(pending)
            if not self._invoke(shard_id, batch):
                return handled
            del pending[: len(batch)]
            handled += len(batch)
            if pending:
                self._pending_since[shard_id] = self.clock()
        return handled

    def drain(self) -> int:
        """Handle everything pending now, ignoring the batching window (used on shutdown
        and in bounded runs)."""
        saved, self.batching_window_s = self.batching_window_s, 0.0
        try:
            total = 0
            while True:
                done = self.poll()
                total += done
                if done == 0 and self.pending() == 0:
                    return total
                if self._stop.is_set():
                    return total
        finally:
            self.batching_window_s = saved

    def _due(self, shard_id: str) -> bool:
        pending = self._pending[shard_id]
        if len(pending) >= self.batch_size:
            return True
        waited = self.clock() - self._pending_since.get(shard_id, self.clock())
        return waited >= self.batching_window_s

    def _take_batch(self, pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        size = 0
        for record in pending[: self.batch_size]:
            size += _record_payload_size(record)
            if batch and size > LAMBDA_PAYLOAD_LIMIT:
                break
            batch.append(record)
        return batch

    def _invoke(self, shard_id: str, batch: list[dict[str, Any]]) -> bool:
        event = kinesis_event(batch, shard_id, self.reader.stream_arn)

        def on_error(attempt: int, exc: BaseException) -> None:
            with self._stats_lock:
                self.stats.failed_attempts += 1
                self.stats.last_error = repr(exc)[:300]

        ok = invoke_with_retry(self.handler, event, self.retry, self._stop.is_set, on_error)
        if ok:
            with self._stats_lock:
                self.stats.invocations += 1
                self.stats.records_handled += len(batch)
            self.reader.checkpoints.put(self.name, shard_id, batch[-1]["SequenceNumber"])
        return ok


class FirehoseSource:
    """A Firehose delivery's own reader of the stream (Kinesis as its source).

    It checkpoints a shard only when the delivery has written those records, so
    records still in the buffer are read again after a crash, never lost.
    """

    def __init__(
        self, kinesis: Any, stream_name: str, delivery: Delivery, checkpoints: Checkpoints
    ) -> None:
        self.reader = StreamReader(kinesis, stream_name, delivery.name, checkpoints)
        self.delivery = delivery
        delivery.on_flush = self._checkpoint

    @property
    def name(self) -> str:
        return self.reader.name

    def _checkpoint(self, last: dict[str, str]) -> None:
        for shard_id, sequence in last.items():
            self.reader.checkpoints.put(self.name, shard_id, sequence)

    def millis_behind(self) -> int:
        return self.reader.millis_behind()

    def pending(self) -> int:
        return self.delivery.buffered

    def poll(self) -> int:
        read = 0
        for shard_id in self.reader.refresh_shards():
            records = self.reader.read(shard_id)
            read += len(records)
            self.delivery.put(
                StreamRecord(
                    data=r["Data"],
                    shard_id=shard_id,
                    sequence_number=r["SequenceNumber"],
                    arrival=_arrival(r),
                )
                for r in records
            )
        self.delivery.tick()
        return read

    def drain(self) -> int:
        total = 0
        while (read := self.poll()) > 0:
            total += read
        self.delivery.flush()
        return total

    def stop(self) -> None:
        """Nothing to interrupt: a poll never blocks on anything but one API call."""


class DirectPutSource:
    """The curated delivery's Direct PUT side: the consumer publishes, Firehose buffers.

    On AWS the consumer's accepted rows reach the curated delivery stream through
    PutRecordBatch (:class:`chalicelib.consume.lake.FirehosePublisher`); locally the
    consumer is handed this object instead, so the rows take the same conversion and
    partitioning in-process. As a reader of the poller it reads nothing from the
    stream: it only lets the buffer flush by age and on close.
    """

    def __init__(self, delivery: Delivery, clock: Callable[[], datetime] | None = None) -> None:
        self.delivery = delivery
        self._clock = clock or (lambda: datetime.now(UTC))
        # Record names must not collide with an earlier run's objects in the same lake.
        self._run = f"{time.time_ns():x}"
        self._count = 0
        # The mapping's shards may publish side by side (``parallel_shards``).
        self._lock = threading.Lock()

    def follow(self, mapping: str, checkpoints: Checkpoints) -> None:
        """On each flush, checkpoint this delivery at ``mapping``'s positions then.

        The mapping checkpoints a batch only after the consumer published its rows,
        and a flush writes every row buffered, so the records up to the mapping's
        positions have their rows on disk: a restart replays the records past this
        checkpoint through the consumer to publish what a crash lost from the buffer
        (:mod:`tweetlake_local.journal`). A flush in the middle of a batch leaves
        that batch past the checkpoint; its rows are published twice, which the
        ``tweets`` view dedupes.
        """

        def checkpoint(_last: dict[str, str]) -> None:
            for shard_id, sequence in checkpoints.of(mapping).items():
                checkpoints.put(self.name, shard_id, sequence)

        self.delivery.on_flush = checkpoint

    @property
    def name(self) -> str:
        return self.delivery.name

    def publish(self, rows: Sequence[bytes]) -> None:
        arrival = self._clock()
        records = []
        for row in rows:
            self._count += 1
            records.append(StreamRecord(row, "direct-put", f"{self._run}-{self._count}", arrival))
        with self._lock:
            self.delivery.put(records)

    def millis_behind(self) -> int:
        return 0

    def pending(self) -> int:
        return self.delivery.buffered

    def poll(self) -> int:
        with self._lock:
            self.delivery.tick()
        return 0

    def drain(self) -> int:
        with self._lock:
            self.delivery.flush()
        return 0

    def stop(self) -> None:
        """Nothing to interrupt."""


class Reader(Protocol):
    @property
    def name(self) -> str: ...

    def poll(self) -> int: ...

    def drain(self) -> int: ...

    def pending(self) -> int: ...

    def millis_behind(self) -> int: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Lag:
    reader: str
    millis_behind_latest: int
    pending_records: int


class Poller:
    """Runs every reader of the stream in a loop, one poll per interval (GetRecords
    allows 5 calls a second per shard, shared by every reader; Lambda polls once a
    second)."""

    def __init__(
        self,
        readers: list[Reader],
        interval_s: float = 1.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.readers = readers
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait

    def run_once(self) -> int:
        return sum(reader.poll() for reader in self.readers)

    def run(self) -> None:
        """Poll until :meth:`stop`; then hand everything buffered on (flush on close)."""
        while not self._stop.is_set():
            if self.run_once() == 0:
                self._sleep(self.interval_s)
        self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for reader in self.readers:
            if isinstance(reader, FirehoseSource | DirectPutSource):
                reader.delivery.close()

    def drain(self) -> int:
        """Read to the end of every shard, handle and deliver it all."""
        return sum(reader.drain() for reader in self.readers)

    def lag(self) -> list[Lag]:
        return [
            Lag(
                reader=r.name,
                millis_behind_latest=r.millis_behind(),
                pending_records=r.pending(),
            )
            for r in self.readers
        ]


# --- composition ------------------------------------------------------------------


def local_readers(
    settings: Any,
    consumer: Callable[..., Any] | None,
    *,
    lake_dir: Path | None,
    checkpoints: Checkpoints,
    session: Any = None,
    buffer_bytes: int | None = None,
    buffer_seconds: float | None = None,
    batching_window_s: float | None = None,
    interval_s: float = 1.0,
) -> Poller:
    """Every reader the dev stage has on AWS, for the local mode: the consumer's event
    source mapping (when ``consumer`` is given), the raw Firehose delivery reading the
    stream, and the curated delivery the consumer publishes to, writing to the stage's
    bucket and mirrored under ``lake_dir``.

    ``consumer`` is called as ``consumer(event, lake=publisher)``, the way
    :func:`chalicelib.consume.handler.handle_batch` takes its lake publisher.
    """
    import boto3

    from tweetlake_local.firehose import curated_delivery, lake_sinks, raw_delivery

    session = session or boto3.session.Session()
    kinesis = session.client("kinesis", region_name=settings.region)
    s3 = session.client("s3", region_name=settings.region)
    sinks = lake_sinks(s3, settings.lake_bucket, lake_dir)
    options: dict[str, Any] = {}
    if buffer_bytes is not None:
        options["buffer_bytes"] = buffer_bytes
    if buffer_seconds is not None:
        options["buffer_seconds"] = buffer_seconds
    raw = FirehoseSource(
        kinesis, settings.stream_name, raw_delivery(sinks, settings.stage, **options), checkpoints
    )
    readers: list[Reader] = [raw]
    if consumer is not None:
        curated = DirectPutSource(curated_delivery(sinks, settings.stage, **options))
        mapping = EventSourceMapping(
            kinesis,
            settings.stream_name,
            functools.partial(consumer, lake=curated),
            region=settings.region,
            checkpoints=checkpoints,
            batching_window_s=batching_window_s,
            parallel_shards=True,
        )
        curated.follow(mapping.name, checkpoints)
        # The mapping first, the curated delivery after it: a drain consumes
        # everything, then flushes what the consumer published.
        readers = [mapping, raw, curated]
    return Poller(readers, interval_s=interval_s)
