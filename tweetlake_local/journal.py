"""What makes the local mode's state outlive its process: a stream journal and a restore.

moto keeps the stream, the tables and the bucket in memory, so a stop loses them
and a ``kill -9`` loses what the stream held but no reader had delivered yet. The
lake folder on disk is what lasts, so the local mode makes it complete and
rebuilds the rest from it:

* **Write-through journal.** Every record the emulated stream accepts is
  appended to ``<dir>/stream/journal-NNNNNN.jsonl`` (its shard, sequence number,
  partition key, bytes and arrival) before the ingest run counts it as sent.
  The positions (``checkpoints.json``) say which of those records each delivery
  has written: the raw delivery's as it flushes, the curated delivery's at the
  consumer's positions when it flushes the rows the consumer published
  (:meth:`tweetlake_local.poller.DirectPutSource.follow`). A full segment whose
  records both have is deleted.
* **At start, raw/ is completed** from the last run's journal: the raw delivery
  is handed the journal's records past its checkpoint, with their old shard and
  sequence numbers, so the objects it writes are named as the crashed run would
  have named them (:mod:`tweetlake_local.firehose`). The records past the curated
  checkpoint are kept in memory; then the journal and the checkpoints are
  dropped: the new stream's sequence numbers start over.
* **DynamoDB is rebuilt from the raw zone** with :func:`tweetlake_ops.backfill.backfill`,
  the operator's replay through the real consumer, with a lake publisher that
  drops the rows (curated holds them from the earlier runs). Then the records
  kept for curated go through the consumer again with the real publisher: it
  decides a tweet's row from the item's final state, so they publish the rows the
  killed run had buffered. The consumer is idempotent, so replaying a record that
  was already stored changes nothing in the tables, and a row published twice is
  one row in the ``tweets`` view: at-least-once delivery ends exact.

A second crash during that replay loses the kept records' curated rows (raw/ and
the tables still hold them): the replay runs before the new stream is read, and
takes seconds.

The journal is flushed to the operating system after each ``PutRecords``, which a
killed process cannot undo; it is not synced to the disk, so a power cut can lose
its last records (a crash of the machine is not in scope for a local mode).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tweetlake_local.firehose import (
    DirSink,
    StreamRecord,
    curated_delivery,
    raw_delivery,
)
from tweetlake_local.poller import Checkpoints, FileCheckpoints

log = logging.getLogger(__name__)

SEGMENT_PREFIX = "journal-"
#: Records per journal segment (a synthetic envelope is about 3 KB, 4 KB in base64).
SEGMENT_RECORDS = 5_000
CHECKPOINTS_NAME = "checkpoints.json"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One record the stream accepted, with where it went and when."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float  # epoch seconds

    def stream_record(self) -> StreamRecord:
        return StreamRecord(
            data=self.data,
            shard_id=self.shard_id,
            sequence_number=self.sequence_number,
            arrival=datetime.fromtimestamp(self.arrival, tz=UTC),
        )


class JournalError(RuntimeError):
    """The journal holds a line that is not a record (not a torn last line)."""


class StreamJournal:
    """Append-only segments of accepted records, one JSON line each
    (``journal-000001.jsonl`` …).

    When a segment is full the next one starts, and every closed segment whose
    records all deliveries have written (``covered``) is deleted: the journal holds
    about what is still in flight, not the whole run.
    """

    def __init__(
        self,
        folder: Path,
        *,
        segment_records: int = SEGMENT_RECORDS,
        covered: Callable[[str, int], bool] | None = None,
    ) -> None:
        self.folder = folder
        self.segment_records = segment_records
        #: ``covered(shard, sequence)``: every delivery has written that record.
        self.covered = covered
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._count = 0  # records in the open segment
        self._number = 0  # the newest segment's number
        self._top: dict[str, int] = {}  # the open segment's newest sequence per shard
        self._closed: dict[Path, dict[str, int]] = {}  # the same for closed segments
        self._lock = threading.Lock()

    def segments(self) -> list[Path]:
        return sorted(self.folder.glob(f"{SEGMENT_PREFIX}*.jsonl"))

    def append(self, entries: list[JournalEntry]) -> None:
        """Write ``entries`` and hand them to the OS before returning."""
        if not entries:
            return
        lines = b"".join(_encode(e) for e in entries)
        with self._lock:
            handle = self._file or self._open_segment()
            handle.write(lines)
            handle.flush()
            self._count += len(entries)
            for entry in entries:
                sequence = int(entry.sequence_number)
                self._top[entry.shard_id] = max(self._top.get(entry.shard_id, 0), sequence)
            if self._count >= self.segment_records:
                self._rotate()

    def _open_segment(self) -> IO[bytes]:
        if self._number == 0:
            existing = self.segments()
            self._number = int(existing[-1].stem.removeprefix(SEGMENT_PREFIX)) if existing else 0
        self._number += 1  # names sort in the order the records came
        self.folder.mkdir(parents=True, exist_ok=True)
        self._path = self.folder / f"{SEGMENT_PREFIX}{self._number:06d}.jsonl"
        self._file = self._path.open("ab")
        self._count, self._top = 0, {}
        return self._file

    def _rotate(self) -> None:
        if self._file is not None and self._path is not None:
            self._file.close()
            self._closed[self._path] = self._top
            self._file = None
        for path, top in list(self._closed.items()):
            if self.covered is not None and all(self.covered(s, q) for s, q in top.items()):
                path.unlink(missing_ok=True)
                del self._closed[path]

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def entries(self) -> Iterator[JournalEntry]:
        """The records in the order they were accepted; a torn last line is skipped
        (the process died writing it, before the records were counted as sent)."""
        for path in self.segments():
            with path.open("rb") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.endswith(b"\n"):
                        log.warning("%s: line %d is torn (a crash while writing)", path, number)
                        break
                    try:
                        yield _decode(line)
                    except (ValueError, KeyError, TypeError) as exc:
                        raise JournalError(f"{path} line {number}: {exc}") from None

    def remove(self) -> None:
        self.close()
        with self._lock:
            for path in self.segments():
                path.unlink(missing_ok=True)
            self._closed.clear()


def _encode(entry: JournalEntry) -> bytes:
    doc = {
        "shard": entry.shard_id,
        "seq": entry.sequence_number,
        "pk": entry.partition_key,
        "at": entry.arrival,
        "data": base64.b64encode(entry.data).decode("ascii"),
    }
    return json.dumps(doc, separators=(",", ":")).encode("ascii") + b"\n"


def _decode(line: bytes) -> JournalEntry:
    doc = json.loads(line)
    return JournalEntry(
        shard_id=str(doc["shard"]),
        sequence_number=str(doc["seq"]),
        partition_key=str(doc["pk"]),
        data=base64.b64decode(doc["data"], validate=True),
        arrival=float(doc["at"]),
    )


def accepted(
    records: list[Mapping[str, Any]], response: Mapping[str, Any], arrival: float
) -> list[JournalEntry]:
    """The entries of a ``PutRecords`` call that the stream accepted (no ``ErrorCode``)."""
    entries = []
    for record, result in zip(records, response.get("Records", []), strict=False):
        if result.get("ErrorCode") or "SequenceNumber" not in result:
            continue
        data = record["Data"]
        entries.append(
            JournalEntry(
                shard_id=str(result["ShardId"]),
                sequence_number=str(result["SequenceNumber"]),
                partition_key=str(record.get("PartitionKey", "")),
                data=data if isinstance(data, bytes) else str(data).encode("utf-8"),
                arrival=arrival,
            )
        )
    return entries


def _after(entry: JournalEntry, position: str | None) -> bool:
    return position is None or int(entry.sequence_number) > int(position)


def skipping(
    consumer: Callable[[dict[str, Any]], Any], known: list[JournalEntry]
) -> Callable[[dict[str, Any]], Any]:
    """``consumer`` without the records whose bytes are those of ``known``.

    The tables are rebuilt from raw/ without the records kept for :func:`replay`: the
    consumer publishes a tweet's row only for the copy it stored (its origin), so a
    record stored by the rebuild would publish nothing when replayed.
    """
    skip = {entry.data.rstrip(b"\n") for entry in known}
    if not skip:
        return consumer

    def call(event: dict[str, Any]) -> Any:
        kept = [
            record
            for record in event["Records"]
            if base64.b64decode(record["kinesis"]["data"]).rstrip(b"\n") not in skip
        ]
        return consumer({**event, "Records": kept}) if kept else None

    return call


@dataclass
class RestoreProgress:
    """How far the restore of DynamoDB from the raw zone has come."""

    running: bool = False
    done: bool = False
    records: int = 0
    objects: int = 0
    #: The last run's records handed to the consumer again for their curated rows.
    republished: int = 0
    error: str | None = None


def restore_tables(
    lake_dir: Path,
    consumer: Callable[[dict[str, Any]], Any],
    *,
    batch_size: int,
    region: str,
    stream_arn: str,
    progress: RestoreProgress,
    stopping: Callable[[], bool],
) -> None:
    """Replay ``lake_dir/raw/`` through ``consumer`` (the backfill path); stops early
    when ``stopping()`` says so (the next start replays it all again)."""
    from tweetlake_ops.backfill import BackfillError, LocalZone, backfill

    if not (lake_dir / "raw").is_dir():
        progress.done = True
        return

    class Stopped(Exception):
        pass

    def watch(summary: Any) -> None:
        progress.records, progress.objects = summary.records, summary.objects
        if stopping():
            raise Stopped

    progress.running = True
    log.info("restoring the tables from %s/raw (the backfill path)", lake_dir)
    try:
        backfill(
            LocalZone(lake_dir),
            consumer,
            batch_size=batch_size,
            region=region,
            stream_arn=stream_arn,
            progress=watch,
        )
        progress.done = True
        log.info("restored: %d records of %d raw objects", progress.records, progress.objects)
    except Stopped:
        log.info(
            "restore stopped after %d records; the next start replays raw/ again", progress.records
        )
    except BackfillError as exc:
        progress.error = str(exc)
        log.error("restoring the tables from %s failed: %s", lake_dir, exc)
    finally:
        progress.running = False


@dataclass
class Completion:
    """What the start took over from the last run's journal."""

    #: Records handed to the raw delivery (past its checkpoint).
    raw: int = 0
    #: Records whose curated rows the last run had not written (past the curated
    #: delivery's checkpoint): the consumer publishes them again (:func:`replay`).
    replay: list[JournalEntry] = field(default_factory=list)


