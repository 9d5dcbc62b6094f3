"""The purge function's entry point: ``app.purge_lake`` calls :func:`run_purge_lake`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib import aws
from chalicelib.config import PURGE_SAFETY_S, PURGE_SETTLE_S, get_settings
from chalicelib.purge.engine import S3Store, run_purge


def run_purge_lake(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Purge the stage's lake bucket of every pending request's tweet.

    Stops reading objects ``PURGE_SAFETY_S`` before Lambda's timeout (one large
    object's read and rewrite fits in that); what it rewrote stays rewritten and
    the next scheduled run finishes the rest.
    """
    settings = get_settings()
    store = S3Store(aws.client("s3", settings.region), settings.lake_bucket)

    def time_left() -> float:
        remaining: float = context.get_remaining_time_in_millis() / 1000
        return remaining - PURGE_SAFETY_S

    summary = run_purge(
        aws.client("dynamodb", settings.region),
        settings.state_table,
        [store],
        now=lambda: datetime.now(UTC),
        settle_s=PURGE_SETTLE_S,
        time_left=time_left,
        dimensions={"stage": settings.stage},
    )
    return summary.as_dict()
