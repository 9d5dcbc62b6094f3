"""The scheduled ingest run: source → envelopes → Kinesis.

Filled in by the ingestion work (issue 4); today it checks configuration so a
deploy with a bad stage fails on its first tick with a readable message.
"""

from __future__ import annotations

from typing import Any

from chalicelib.config import get_settings


def run_ingest(event: Any, context: Any) -> dict[str, Any]:
    """One scheduled run; returns the run summary."""
    get_settings()
    return {
        "received": 0,
        "sent": 0,
        "control": 0,
        "quarantined": 0,
        "reconnects": 0,
        "duration_s": 0.0,
    }
