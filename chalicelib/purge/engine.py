"""Rewrite the lake's objects without the deleted tweets; record what was done.

A run takes every pending request at once (:mod:`chalicelib.purge.requests`), so
each candidate object is read once whatever the number of deletes:

* **candidates**: ``raw/`` from the arrival day before the earliest creation day
  among the requests to the end (a tweet arrives after it is posted; a replay or
  backfill puts it in today); ``curated/`` from the same day to the end, which
  takes in each tweet's own partition, the later partitions of retweets that
  carry its text, and ``dt=unknown`` (it sorts after every date); all of
  ``quarantine/`` and ``firehose-errors/``, whose
  records are there because they could not be read, so no partition says where a
  tweet is (both zones expire after 90 days, which bounds them). A request with no
  creation time and no Snowflake id widens ``raw/`` and ``curated/`` to everything.
* **rewrite**: each candidate is read, filtered by :mod:`chalicelib.purge.match`
  and, if anything was dropped, put back under the same key in the same format
  (gzip JSON lines; Parquet with the file's own schema and codec; JSON lines), or
  deleted when nothing is left. An object without a match is not written.
* **done**: only a run that read every candidate marks requests purged, and only
  those requested at least ``settle_s`` ago: Firehose may still hold a copy of the
  tweet in its buffer (up to 900 s) and deliver it after the scan. Younger
  requests are scanned all the same and stay pending for the next run.

Idempotent: a second run over a purged lake finds nothing and writes nothing. A run
cut short by its time budget keeps what it rewrote and leaves every request pending.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from chalicelib import emf
from chalicelib.aws import is_transient
from chalicelib.purge.match import IdMatcher, entry_holds, envelope_holds, id_pattern
from chalicelib.purge.request_log import PurgeRequest, mark_purged, read_requests
from chalicelib.retry import Backoff
from chalicelib.timeutil import iso_utc, parse_iso

RAW = "raw/"
CURATED = "curated/"
QUARANTINE = "quarantine/"
ERRORS = "firehose-errors/"
#: Curated columns whose value being a deleted id drops the row (see match.py).
ROW_ID_COLUMNS = ("tweet_id", "retweeted_tweet_id")


@dataclass(frozen=True, slots=True)
class LakeObject:
    key: str
    size: int


class ObjectStore(Protocol):
    """Where the lake's objects are: the bucket, or (locally) its folder mirror."""

    name: str

    def list(self, prefix: str, start_after: str = "") -> Iterator[LakeObject]: ...
    def get(self, key: str) -> bytes: ...
    def put(self, key: str, body: bytes) -> None: ...
    def delete(self, key: str) -> None: ...


@dataclass
class S3Store:
    """The lake bucket through a boto3 S3 client; each call retried while transient."""

    client: Any
    bucket: str
    backoff: Backoff = field(default_factory=Backoff)
    name: str = "s3"

    def list(self, prefix: str, start_after: str = "") -> Iterator[LakeObject]:
        arguments = {"Bucket": self.bucket, "Prefix": prefix}
        if start_after:
            arguments["StartAfter"] = start_after
        for page in self.client.get_paginator("list_objects_v2").paginate(**arguments):
            for entry in page.get("Contents", []):
                yield LakeObject(entry["Key"], int(entry["Size"]))

    def get(self, key: str) -> bytes:
        def read() -> bytes:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return body

        return self.backoff.call(read, is_transient)

    def put(self, key: str, body: bytes) -> None:
        """Overwrite ``key``, then destroy its older versions: in a versioned bucket they
        would keep the deleted tweet until the lifecycle expires them (30 days)."""
        response = self.backoff.call(
            lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=body), is_transient
        )
        current = response.get("VersionId")
        if current and current != "null":
            self._delete_versions(key, keep=current)

    def delete(self, key: str) -> None:
        """Remove ``key`` for good: every version in a versioned bucket (a plain delete
        would only add a delete marker and keep the data), else the object."""
        if not self._delete_versions(key, keep=None):
            self.backoff.call(
                lambda: self.client.delete_object(Bucket=self.bucket, Key=key), is_transient
            )

    def _delete_versions(self, key: str, keep: str | None) -> bool:
        """Delete each version and delete marker of exactly ``key`` but ``keep``; False
        when the bucket keeps no versions of it (unversioned: ids are "null")."""
        versioned = False
        pages = self.client.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=key
        )
        for page in pages:
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                version = entry.get("VersionId")
                if entry.get("Key") != key or not version or version == "null":
                    continue
                versioned = True
                if version != keep:
                    self.backoff.call(
                        functools.partial(
                            self.client.delete_object,
                            Bucket=self.bucket,
                            Key=key,
                            VersionId=version,
                        ),
                        is_transient,
                    )
        return versioned


