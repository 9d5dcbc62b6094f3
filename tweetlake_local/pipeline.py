"""The in-process half of the local mode: the schedule and the stream's readers.

``run`` (``tweetlake_local/run.py``) starts the moto server and ``chalice
local``; this module runs, in threads of the same process, what AWS would run
as Lambda invocations and Firehose deliveries:

* the **schedule**: :func:`chalicelib.ingest.handler.run_ingest`, the function
  ``app.ingest_tweets`` calls, invoked every ``interval_s`` with a complete
  EventBridge event and a Lambda-like context whose remaining time counts
  down to a timeout (95% of the interval, as 570 s of 600 s on AWS). A run
  stops reading when that time falls to the safety margin, flushes and
  checkpoints, exactly as on AWS. The context also reports 0 ms left once a
  stop is requested, which is how Ctrl-C makes a run flush early;
* the **readers** of the stream (:func:`tweetlake_local.poller.local_readers`):
  the consumer's event source mapping, calling
  :func:`chalicelib.consume.handler.handle_batch`, and both Firehose deliveries.

What outlives the process (:mod:`tweetlake_local.journal`): the records the stream
accepts are journaled before they count as sent; at start, the last run's journal
completes the lake, and the readers' thread rebuilds the tables from ``raw/``
before it reads the new stream.

Configuration reaches chalicelib through ``os.environ``, set once before any
thread starts and never changed after, so the threads need no locks around it
(``chalice.test.Client`` swaps ``os.environ`` per call, which would race).
Counters are written by one thread each and read by the status display.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tweetlake_local.firehose import DEFAULT_BUFFER_SECONDS, quarantine_mirror
from tweetlake_local.journal import (
    CHECKPOINTS_NAME,
    RestoreProgress,
    StreamJournal,
    accepted,
    complete_lake,
    replay,
    restore_tables,
    skipping,
)
from tweetlake_local.kinesis_events import stream_arn
from tweetlake_local.poller import (
    ACCOUNT_ID,
    DirectPutSource,
    EventSourceMapping,
    FileCheckpoints,
    FirehoseSource,
    Poller,
    Reader,
    local_readers,
)

log = logging.getLogger(__name__)

# On AWS the ingest function runs every 600 s with a 570 s timeout.
TIMEOUT_SHARE = 570 / 600
# Reported as the remaining time of a run that has no timeout (bounded mode).
UNBOUNDED_REMAINING_MS = 15 * 60 * 1000


class LocalContext:
    """What Lambda passes as ``context``, with a clock that can be cut short.

    ``get_remaining_time_in_millis`` counts down to ``timeout_s`` after the
    invocation starts (never, when ``timeout_s`` is None) and drops to 0 once
    ``stopping`` is set, so the ingest run stops reading at its next line.
    """

    def __init__(
        self,
        function_name: str,
        region: str,
        timeout_s: float | None,
        stopping: threading.Event,
        memory_mb: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._clock = clock
        self._deadline = None if timeout_s is None else clock() + timeout_s
        self._stopping = stopping

    def get_remaining_time_in_millis(self) -> int:
        if self._stopping.is_set():
            return 0
        if self._deadline is None:
            return UNBOUNDED_REMAINING_MS
        return max(0, int((self._deadline - self._clock()) * 1000))


def scheduled_event(region: str, rule_name: str) -> dict[str, Any]:
    """An EventBridge scheduled event, every field Lambda gets."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


class CountingKinesis:
    """The real Kinesis client, journaling and counting the records PutRecords accepted.

    The ingest run reports its totals when it ends (a minute later locally);
    this lets the status show records entering the stream as they do. Accepted
    records go to the journal (:mod:`tweetlake_local.journal`) before the call
    returns, so whatever the run counts as sent outlives a crash.
    """

    def __init__(
        self, client: Any, on_sent: Callable[[int], None], journal: StreamJournal | None = None
    ) -> None:
        self._client = client
        self._on_sent = on_sent
        self._journal = journal

    def put_records(self, **kwargs: Any) -> Any:
        arrival = time.time()
        response = self._client.put_records(**kwargs)
        records = kwargs.get("Records", [])
        if self._journal is not None:
            self._journal.append(accepted(records, response, arrival))
        failed = int(response.get("FailedRecordCount", 0))
        self._on_sent(len(records) - failed)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass
