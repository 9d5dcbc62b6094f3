"""Run-time configuration, read from environment variables when first needed.

Chalice sets a stage's ``environment_variables`` (``.chalice/config.json``)
before Lambda imports the app, but ``chalice.test.Client`` sets them only for
the duration of each call, so nothing here runs at import: handlers call
:func:`get_settings`. A missing or malformed setting raises
:class:`ConfigError` naming the variable and what to put there, so a bad deploy
fails on its first invocation with a readable message instead of an AWS error
three calls later.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

SOURCES = ("synthetic", "replay", "v2", "v1.1", "bluesky")

# The functions' triggers, declared on app.py's decorators and read from here by
# the local mode's poller and scheduler and by the cost model, so none can drift.
INGEST_EVERY_MINUTES = 10
# No batching window: Lambda already polls each shard about once a second, so a
# batch gathers ~1 s of records; a window only adds latency (bench.local:
# freshness p99 about 1 s with none, 2.2 s with 1 s, 6.9 s with 5 s).
CONSUMER_BATCH_SIZE = 500
CONSUMER_BATCHING_WINDOW_S = 0
# X batch compliance: one job at a time (X's limit), so the schedule sets the
# rotation's throughput: 24 jobs a day of up to 100,000 ids (chalicelib.compliance.handler).
COMPLIANCE_EVERY_MINUTES = 60

# The lake purge (chalicelib.purge): every 6 hours, so a delete leaves every object of
# the lake within X's 24 hours even after a failed run or two (hourly runs cost 6x the
# reads and rewrites: docs/cost.md). A request is marked
# purged only once it is PURGE_SETTLE_S old: Firehose buffers up to 900 s, so a copy
# of the tweet still in a buffer lands before the run that marks it. A run stops
# reading PURGE_SAFETY_S before its timeout. The alarm (terraform/alarms.tf) fires at
# PURGE_MAX_AGE_S.
PURGE_EVERY_MINUTES = 360
PURGE_SETTLE_S = 900 + 300
PURGE_SAFETY_S = 60
PURGE_MAX_AGE_S = 24 * 3600

_STAGE_RE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_STREAM_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
_TABLE_RE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_FIREHOSE_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""

    def __init__(self, variable: str, problem: str, fix: str) -> None:
        self.variable = variable
        super().__init__(f"config: {variable} {problem}: {fix}")


@dataclass(frozen=True, slots=True)
class Settings:
    stage: str
    region: str
    stream_name: str
    tweets_table: str
    authors_table: str
    state_table: str
    lake_bucket: str
    source: str
    #: The Direct PUT Firehose the consumer publishes accepted rows to (None: no lake).
    curated_firehose: str | None = None


# (variable, pattern, what to put there). The convention the names follow is
# tweetlake-<stage>-<thing>; Terraform outputs the real names (terraform/outputs.tf).
_NAMES: tuple[tuple[str, str, re.Pattern[str], str], ...] = (
    (
        "stream_name",
        "TWEETLAKE_STREAM",
        _STREAM_RE,
        "the Kinesis stream name, e.g. tweetlake-dev-tweets",
    ),
    (
        "tweets_table",
        "TWEETLAKE_TWEETS_TABLE",
        _TABLE_RE,
        "the tweets table, e.g. tweetlake-dev-tweets",
    ),
    (
        "authors_table",
        "TWEETLAKE_AUTHORS_TABLE",
        _TABLE_RE,
        "the authors table, e.g. tweetlake-dev-authors",
    ),
    (
        "state_table",
        "TWEETLAKE_STATE_TABLE",
        _TABLE_RE,
        "the state table, e.g. tweetlake-dev-state",
    ),
    (
        "lake_bucket",
        "TWEETLAKE_LAKE_BUCKET",
        _BUCKET_RE,
        "the lake bucket (3-63 chars: a-z 0-9 . -)",
    ),
)


def _required(env: Mapping[str, str], variable: str, pattern: re.Pattern[str], fix: str) -> str:
    value = env.get(variable, "").strip()
    if not value:
        raise ConfigError(variable, "is not set", f"set it to {fix}")
    if not pattern.match(value):
        raise ConfigError(variable, f"is malformed ({value!r})", f"set it to {fix}")
    return value


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build and check settings from an environment mapping (pure: tests pass dicts)."""
    stage = _required(
        env,
        "TWEETLAKE_STAGE",
        _STAGE_RE,
        "the stage name: lowercase letters, digits, '-' (e.g. dev)",
    )
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
    if not region:
        raise ConfigError(
            "AWS_REGION", "is not set", "set AWS_REGION or AWS_DEFAULT_REGION, e.g. us-east-1"
        )
    if not _REGION_RE.match(region):
        raise ConfigError("AWS_REGION", f"is malformed ({region!r})", "use a region like eu-west-1")
    names = {attr: _required(env, var, pattern, fix) for attr, var, pattern, fix in _NAMES}
    source = env.get("TWEETLAKE_SOURCE", "").strip()
    if source not in SOURCES:
        raise ConfigError(
            "TWEETLAKE_SOURCE",
            "is not set" if not source else f"is {source!r}",
            f"choose one of {', '.join(SOURCES)}",
        )
    return Settings(
        stage=stage,
        region=region,
        source=source,
        curated_firehose=_optional(
            env,
            "TWEETLAKE_CURATED_FIREHOSE",
            _FIREHOSE_RE,
            "the curated Firehose delivery stream, e.g. tweetlake-dev-curated (or unset: no lake)",
        ),
        **names,
    )