def complete_lake(state_dir: Path, lake_dir: Path, stage: str) -> Completion:
    """Deliver what the last run's journal holds past the raw delivery's checkpoint to
    the lake folder, keep the records past the curated delivery's checkpoint for
    :func:`replay`, then drop the journal and the positions (the new stream's numbers
    start over). Nothing to do when the last run drained, or there was none.

    The curated zone is the consumer's output, not a copy of the stream, so its
    missing rows are not rebuilt here: the consumer's thread replays those records
    once the tables are back (:meth:`tweetlake_local.pipeline.Pipeline.restore_tables`).
    """
    journal = StreamJournal(state_dir / "stream")
    checkpoints_path = state_dir / CHECKPOINTS_NAME
    done = Completion()
    if journal.segments():
        checkpoints = FileCheckpoints(checkpoints_path)
        raw = raw_delivery([DirSink(lake_dir)], stage)
        raw.on_flush = _checkpointer(checkpoints, raw.name)
        curated = curated_name(stage)
        for entry in journal.entries():
            if _after(entry, checkpoints.get(raw.name, entry.shard_id)):
                raw.put([entry.stream_record()])
                done.raw += 1
            if _after(entry, checkpoints.get(curated, entry.shard_id)):
                done.replay.append(entry)
        raw.flush()
        log.info(
            "completed raw/ from the last run's journal (%d records); %d to publish again",
            done.raw,
            len(done.replay),
        )
    # The journal first: were the process to die in between, positions without a
    # journal are dropped next time, while a journal without positions would be
    # delivered again from its start.
    journal.remove()
    checkpoints_path.unlink(missing_ok=True)
    return done