class IngestTotals:
    """Sums of the ingest runs' summaries, plus the records sent so far in this run."""

    runs: int = 0
    received: int = 0
    sent: int = 0
    control: int = 0
    quarantined: int = 0
    deletes: int = 0
    sent_live: int = 0  # updated during a run by CountingKinesis
    last_run: dict[str, Any] | None = None
    last_error: str | None = None
    control_types: Counter[str] = field(default_factory=Counter)

    def add(self, summary: Mapping[str, Any]) -> None:
        self.runs += 1
        self.received += int(summary.get("received", 0))
        self.sent += int(summary.get("sent", 0))
        self.control += int(summary.get("control", 0))
        self.quarantined += int(summary.get("quarantined", 0))
        self.deletes += int(summary.get("deletes", 0))
        self.control_types.update(summary.get("control_types") or {})
        self.last_run = dict(summary)


class ConsumerTap:
    """Calls the consumer and adds up the counts each batch returns.

    The consumer writes one JSON log line per batch to stdout (its metrics on
    AWS); locally its ``sink`` sends that line to the log file instead of over
    the status panel.
    """

    def __init__(self, handler: Callable[..., Any], log_line: Callable[[str], None]) -> None:
        self._handler = handler
        self._log_line = log_line
        self.counts: Counter[str] = Counter()
        self.batches = 0
        self.failures = 0
        self._lock = threading.Lock()  # one invocation per shard runs at a time, shards at once

    def __call__(self, event: dict[str, Any], **options: Any) -> Any:
        try:
            result = self._handler(event, sink=self._log_line, **options)
        except Exception:
            with self._lock:
                self.failures += 1
            raise
        with self._lock:
            self.batches += 1
            if isinstance(result, Mapping):
                self.counts.update(
                    {
                        k: int(v)
                        for k, v in result.items()
                        if isinstance(v, int) and k != "duration_ms"
                    }
                )
        return result

    @property
    def stored(self) -> int:
        return self.counts.get("stored", 0)

    @property
    def quarantined(self) -> int:
        return self.counts.get("quarantined", 0)


def is_fatal(exc: BaseException) -> bool:
    """Errors a retry cannot fix: bad settings, and what X refused (credentials, rules)."""
    from chalicelib.config import ConfigError
    from chalicelib.ingest.sources.base import SourceRefusedError

    return isinstance(exc, (ConfigError, SourceRefusedError))