def _optional(
    env: Mapping[str, str], variable: str, pattern: re.Pattern[str], fix: str
) -> str | None:
    """An optional name: None when unset, ConfigError when set but malformed."""
    if not env.get(variable, "").strip():
        return None
    return _required(env, variable, pattern, fix)


_WATCHED = (
    "TWEETLAKE_STAGE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "TWEETLAKE_SOURCE",
    "TWEETLAKE_CURATED_FIREHOSE",
    *(var for _, var, _, _ in _NAMES),
)
_cache: dict[tuple[str | None, ...], Settings] = {}


def get_settings() -> Settings:
    """Settings for the current process environment, parsed once per distinct value set."""
    key = tuple(os.environ.get(v) for v in _WATCHED)
    settings = _cache.get(key)
    if settings is None:
        settings = _cache[key] = load_settings(os.environ)
    return settings


def trigger_stream_name() -> str:
    """Stream the consumer's event source mapping reads, needed at import time.

    The decorator argument is fixed when Chalice loads the app; ``chalice
    deploy --stage S`` and ``chalice local`` load it with stage S's
    ``environment_variables`` already in ``os.environ``, so this reads the same
    ``TWEETLAKE_STREAM`` the handlers use. The fallback only serves tools that
    import ``app`` outside any stage (linters, a bare ``python -c``).
    """
    return os.environ.get("TWEETLAKE_STREAM") or "tweetlake-dev-tweets"


def env_number(
    env: Mapping[str, str], variable: str, default: float, low: float, high: float
) -> float:
    """An optional numeric setting: ``default`` when unset, ConfigError when out of range."""
    text = env.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(
            variable, f"is malformed ({text!r})", f"use a number from {low:g} to {high:g}"
        )
    return value


def env_integer(env: Mapping[str, str], variable: str, default: int, low: int, high: int) -> int:
    text = env.get(variable, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ConfigError(
            variable, f"is malformed ({text!r})", f"use a whole number from {low} to {high}"
        )
    return value


# Who may call the data routes of a deployed stage: "iam" (SigV4-signed requests by
# principals granted execute-api:Invoke; the default) or "public" (anyone).
API_ACCESS_VARIABLE = "TWEETLAKE_API_ACCESS"
API_ACCESS = ("iam", "public")


def api_access(env: Mapping[str, str]) -> str:
    """Access mode of the data routes, needed at import time like the trigger's stream.

    API Gateway fixes a method's authorization when the app is deployed, so
    ``app.py`` decides it while Chalice loads the app with the stage's
    environment variables (see :func:`trigger_stream_name`). Unset means
    private: a stage is public only when someone wrote so.
    """
    value = env.get(API_ACCESS_VARIABLE, "").strip() or "iam"
    if value not in API_ACCESS:
        raise ConfigError(
            API_ACCESS_VARIABLE,
            f"is malformed ({value!r})",
            "use iam (callers sign with SigV4; the default) or public (anyone may read,"
            " see docs/api.md on what X's terms then allow)",
        )
    return value