def curated_name(stage: str) -> str:
    """The curated delivery's name, which its checkpoints are kept under."""
    return curated_delivery([], stage).name


def replay(
    entries: list[JournalEntry],
    consumer: Callable[[dict[str, Any]], Any],
    *,
    batch_size: int,
    stream_arn: str,
) -> int:
    """Hand ``entries`` to ``consumer`` as the mapping would, shard by shard in order.

    This is how the rows a killed run had buffered reach the curated zone: the
    rebuild from raw/ left these records out (:func:`skipping`), so the consumer
    stores them now and publishes their rows. Returns the records handed over.
    """
    from chalicelib.retry import Backoff
    from tweetlake_local.poller import invoke_with_retry, kinesis_event

    by_shard: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_shard.setdefault(entry.shard_id, []).append(
            {
                "Data": entry.data,
                "SequenceNumber": entry.sequence_number,
                "PartitionKey": entry.partition_key,
                "ApproximateArrivalTimestamp": entry.arrival,
            }
        )
    retry = Backoff(base_s=0.5, cap_s=10, max_attempts=5)  # as the backfill retries
    for shard_id, records in by_shard.items():
        for start in range(0, len(records), batch_size):
            event = kinesis_event(records[start : start + batch_size], shard_id, stream_arn)
            invoke_with_retry(consumer, event, retry)
    return len(entries)


def _checkpointer(checkpoints: Checkpoints, reader: str) -> Callable[[dict[str, str]], None]:
    def checkpoint(last: dict[str, str]) -> None:
        for shard_id, sequence in last.items():
            checkpoints.put(reader, shard_id, sequence)

    return checkpoint