class Scheduler:
    """Invokes the ingest function on a fixed rate, one run at a time.

    Like EventBridge with reserved concurrency 1: a tick that comes while a
    run is still going is skipped. ``runs=1`` is the bounded mode: one run,
    with no timeout, reading the source to its end.

    The ticks and each run's remaining time are read from ``clock``, and the
    pause until the next tick is ``wait(seconds)`` (by default a wait on
    :attr:`stopping`, so :meth:`stop` ends it at once). Tests inject both, so
    the schedule is checked tick by tick without sleeping through it.
    """

    def __init__(
        self,
        invoke: Callable[[dict[str, Any], LocalContext], Mapping[str, Any]],
        *,
        region: str,
        stage: str,
        interval_s: float,
        timeout_s: float | None,
        totals: IngestTotals,
        runs: int | None = None,
        memory_mb: int = 512,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], object] | None = None,
    ) -> None:
        self._invoke = invoke
        self.region = region
        self.function_name = f"tweetlake-{stage}-ingest"
        self.rule_name = f"tweetlake-{stage}-ingest-schedule"
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.totals = totals
        self.runs = runs
        self.memory_mb = memory_mb
        self.stopping = threading.Event()
        self.running = threading.Event()  # set while a run is in progress
        self.fatal: BaseException | None = None
        self.finished = threading.Event()
        self._clock = clock
        self._wait = wait or self.stopping.wait

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        started = self._clock()
        done = 0
        try:
            while not self.stopping.is_set():
                self._one_run()
                done += 1
                if self.fatal is not None or (self.runs is not None and done >= self.runs):
                    break
                # The next tick on the fixed rate; ticks missed during a long run are skipped.
                elapsed = self._clock() - started
                next_at = (int(elapsed // self.interval_s) + 1) * self.interval_s
                self._wait(max(0.0, started + next_at - self._clock()))
        finally:
            self.finished.set()

    def _one_run(self) -> None:
        context = LocalContext(
            self.function_name,
            self.region,
            self.timeout_s,
            self.stopping,
            self.memory_mb,
            clock=self._clock,
        )
        event = scheduled_event(self.region, self.rule_name)
        self.running.set()
        try:
            summary = self._invoke(event, context)
            self.totals.add(summary)
            self.totals.last_error = None
        except Exception as exc:
            partial = getattr(exc, "run_summary", None)
            if isinstance(partial, Mapping):  # the source broke after sending what it read
                self.totals.add(partial)
            self.totals.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            if is_fatal(exc):
                self.fatal = exc
            else:
                log.exception("ingest run failed (the next scheduled run will try again)")
        finally:
            self.totals.sent_live = 0
            self.running.clear()


def local_purge_schedule(settings: Any, lake_dir: Path, buffer_seconds: float | None) -> Any:
    """The purge on its local schedule; a request settles for two Firehose buffer ages."""
    from tweetlake_local.purge import LOCAL_PURGE_EVERY_S, PurgeSchedule

    flush_s = DEFAULT_BUFFER_SECONDS if buffer_seconds is None else buffer_seconds
    return PurgeSchedule(settings, lake_dir, interval_s=LOCAL_PURGE_EVERY_S, settle_s=2 * flush_s)


def ingest_invoker(
    kinesis: Any,
    totals: IngestTotals,
    source: Any = None,
    s3: Any = None,
    journal: StreamJournal | None = None,
) -> Callable[[dict[str, Any], LocalContext], Mapping[str, Any]]:
    """``run_ingest`` with a Kinesis client that counts what enters the stream.

    ``source`` replaces the one ``TWEETLAKE_SOURCE`` names (the benchmark times
    each line it emits); it can serve one run only. ``s3`` is the client the run
    writes its quarantine with (locally, one that mirrors it to disk).
    """
    from chalicelib.ingest.handler import IngestDeps, run_ingest

    def on_sent(n: int) -> None:
        totals.sent_live += n

    deps = IngestDeps(kinesis=CountingKinesis(kinesis, on_sent, journal), source=source, s3=s3)

    def invoke(event: dict[str, Any], context: LocalContext) -> Mapping[str, Any]:
        return run_ingest(event, context, deps)

    return invoke


#: A tag the local mode puts on its emulated stream once its readers stopped (a
#: bounded run that drained): what is put on the stream after that is never read.
READERS_STOPPED_TAG = "tweetlake-local-readers"


def mark_readers_stopped(kinesis: Any, stream: str) -> None:
    kinesis.add_tags_to_stream(StreamName=stream, Tags={READERS_STOPPED_TAG: "stopped"})


def readers_stopped(kinesis: Any, stream: str) -> bool:
    """True when a local run tagged ``stream``: its readers drained and stopped."""
    tags = kinesis.list_tags_for_stream(StreamName=stream).get("Tags", [])
    return any(t.get("Key") == READERS_STOPPED_TAG for t in tags)


@dataclass(frozen=True)
class Snapshot:
    """What the status line shows, read from the counters at one moment."""

    ingest_runs: int
    ingest_running: bool
    read: int
    sent: int
    control: int
    quarantined: int
    stored: int
    #: Delete notices among ``sent``, and the control messages by type.
    deletes: int
    control_types: dict[str, int]
    consumer_counts: dict[str, int]
    consumer_records: int
    lag_records: int
    lag_ms: int
    raw_files: int
    curated_files: int
    error_files: int
    last_error: str | None


class NoLake:
    """A lake publisher that drops the rows: the restore from ``raw/`` re-stores what
    the curated zone already holds."""

    def publish(self, rows: Any) -> None:
        """Nothing to publish."""


NO_LAKE = NoLake()


class Pipeline:
    """The schedule and the readers, each in its own thread."""

    def __init__(
        self,
        settings: Any,
        *,
        lake_dir: Path,
        state_dir: Path,
        interval_s: float,
        bounded: bool,
        batching_window_s: float | None,
        poll_interval_s: float,
        buffer_seconds: float | None,
        consumer: Callable[..., Any],
        log_line: Callable[[str], None],
        memory_mb: int = 512,
        source: Any = None,
    ) -> None:
        from chalicelib import aws

        self.settings = settings
        # Build every client here, in one thread, before any worker starts.
        kinesis = self._kinesis = aws.client("kinesis", settings.region)
        aws.client("dynamodb", settings.region)
        plain_s3 = aws.client("s3", settings.region)
        s3 = quarantine_mirror(plain_s3, lake_dir)
        self.lake_dir = lake_dir
        # What the last run's stream held and its deliveries had not written goes to
        # the lake now; then its positions go: the new stream's numbers start over.
        self.completed = complete_lake(state_dir, lake_dir, settings.stage)
        self.journal = StreamJournal(state_dir / "stream", covered=self._delivered)
        checkpoints = self._checkpoints = FileCheckpoints(state_dir / CHECKPOINTS_NAME)
        self.tap = ConsumerTap(self.consumer_for(consumer, s3=s3), log_line)
        # The tables are rebuilt from raw/ through the same consumer; its quarantine
        # is not mirrored again (the first pass put it in the lake folder already), and
        # what it publishes is dropped: curated holds those rows from the earlier runs.
        self._restore_consumer = self.consumer_for(consumer, s3=plain_s3, sink=log_line)
        self.restore = RestoreProgress()
        self._restore_stop = threading.Event()
        self.poller: Poller = local_readers(
            settings,
            self.tap,
            lake_dir=lake_dir,
            checkpoints=checkpoints,
            batching_window_s=batching_window_s,
            interval_s=poll_interval_s,
            buffer_seconds=buffer_seconds,
        )
        self.mapping = next(r for r in self.poller.readers if isinstance(r, EventSourceMapping))
        self.curated = next(r for r in self.poller.readers if isinstance(r, DirectPutSource))
        self.deliveries = [
            r.delivery
            for r in self.poller.readers
            if isinstance(r, FirehoseSource | DirectPutSource)
        ]
        self.totals = IngestTotals()
        self.scheduler = Scheduler(
            ingest_invoker(kinesis, self.totals, source, s3, self.journal),
            region=settings.region,
            stage=settings.stage,
            interval_s=interval_s,
            timeout_s=None if bounded else interval_s * TIMEOUT_SHARE,
            totals=self.totals,
            runs=1 if bounded else None,
            memory_mb=memory_mb,
        )
        self.purge = local_purge_schedule(settings, lake_dir, buffer_seconds)
        self._threads: dict[str, threading.Thread] = {}
        self._loops: list[Poller] = []  # one per reader, each run by its own thread
        self.thread_errors: dict[str, BaseException] = {}
        self.drained = False

    def _thread(self, name: str, target: Callable[[], None]) -> threading.Thread:
        def guarded() -> None:
            try:
                target()
            except BaseException as exc:  # reported by the main thread, which stops everything
                log.exception("%s thread failed", name)
                self.thread_errors[name] = exc

        thread = threading.Thread(target=guarded, name=f"tweetlake-{name}", daemon=True)
        self._threads[name] = thread
        thread.start()
        return thread

    def _delivered(self, shard_id: str, sequence: int) -> bool:
        """Both deliveries have written the record (the journal may let it go)."""
        for delivery in self.deliveries:
            position = self._checkpoints.get(delivery.name, shard_id)
            if position is None or int(position) < sequence:
                return False
        return True

    @staticmethod
    def consumer_for(consumer: Callable[..., Any], **deps: Any) -> Callable[..., Any]:
        """The consumer with what the local mode hands it: the one place it is built,
        for the stream's mapping and for the restore from the lake alike."""
        return functools.partial(consumer, **deps)

    def _groups(self) -> list[list[Reader]]:
        """The readers by thread: the mapping with the curated delivery it publishes to
        (the consumer's thread), every other reader on its own."""
        consumer_side: list[Reader] = [self.mapping, self.curated]
        others = [r for r in self.poller.readers if all(r is not c for c in consumer_side)]
        return [consumer_side, *([r] for r in others)]

    def start(self) -> None:
        """A thread per reader of the stream, as on AWS, where the mapping and the raw
        delivery poll on their own: while one waits on the emulated AWS, another works."""
        for group in self._groups():
            loop = Poller(group, interval_s=self.poller.interval_s)
            self._loops.append(loop)
            name = f"read-{group[0].name}"
            if group[0] is self.mapping:
                self._thread(name, functools.partial(self._consume, loop))
            else:
                self._thread(name, loop.run)
        self._thread("schedule", self.scheduler.run)
        self._thread("purge", self.purge.run)

    def _consume(self, loop: Poller) -> None:
        """Rebuild the tables from the lake, then consume the stream: one thread, so the
        restore and the mapping never write the same author at once, and the curated
        delivery is only ever used from here."""
        self.restore_tables()
        loop.run()

    def restore_tables(self) -> None:
        """Replay the lake's raw zone into the (new, empty) tables, publishing nothing,
        but for the last run's records whose curated rows it had not written; then
        those, publishing them (the rows a ``kill -9`` took from the curated buffer)."""
        arn = stream_arn(self.settings.stream_name, self.settings.region)
        kept = self.completed.replay
        restore_tables(
            self.lake_dir,
            skipping(functools.partial(self._restore_consumer, lake=NO_LAKE), kept),
            batch_size=self.mapping.batch_size,
            region=self.settings.region,
            stream_arn=arn,
            progress=self.restore,
            stopping=self._restore_stop.is_set,
        )
        if kept and not self._restore_stop.is_set():
            self.restore.republished = replay(
                kept,
                functools.partial(self._restore_consumer, lake=self.curated),
                batch_size=self.mapping.batch_size,
                stream_arn=arn,
            )
            self.curated.drain()

    @property
    def ingest_finished(self) -> bool:
        return self.scheduler.finished.is_set()

    def stop_ingest(self, timeout_s: float = 60.0) -> bool:
        """Ask the current run to stop reading; wait until it has flushed."""
        self.scheduler.stop()
        thread = self._threads.get("schedule")
        if thread is not None:
            thread.join(timeout_s)
            return not thread.is_alive()
        return True

    def drain(self, timeout_s: float = 120.0) -> bool:
        """Stop polling, then read every shard to its end, consume and deliver it all.

        Each reader drains in a thread of its own once its polling thread has stopped,
        so no reader is ever used by two threads at once.
        """
        for loop in self._loops:
            loop.stop()
        for name, thread in self._threads.items():
            if not name.startswith("read-"):
                continue
            # A restore under way finishes first (its records come before the stream's).
            while thread.is_alive() and self.restore.running:
                thread.join(1.0)
            thread.join(timeout_s)
            if thread.is_alive():
                return False
        groups = self._groups()
        with ThreadPoolExecutor(len(groups), thread_name_prefix="tweetlake-drain") as pool:
            # In each group in order: the mapping consumes, then the curated delivery flushes.
            list(pool.map(lambda group: [reader.drain() for reader in group], groups))
        self.poller.close()
        self.purge.stop()
        self.purge.run_once(settle_s=0)  # everything is delivered: nothing left to settle
        mark_readers_stopped(self._kinesis, self.settings.stream_name)
        # Every record the stream took is in the lake now: the journal has done its job.
        self.journal.remove()
        self.drained = True
        return True

    def force_stop(self) -> None:
        """Second Ctrl-C: interrupt retries and waits; buffers are not flushed."""
        self._restore_stop.set()
        self.scheduler.stop()
        for loop in self._loops:
            loop.stop()
        self.mapping.stop()
        self.purge.stop()

    def consumer_lag_ms(self) -> int:
        """How long the oldest record read but not yet consumed has waited, or
        Kinesis' MillisBehindLatest if larger (moto reports 0 there)."""
        oldest = 0
        with contextlib.suppress(RuntimeError):  # a shard appeared mid-read: next time
            arrival = self.mapping.oldest_pending()
            if arrival is not None:
                oldest = int((datetime.now(UTC) - arrival).total_seconds() * 1000)
        with contextlib.suppress(RuntimeError):
            oldest = max(oldest, self.mapping.millis_behind())
        return oldest

    def snapshot(self) -> Snapshot:
        totals = self.totals
        tap = self.tap
        lag_ms = self.consumer_lag_ms()
        sent = totals.sent + totals.sent_live
        keys = [key for d in self.deliveries for key in list(d.stats.keys)]
        return Snapshot(
            ingest_runs=totals.runs,
            ingest_running=self.scheduler.running.is_set(),
            read=totals.received,
            sent=sent,
            control=totals.control,
            quarantined=totals.quarantined + tap.quarantined,
            stored=tap.stored,
            deletes=totals.deletes,
            control_types=dict(totals.control_types),
            consumer_counts=dict(tap.counts),
            consumer_records=self.mapping.stats.records_handled,
            lag_records=max(0, sent - self.mapping.stats.records_handled),
            lag_ms=lag_ms,
            raw_files=sum(1 for k in keys if k.startswith("raw/")),
            curated_files=sum(1 for k in keys if k.startswith("curated/")),
            error_files=sum(1 for k in keys if not k.startswith(("raw/", "curated/"))),
            last_error=totals.last_error,
        )
