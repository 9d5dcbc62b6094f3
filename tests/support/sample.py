"""Seeded sample envelopes for the lake's tests and benchmarks.

The project has one fake tweet generator: the synthetic source
(:mod:`chalicelib.ingest.sources.synthetic`) with a seed. Its raw v1.1 and v2
lines go through the real ``normalize_line``, so the envelopes, and the ``raw``
field that makes up most of the raw zone's bytes, are what the pipeline carries;
only tweets are kept (its deletes and control lines are the stream's business).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count as counter
from typing import Any

from chalicelib.envelope.normalize import envelope_bytes, normalize_line
from chalicelib.ingest.sources.synthetic import SyntheticStream
from chalicelib.timeutil import iso_utc

INGESTED_AT = "2026-11-24T12:00:00.000Z"  # a fixed stamp: the lake tests never compare it with now


def sample_envelopes(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` tweet envelopes of the synthetic stream for ``seed`` (same on every machine)."""
    stream = SyntheticStream(seed)
    envelopes: list[dict[str, Any]] = []
    for _ in counter():
        if len(envelopes) == count:
            return envelopes
        for item in normalize_line(next(stream), source_api="synthetic", ingested_at=INGESTED_AT):
            if item.envelope is not None and item.envelope["kind"] == "tweet":
                envelopes.append(item.envelope)
                if len(envelopes) == count:
                    break
    return envelopes


def envelope_line(envelope: dict[str, Any]) -> bytes:
    """A Kinesis record's data, as the producer writes it."""
    return envelope_bytes(envelope)


def posted(envelopes: list[dict[str, Any]], last: datetime) -> list[dict[str, Any]]:
    """Copies of ``envelopes`` posted one second apart, the last one second before ``last``.

    The curated zone is partitioned by creation time, so a test of "the last 7 days"
    needs tweets posted in them, whatever today is (the sample's own times are fixed).
    """
    total = len(envelopes)
    return [
        envelope | {"created_at": iso_utc(last - timedelta(seconds=total - i))}
        for i, envelope in enumerate(envelopes)
    ]
