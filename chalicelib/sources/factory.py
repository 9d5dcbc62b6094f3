"""Build the source ``TWEETLAKE_SOURCE`` names.

One registry maps a source name to a builder taking a :class:`SourceContext`
(everything a source may need, built once per run). The live sources (``v2``,
``v1.1``) plug in by replacing their entry in :data:`BUILDERS`; until then
they fail with a :class:`~chalicelib.config.ConfigError` that says so, on the
first tick after a deploy rather than somewhere inside a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.config import ConfigError
from chalicelib.ingest_settings import IngestSettings
from chalicelib.sources.base import Source


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a source builder gets.

    ``checkpoint`` is the largest tweet id earlier runs put into the stream
    (None before the first run): a live source can resume or backfill after it
    (e.g. v2 recent search with ``since_id``); files and the generator ignore it.
    ``client`` builds a cached boto3 client for a service (S3 for replay,
    Secrets Manager for credentials).
    """

    settings: IngestSettings
    checkpoint: int | None
    client: Callable[[str], Any]


def _synthetic(ctx: SourceContext) -> Source:
    from chalicelib.sources.synthetic import SyntheticSource

    return SyntheticSource(
        ctx.settings.synthetic_seed,
        rate=ctx.settings.synthetic_rate,
        limit=ctx.settings.synthetic_limit,
    )


def _replay(ctx: SourceContext) -> Source:
    from chalicelib.sources.replay import ReplaySource

    uri = ctx.settings.replay_uri
    if not uri:
        raise ConfigError(
            "TWEETLAKE_REPLAY_URI",
            "is not set (TWEETLAKE_SOURCE is replay)",
            "set it to a JSON-lines file: s3://bucket/key or a local path",
        )
    return ReplaySource(uri, s3_client=lambda: ctx.client("s3"))


def _not_available(name: str) -> Callable[[SourceContext], Source]:
    def build(ctx: SourceContext) -> Source:
        raise ConfigError(
            "TWEETLAKE_SOURCE",
            f"is {name!r}, whose live source is not available in this build yet",
            "use synthetic or replay for now",
        )

    return build


BUILDERS: dict[str, Callable[[SourceContext], Source]] = {
    "synthetic": _synthetic,
    "replay": _replay,
    "v2": _not_available("v2"),
    "v1.1": _not_available("v1.1"),
}


def build_source(name: str, ctx: SourceContext) -> Source:
    """The source called ``name`` (one of ``chalicelib.config.SOURCES``)."""
    builder = BUILDERS.get(name)
    if builder is None:
        raise ConfigError(
            "TWEETLAKE_SOURCE", f"is {name!r}", f"choose one of {', '.join(sorted(BUILDERS))}"
        )
    return builder(ctx)
