"""Build a live source (``v2`` or ``v1.1``) from the environment: the composition root.

The ingest run's source factory calls :func:`build_live_source` with the
checkpoint it read and the run's stop time; tests call the source classes
directly with a loopback URL, a fake clock and a recording sleep.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.ingest.sources.credentials import load_credentials
from chalicelib.ingest.sources.http_stream import HttpStreamSource
from chalicelib.ingest.sources.live_settings import load_live_settings
from chalicelib.ingest.sources.v1_stream import V1StreamSource
from chalicelib.ingest.sources.v2_stream import V2StreamSource

LIVE_SOURCES = ("v2", "v1.1")


def build_live_source(
    source: str,
    *,
    since_id: str | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    env: Mapping[str, str] | None = None,
    secrets_client: Any = None,
) -> HttpStreamSource:
    """The configured live source; ``deadline`` is on ``clock``'s scale."""
    env = os.environ if env is None else env
    settings = load_live_settings(env, source)
    credentials = load_credentials(env, secrets_client)
    timing: dict[str, Any] = {"deadline": deadline, "clock": clock, "sleep": sleep}
    if source == "v2":
        return V2StreamSource(
            credentials.bearer(),
            api_url=settings.api_url,
            stream=settings.v2_stream,
            rules=list(settings.v2_rules) if settings.v2_stream == "filter" else None,
            since_id=since_id,
            catch_up_pages=settings.catch_up_pages,
            catch_up_delay_s=settings.catch_up_delay_s,
            backfill_minutes=settings.backfill_minutes,
            credential_label=f"bearer token ({credentials.describe(('bearer_token',))})",
            **timing,
        )
    if source == "v1.1":
        fields = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
        return V1StreamSource(
            *credentials.oauth1(),
            stream_url=settings.v1_stream_url,
            track=settings.v1_track,
            follow=settings.v1_follow,
            locations=settings.v1_locations,
            language=settings.v1_language,
            credential_label=f"OAuth 1.0a credentials ({credentials.describe(fields)})",
            **timing,
        )
    raise ValueError(f"not a live source: {source!r} (choose one of {LIVE_SOURCES})")
