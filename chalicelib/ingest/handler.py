"""The scheduled ingest run: source → envelopes → Kinesis, until just before the timeout.

A run reads lines from the configured source, normalizes each
(:func:`chalicelib.envelope.normalize.normalize_line`), sends tweets and deletes
through the batching :class:`~chalicelib.ingest.producer.KinesisProducer`, counts
control messages, and quarantines what cannot be sent (invalid lines, records
over 1 MiB) under the shared quarantine layout with origin ``producer``.

It stops reading once the Lambda's remaining time falls to the safety margin
(``TWEETLAKE_SAFETY_MARGIN_S``, default 30 s), which leaves the margin for
stopping the source, flushing the producer, writing the quarantine and
advancing the checkpoint. Every line read is either in the stream, in the
quarantine, or counted as control when the run returns. If Kinesis keeps
failing, the run raises (Lambda records the failure) and the checkpoint stays
where it was, so the next run, or a backfill, starts from before the gap.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib import aws
from chalicelib.config import Settings, get_settings
from chalicelib.emf import emf_document, emit, stdout_line
from chalicelib.envelope.normalize import Normalized, normalize_line
from chalicelib.ingest.budget import PostBudget, start_budget
from chalicelib.ingest.checkpoint import Checkpoint
from chalicelib.ingest.producer import KinesisProducer, UnsendableRecordError, encode_record
from chalicelib.ingest.settings import IngestSettings, load_ingest_settings
from chalicelib.ingest.sources.base import Source
from chalicelib.ingest.sources.factory import SourceContext, build_source
from chalicelib.quarantine import QuarantineEntry, write_quarantine
from chalicelib.retry import Backoff
from chalicelib.timeutil import now_iso

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

QUARANTINE_ORIGIN = "producer"
QUARANTINE_CHUNK = 500


@dataclass
class RunSummary:
    received: int = 0
    sent: int = 0
    control: int = 0
    quarantined: int = 0
    reconnects: int = 0
    duration_s: float = 0.0
    put_records_calls: int = 0
    checkpoint: str | None = None
    stopped_by: str = "source"  # or "deadline", "source_error", "budget"
    control_types: Counter[str] = field(default_factory=Counter)
    #: ``errors`` entries v2 sent beside ``data`` (a reference X could not expand);
    #: each such line is also logged, and the run emits the count as a metric.
    partial_errors: int = 0
    #: Delete notices handed to the stream (counted in ``sent`` too): not control.
    deletes: int = 0
    #: What a live source reports (failures, waits, rules, catch-up); empty for files.
    source: dict[str, Any] = field(default_factory=dict)
    #: The monthly post budget of a billed source (None for unbilled ones).
    budget: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["control_types"] = dict(self.control_types)
        return out


class QuarantineBuffer:
    """Collects quarantine entries and writes them in objects of ``chunk`` entries."""

    def __init__(self, s3: Any, bucket: str, run_key: str, day: str, chunk: int = QUARANTINE_CHUNK):
        self._s3 = s3
        self._bucket = bucket
        self._run_key = run_key
        self._day = day
        self._chunk = chunk
        self._entries: list[QuarantineEntry] = []
        self._part = 0
        self.count = 0
        self.keys: list[str] = []

    def add(self, entry: QuarantineEntry) -> None:
        self._entries.append(entry)
        self.count += 1
        if len(self._entries) >= self._chunk:
            self.flush()

    def flush(self) -> None:
        if not self._entries:
            return
        key = write_quarantine(
            self._s3,
            self._bucket,
            QUARANTINE_ORIGIN,
            self._day,
            f"{self._run_key}-{self._part:04d}",
            self._entries,
        )
        if key:
            self.keys.append(key)
        self._part += 1
        self._entries = []


class Ingestor:
    """Moves lines from one source into the producer until the source ends or time is up."""

    def __init__(
        self,
        source: Source,
        producer: KinesisProducer,
        quarantine: QuarantineBuffer,
        *,
        time_is_up: Callable[[], bool],
        now: Callable[[], str] = now_iso,
        budget: PostBudget | None = None,
    ) -> None:
        self._source = source
        self._budget = budget
        self._producer = producer
        self._quarantine = quarantine
        self._time_is_up = time_is_up
        self._now = now
        # A source that resumes from a cursor (Jetstream) checkpoints its frames' cursors;
        # any other (a replayed file of Jetstream frames) leaves the checkpoint alone.
        self._cursor_source = bool(getattr(source, "checkpoints_cursor", False))
        self.summary = RunSummary()
        self.source_error: Exception | None = None

    def run(self) -> RunSummary:
        """Read, send, flush; raises only for infrastructure faults that survived retries."""
        summary = self.summary
        lines: Iterator[str | bytes] = self._source.lines()
        try:
            while not self._time_is_up():
                if self._budget_reached():
                    break
                try:
                    line = next(lines)
                except StopIteration:
                    if self._time_is_up():  # a live source stops itself at the same time
                        summary.stopped_by = "deadline"
                    break
                except Exception as exc:
                    # The source broke (network, file) or was refused (401/403, a
                    # rejected rule): what it gave us is still flushed below; the
                    # run reports the error after that.
                    self.source_error = exc
                    summary.stopped_by = "source_error"
                    summary.error = f"{type(exc).__name__}: {exc}"
                    break
                summary.received += 1
                self._handle(line)
                self._producer.poll()
            else:
                summary.stopped_by = "deadline"
        finally:
            self._source.stop()
            close = getattr(lines, "close", None)
            if close is not None:
                close()
            summary.reconnects = self._source.reconnects
            if self._budget is not None:
                summary.budget = self._budget.summary()
            report = getattr(self._source, "summary", None)
            if callable(report):
                summary.source = report()
            # Whatever happens to the stream, what was quarantined gets written.
            self._quarantine.flush()
            summary.quarantined = self._quarantine.count
        self._producer.flush()
        summary.sent = self._producer.stats.sent
        summary.put_records_calls = self._producer.stats.calls
        return summary

    def _budget_reached(self) -> bool:
        """Checked before each read: a line read is a post billed."""
        if self._budget is None or not self._budget.reached():
            return False
        self.summary.stopped_by = "budget"
        log.warning(
            "X post budget reached: %d of %d posts read this billing cycle; stopped reading",
            self._budget.used,
            self._budget.limit,
        )
        return True

    def _handle(self, line: str | bytes) -> None:
        ingested_at = self._now()
        for item in normalize_line(
            line, source_api=self._source.source_api, ingested_at=ingested_at
        ):
            if item.partial_errors:
                self._partial(item)
            if item.envelope is not None and item.kind in ("tweet", "delete", "account"):
                data, key, tweet_id = encode_record(item.envelope)
                if item.cursor is not None and self._cursor_source:
                    tweet_id = item.cursor  # Jetstream: checkpoint the frame's time_us
                if self._budget is not None and item.kind == "tweet":
                    self._budget.count()
                try:
                    self._producer.put(data, key, tweet_id=tweet_id)
                except UnsendableRecordError as exc:
                    self._reject(str(exc), data, ingested_at)
                    continue
                if item.kind == "delete":
                    self.summary.deletes += 1
            elif item.kind == "control":
                self.summary.control += 1
                self.summary.control_types[item.control or "unknown"] += 1
            else:
                raw = line if isinstance(line, bytes) else line.encode("utf-8")
                self._reject(item.reason or "invalid", raw, ingested_at)

    def _partial(self, item: Normalized) -> None:
        """A v2 line with ``errors`` beside ``data``: stored, but said so, never dropped."""
        self.summary.partial_errors += len(item.partial_errors)
        envelope = item.envelope or {}
        log.warning(
            "v2 partial errors %s",
            json.dumps(
                {
                    "event": "v2_partial_errors",
                    "tweet_id": envelope.get("tweet_id"),
                    "unresolved_tweet_ids": envelope.get("unresolved_tweet_ids", []),
                    "errors": list(item.partial_errors),
                },
                ensure_ascii=False,
            ),
        )

    def _reject(self, reason: str, data: bytes, ingested_at: str) -> None:
        self._quarantine.add(
            QuarantineEntry(
                reason=reason,
                data=data,
                approximate_arrival=ingested_at,
                source_api=self._source.source_api,
            )
        )


@dataclass(frozen=True)
class IngestDeps:
    """Clients a run uses; any left None is built from settings (tests inject fakes)."""

    kinesis: Any = None
    s3: Any = None
    dynamodb: Any = None
    source: Source | None = None
    ingest_settings: IngestSettings | None = None
    backoff: Backoff | None = None
    #: Monotonic clock and sleep for live sources' deadline and reconnect waits.
    clock: Callable[[], float] | None = None
    sleep: Callable[[float], None] | None = None
    #: Where EMF metric lines go (stdout on Lambda).
    metrics_sink: Callable[[str], None] | None = None


def deadline_check(context: Any, margin_s: float) -> Callable[[], bool]:
    """True once the Lambda has ``margin_s`` or less left (never, without a context)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: False
    return lambda: float(remaining()) / 1000.0 <= margin_s