# --- candidates ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """Keys under ``prefix`` sorting after ``start_after`` (S3's StartAfter)."""

    prefix: str
    start_after: str = ""


def _day(d: date) -> str:
    return d.isoformat()


def candidate_scopes(requests: Sequence[PurgeRequest]) -> list[Scope]:
    """Where the requested tweets can be (see the module docstring)."""
    days = [r.creation_day() for r in requests]
    scopes: list[Scope] = []
    known = [d for d in days if d is not None]
    if len(known) < len(days):
        scopes += [Scope(RAW), Scope(CURATED)]
    elif known:
        # dt=unknown sorts after every date, so the curated listing reaches it too.
        since = f"dt={_day(min(known) - timedelta(days=1))}"
        scopes += [Scope(RAW, f"{RAW}{since}"), Scope(CURATED, f"{CURATED}{since}")]
    if requests:
        scopes += [Scope(QUARANTINE), Scope(ERRORS)]
    return scopes


# --- rewriting one object ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rewrite:
    """``body`` None: nothing is left, delete the object. ``held``: the ids it held."""

    body: bytes | None
    held: frozenset[str]


def _filter_lines(
    data: bytes, holds: Callable[[bytes], set[str]]
) -> tuple[list[bytes], frozenset[str]]:
    kept, held = [], set()
    for line in data.splitlines(keepends=True):
        found = holds(line.rstrip(b"\r\n")) if line.strip() else set()
        if found:
            held |= found
        else:
            kept.append(line)
    return kept, frozenset(held)


def rewrite_raw(body: bytes, pattern: IdMatcher) -> Rewrite | None:
    """A gzip JSON-lines object without the lines that hold a deleted tweet (None: keep).

    Only the lines where one of the object's ids occurs are parsed; every other line is
    copied as bytes, so the cost is the (de)compression, not one JSON parse per line.
    """
    data = gzip.decompress(body)
    present = pattern.found(data)
    if not present:
        return None
    narrow = id_pattern(present)  # the few ids this object names
    spans = set()
    for at in narrow.offsets(data):
        end = data.find(b"\n", at)
        spans.add((data.rfind(b"\n", 0, at) + 1, len(data) if end < 0 else end + 1))
    held: set[str] = set()
    parts, copied_to = [], 0
    for start, end in sorted(spans):
        found = envelope_holds(data[start:end].rstrip(b"\r\n"), narrow)
        if found:
            held |= found
            parts.append(data[copied_to:start])
            copied_to = end
    if not held:
        return None
    parts.append(data[copied_to:])
    kept = b"".join(parts)
    if not kept.strip():
        return Rewrite(None, frozenset(held))
    # Level 6 (zlib's default), not gzip's 9: about 3x faster for a few % more bytes.
    return Rewrite(gzip.compress(kept, compresslevel=6, mtime=0), frozenset(held))


def rewrite_entries(body: bytes, pattern: IdMatcher) -> Rewrite | None:
    """A quarantine or Firehose-error JSON-lines object without the entries naming an id."""
    kept, held = _filter_lines(body, lambda line: entry_holds(line, pattern))
    if not held:
        return None
    return Rewrite(b"".join(kept) if kept else None, held)


