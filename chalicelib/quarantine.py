"""The quarantine: where records that cannot be stored go, with their reason.

Producer and consumer share one layout so an operator re-drives both the same
way: ``s3://<bucket>/quarantine/dt=YYYY-MM-DD/<origin>-<batch key>.jsonl``,
one object per batch, one JSON line per record with the reason, where it came
from (shard, sequence number, arrival time) and the raw bytes in base64. The
object key is derived from the batch itself, so a retried batch overwrites its
own object instead of writing a second copy.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

_SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    reason: str
    data: bytes
    shard_id: str | None = None
    sequence_number: str | None = None
    approximate_arrival: str | None = None
    #: The ingest source's ``source_api`` (``replay``, ``synthetic``…) for producer
    #: entries, so a re-drive normalizes the line as the run would have.
    source_api: str | None = None

    def to_line(self) -> str:
        record: dict[str, Any] = asdict(self)
        record["data_b64"] = base64.b64encode(record.pop("data")).decode("ascii")
        if record["source_api"] is None:
            del record["source_api"]
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def quarantine_key(origin: str, day: str, batch_key: str) -> str:
    """``quarantine/dt=<day>/<origin>-<batch_key>.jsonl``; ``day`` is ``YYYY-MM-DD``."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise ValueError(f"day must be YYYY-MM-DD, got {day!r}")
    return f"quarantine/dt={day}/{_SAFE.sub('_', origin)}-{_SAFE.sub('_', batch_key)}.jsonl"


def write_quarantine(
    s3: Any,
    bucket: str,
    origin: str,
    day: str,
    batch_key: str,
    entries: Sequence[QuarantineEntry],
) -> str | None:
    """Write one object holding ``entries``; returns its key (None when nothing to write)."""
    if not entries:
        return None
    key = quarantine_key(origin, day, batch_key)
    body = "".join(entry.to_line() for entry in entries).encode("utf-8")
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")
    return key