def source_deadline(context: Any, margin_s: float, clock: Callable[[], float]) -> float | None:
    """When a live source must stop reading, on ``clock``: the same margin before the timeout."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return clock() + float(remaining()) / 1000.0 - margin_s


def run_ingest(event: Any, context: Any, deps: IngestDeps | None = None) -> dict[str, Any]:
    """One scheduled run (the composition root); returns the run summary."""
    started = time.monotonic()
    deps = deps or IngestDeps()
    settings: Settings = get_settings()
    options = deps.ingest_settings or load_ingest_settings(os.environ)

    # Sources build their own clients by service name (replay: s3, live: secretsmanager).
    client = functools.partial(aws.client, region=settings.region)
    kinesis = deps.kinesis or aws.client("kinesis", settings.region)
    s3 = deps.s3 or aws.client("s3", settings.region)
    dynamodb = deps.dynamodb or aws.client("dynamodb", settings.region)
    checkpoint = Checkpoint.for_source(dynamodb, settings.state_table, settings.source)
    previous = checkpoint.read()
    clock = deps.clock or time.monotonic
    source = deps.source or build_source(
        settings.source,
        SourceContext(
            settings=options,
            checkpoint=previous,
            client=client,
            deadline=source_deadline(context, options.safety_margin_s, clock),
            clock=clock,
            sleep=deps.sleep or time.sleep,
        ),
    )
    run_key = str((event or {}).get("id") or getattr(context, "aws_request_id", "") or uuid.uuid4())
    quarantine = QuarantineBuffer(s3, settings.lake_bucket, run_key, now_iso()[:10])
    producer = KinesisProducer(
        kinesis, settings.stream_name, linger_s=options.linger_s, backoff=deps.backoff
    )
    budget = start_budget(source, options.post_budget)
    ingestor = Ingestor(
        source,
        producer,
        quarantine,
        time_is_up=deadline_check(context, options.safety_margin_s),
        budget=budget,
    )
    try:
        summary = ingestor.run()
    except Exception:
        partial = ingestor.summary
        partial.sent = producer.stats.sent
        partial.put_records_calls = producer.stats.calls
        log.exception(
            "ingest failed; checkpoint left at %s; %d record(s) unsent; so far %s",
            previous,
            len(producer.pending),
            json.dumps(partial.as_dict()),
        )
        raise
    if producer.max_tweet_id_sent is not None:
        written = checkpoint.advance(
            producer.max_tweet_id_sent, source=settings.source, sent=summary.sent
        )
        summary.checkpoint = str(written.tweet_id)
    elif previous is not None:
        summary.checkpoint = str(previous)
    summary.duration_s = round(time.monotonic() - started, 3)
    if summary.partial_errors:
        emit(
            emf_document(
                {"partial_errors": (summary.partial_errors, "Count")},
                {"stage": settings.stage},
                {"event": "ingest_partial_errors", "function": "ingest", "run": run_key},
            )
        )
    result = summary.as_dict()
    log.info("ingest run %s", json.dumps({"run": run_key, **result}))
    if budget is not None:
        emit(budget.metric(settings.stage), deps.metrics_sink or stdout_line)
    lag = summary.source.get("lag_s")
    if lag is not None:  # a cursor source (Jetstream): how far behind the network the run ended
        emit(
            emf_document(
                {"source_lag": (lag, "Seconds")},
                {"stage": settings.stage},
                {"event": "ingest_source_lag", "function": "ingest", "run": run_key},
            ),
            deps.metrics_sink or stdout_line,
        )
    if ingestor.source_error is not None:
        # Everything read is in the stream and the checkpoint covers it; the
        # run still fails so the error shows in Lambda's metrics and logs. The
        # summary rides on the error, so a caller's counts stay true.
        ingestor.source_error.run_summary = result  # type: ignore[attr-defined]
        raise ingestor.source_error
    return result