def rewrite_parquet(body: bytes, ids: frozenset[str]) -> Rewrite | None:
    """A Parquet object without the rows of deleted tweets, same schema and codec.

    pyarrow is imported here only: on AWS it comes from the purge function's layer
    (AWS SDK for pandas), never from requirements.txt, so the other functions stay lean.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise RuntimeError(
            "pyarrow is missing: the purge function needs the AWS SDK for pandas layer"
            " (.chalice/config.json, lambda_functions.purge.layers; python -m"
            " tweetlake_ops.chalice_config writes it from Terraform's purge_layer_arn)"
        ) from exc

    source = pq.ParquetFile(io.BytesIO(body))
    columns = [c for c in ROW_ID_COLUMNS if c in source.schema_arrow.names]
    if not columns:
        return None
    keys = source.read(columns=columns)
    wanted = pa.array(sorted(ids), type=pa.string())
    drop = None
    held: set[str] = set()
    for column in columns:
        values = keys.column(column).cast(pa.string())
        hits = pc.fill_null(pc.is_in(values, value_set=wanted), False)
        held |= {v for v in pc.filter(values, hits).to_pylist() if v is not None}
        drop = hits if drop is None else pc.or_(drop, hits)
    if not held:
        return None
    table = source.read()
    remaining = table.filter(pc.invert(drop))
    if remaining.num_rows == 0:
        return Rewrite(None, frozenset(held))
    metadata = source.metadata
    codec = (
        metadata.row_group(0).column(0).compression.lower()
        if metadata.num_row_groups and metadata.num_columns
        else "snappy"
    )
    sink = io.BytesIO()
    pq.write_table(remaining, sink, compression=codec)
    return Rewrite(sink.getvalue(), frozenset(held))


def rewrite_object(
    key: str, body: bytes, ids: frozenset[str], pattern: IdMatcher
) -> Rewrite | None:
    """The object without the deleted tweets, by its zone and format; None: unchanged."""
    if key.startswith(RAW) and key.endswith(".gz"):
        return rewrite_raw(body, pattern)
    if key.startswith(CURATED) and key.endswith(".parquet"):
        return rewrite_parquet(body, ids)
    if key.startswith((QUARANTINE, ERRORS)) and key.endswith(".jsonl"):
        return rewrite_entries(body, pattern)
    return None


# --- a run -----------------------------------------------------------------------------


@dataclass
class ScanResult:
    objects_scanned: int = 0
    bytes_scanned: int = 0
    objects_rewritten: int = 0
    objects_deleted: int = 0
    per_id: Counter[str] = field(default_factory=Counter)
    complete: bool = True
    #: Objects that could not be decoded (not gzip, not Parquet…): checked by nobody, so
    #: the run is not complete, but every other object is still purged.
    unreadable: list[str] = field(default_factory=list)


def scan_lake(
    stores: Iterable[ObjectStore],
    requests: Sequence[PurgeRequest],
    *,
    time_left: Callable[[], float] = lambda: 1.0,
) -> ScanResult:
    """Read every candidate object of every store and rewrite those holding a request's
    tweet; stops (``complete`` False) when ``time_left()`` reaches 0."""
    result = ScanResult()
    ids = frozenset(r.tweet_id for r in requests)
    pattern = id_pattern(ids)
    scopes = candidate_scopes(requests)
    for store in stores:
        seen: set[str] = set()
        for scope in scopes:
            for obj in store.list(scope.prefix, scope.start_after):
                if obj.key in seen:
                    continue
                if time_left() <= 0:
                    result.complete = False
                    return result
                seen.add(obj.key)
                _scan_one(store, obj, ids, pattern, result)
    return result


def _scan_one(
    store: ObjectStore,
    obj: LakeObject,
    ids: frozenset[str],
    pattern: IdMatcher,
    result: ScanResult,
) -> None:
    body = store.get(obj.key)
    result.objects_scanned += 1
    result.bytes_scanned += len(body)
    try:
        rewrite = rewrite_object(obj.key, body, ids, pattern)
    except (OSError, EOFError, zlib.error, ValueError) as exc:  # pyarrow's ArrowInvalid too
        result.unreadable.append(f"{obj.key}: {type(exc).__name__}: {exc}"[:300])
        result.complete = False
        return
    if rewrite is None:
        return
    if rewrite.body is None:
        store.delete(obj.key)
        result.objects_deleted += 1
    else:
        store.put(obj.key, rewrite.body)
    result.objects_rewritten += 1
    result.per_id.update(rewrite.held)


@dataclass(frozen=True)
class PurgeSummary:
    """What a run did; :meth:`metrics` is its EMF line's content."""

    requests: int
    purged: int
    pending: int
    oldest_pending_s: float
    work: ScanResult

    def metrics(self) -> dict[str, tuple[float, str]]:
        return {
            "PurgeRequestsPending": (self.pending, "Count"),
            "PurgeRequestsPurged": (self.purged, "Count"),
            "OldestPendingPurgeAgeSeconds": (self.oldest_pending_s, "Seconds"),
            "ObjectsScanned": (self.work.objects_scanned, "Count"),
            "ObjectsRewritten": (self.work.objects_rewritten, "Count"),
            "BytesScanned": (self.work.bytes_scanned, "Bytes"),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "purged": self.purged,
            "pending": self.pending,
            "oldest_pending_s": self.oldest_pending_s,
            "objects_scanned": self.work.objects_scanned,
            "objects_rewritten": self.work.objects_rewritten,
            "objects_deleted": self.work.objects_deleted,
            "bytes_scanned": self.work.bytes_scanned,
            "complete": self.work.complete,
            "unreadable": self.work.unreadable,
        }


