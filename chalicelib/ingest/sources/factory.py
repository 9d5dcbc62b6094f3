"""Build the source ``TWEETLAKE_SOURCE`` names.

One registry maps a source name to a builder taking a :class:`SourceContext`
(everything a source may need, built once per run). The live sources (``v2``,
``v1.1``) are built by :func:`chalicelib.ingest.sources.live.build_live_source`,
with the checkpoint (the v2 catch-up's ``since_id``) and the run's stop time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.config import ConfigError
from chalicelib.ingest.settings import IngestSettings
from chalicelib.ingest.sources.base import Source


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a source builder gets.

    ``checkpoint`` is the largest tweet id earlier runs put into the stream
    (None before the first run): a live source can resume or backfill after it
    (e.g. v2 recent search with ``since_id``); files and the generator ignore it.
    For ``bluesky`` it is the largest Jetstream ``time_us`` (µs) instead.
    ``client`` builds a cached boto3 client for a service (S3 for replay,
    Secrets Manager for credentials). ``deadline`` is when a live source must
    have stopped reading, on ``clock``'s scale; ``sleep`` is what its reconnect
    waits call (tests inject both).
    """

    settings: IngestSettings
    checkpoint: int | None
    client: Callable[[str], Any]
    deadline: float | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def _synthetic(ctx: SourceContext) -> Source:
    from chalicelib.ingest.sources.synthetic import SyntheticSource

    return SyntheticSource(
        ctx.settings.synthetic_seed,
        rate=ctx.settings.synthetic_rate,
        limit=ctx.settings.synthetic_limit,
    )


def _replay(ctx: SourceContext) -> Source:
    from chalicelib.ingest.sources.replay import ReplaySource

    uri = ctx.settings.replay_uri
    if not uri:
        raise ConfigError(
            "TWEETLAKE_REPLAY_URI",
            "is not set (TWEETLAKE_SOURCE is replay)",
            "set it to a JSON-lines file: s3://bucket/key or a local path",
        )
    return ReplaySource(uri, s3_client=lambda: ctx.client("s3"))


def _live(name: str) -> Callable[[SourceContext], Source]:
    def build(ctx: SourceContext) -> Source:
        from chalicelib.ingest.sources.credentials import SECRET_SETTING
        from chalicelib.ingest.sources.live import build_live_source

        secret = os.environ.get(SECRET_SETTING, "").strip()
        return build_live_source(
            name,
            since_id=str(ctx.checkpoint) if ctx.checkpoint is not None else None,
            deadline=ctx.deadline,
            clock=ctx.clock,
            sleep=ctx.sleep,
            secrets_client=ctx.client("secretsmanager") if secret else None,
        )

    return build


def _bluesky(ctx: SourceContext) -> Source:
    """Jetstream; ``checkpoint`` is the largest ``time_us`` an earlier run sent (µs)."""
    from chalicelib.ingest.sources.jetstream import JetstreamSource, load_jetstream_settings

    return JetstreamSource(
        load_jetstream_settings(os.environ),
        checkpoint_us=ctx.checkpoint,
        deadline=ctx.deadline,
        clock=ctx.clock,
        sleep=ctx.sleep,
    )


BUILDERS: dict[str, Callable[[SourceContext], Source]] = {
    "synthetic": _synthetic,
    "replay": _replay,
    "v2": _live("v2"),
    "v1.1": _live("v1.1"),
    "bluesky": _bluesky,
}


def build_source(name: str, ctx: SourceContext) -> Source:
    """The source called ``name`` (one of ``chalicelib.config.SOURCES``)."""
    builder = BUILDERS.get(name)
    if builder is None:
        raise ConfigError(
            "TWEETLAKE_SOURCE", f"is {name!r}", f"choose one of {', '.join(sorted(BUILDERS))}"
        )
    return builder(ctx)