def run_purge(
    dynamodb: Any,
    state_table: str,
    stores: Sequence[ObjectStore],
    *,
    now: Callable[[], datetime],
    settle_s: float,
    time_left: Callable[[], float] = lambda: 1.0,
    dimensions: dict[str, str] | None = None,
    sink: Callable[[str], None] = emf.stdout_line,
) -> PurgeSummary:
    """One scheduled run: pending requests → rewritten objects → requests marked purged,
    then one EMF line (``now`` is an aware UTC clock, injected for tests)."""
    requests = list(read_requests(dynamodb, state_table, pending_only=True))
    result = scan_lake(stores, requests, time_left=time_left) if requests else ScanResult()
    finished_at = now()
    settled_before = iso_utc(finished_at - timedelta(seconds=settle_s))
    purged: set[str] = set()
    if result.complete:
        stamp = iso_utc(finished_at)
        for request in requests:
            if request.requested_at <= settled_before and mark_purged(
                dynamodb, state_table, request, stamp, result.per_id[request.tweet_id]
            ):
                purged.add(request.tweet_id)
    ages = [
        (finished_at - parse_iso(r.requested_at)).total_seconds()
        for r in requests
        if r.tweet_id not in purged and r.requested_at
    ]
    summary = PurgeSummary(
        requests=len(requests),
        purged=len(purged),
        pending=len(requests) - len(purged),
        oldest_pending_s=max([0.0, *ages]),
        work=result,
    )
    document = emf.emf_document(
        summary.metrics(),
        dimensions or {},
        {
            "complete": result.complete,
            "objects_deleted": result.objects_deleted,
            "unreadable": result.unreadable[:20],
        },
    )
    emf.emit(document, sink)
    return summary


def summary_line(summary: PurgeSummary) -> str:
    """The run in one line for people (the CLI and the local mode's log)."""
    return json.dumps(summary.as_dict(), separators=(",", ":"), sort_keys=True)
