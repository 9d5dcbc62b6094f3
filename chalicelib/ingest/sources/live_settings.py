"""Settings only the live sources read (kept apart from chalicelib.config's core set).

Everything has a default except what a live source cannot guess (the v2
rules, the v1.1 filter). Base URLs default to X's official hosts and may point
at any compatible endpoint, but only over HTTPS, or plain HTTP to this machine
(the loopback test server), so a token never crosses a network in clear.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.config import ConfigError, env_integer
from chalicelib.ingest.sources.rules import RULES_SETTING, Rule, parse_rules
from chalicelib.ingest.sources.v2_rest import DEFAULT_API_URL

DEFAULT_V1_STREAM_URL = "https://stream.twitter.com"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LiveSettings:
    api_url: str = DEFAULT_API_URL
    v1_stream_url: str = DEFAULT_V1_STREAM_URL
    v2_stream: str = "filter"
    v2_rules: tuple[Rule, ...] = ()
    backfill_minutes: int = 0
    v1_track: str = ""
    v1_follow: str = ""
    v1_locations: str = ""
    v1_language: str = ""
    catch_up_pages: int = 10
    catch_up_delay_s: float = 15.0


def _url(env: Mapping[str, str], variable: str, default: str) -> str:
    value = env.get(variable, "").strip().rstrip("/") or default
    parts = urlsplit(value)
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    )
    if not parts.hostname or not secure:
        raise ConfigError(
            variable,
            f"is not an https:// URL ({value!r})",
            f"use https://host (default {default}); plain http only to 127.0.0.1",
        )
    return value


def load_api_url(env: Mapping[str, str]) -> str:
    """X's API base URL (``TWEETLAKE_TWITTER_API_URL``): the live sources' and compliance's."""
    return _url(env, "TWEETLAKE_TWITTER_API_URL", DEFAULT_API_URL)


def load_live_settings(env: Mapping[str, str], source: str) -> LiveSettings:
    """Settings for ``source`` (``v2`` or ``v1.1``); checks only what that source uses."""
    stream = env.get("TWEETLAKE_V2_STREAM", "").strip() or "filter"
    if stream not in ("filter", "sample"):
        raise ConfigError("TWEETLAKE_V2_STREAM", f"is {stream!r}", "use filter or sample")
    rules: tuple[Rule, ...] = ()
    if source == "v2" and stream == "filter":
        text = env.get(RULES_SETTING, "").strip()
        if not text:
            raise ConfigError(
                RULES_SETTING,
                "is not set (the v2 filtered stream needs rules)",
                'set it to e.g. [{"value": "lakes lang:en -is:retweet", "tag": "lakes"}]',
            )
        rules = tuple(parse_rules(text))
    track, follow, locations = (
        env.get(f"TWEETLAKE_V1_{name}", "").strip() for name in ("TRACK", "FOLLOW", "LOCATIONS")
    )
    if source == "v1.1" and not (track or follow or locations):
        raise ConfigError(
            "TWEETLAKE_V1_TRACK",
            "is not set (nor TWEETLAKE_V1_FOLLOW / TWEETLAKE_V1_LOCATIONS)",
            "give statuses/filter at least one of them, e.g. TWEETLAKE_V1_TRACK=lakes,rivers",
        )
    delay = env_integer(env, "TWEETLAKE_CATCHUP_DELAY_S", 15, 0, 300)
    return LiveSettings(
        api_url=load_api_url(env),
        v1_stream_url=_url(env, "TWEETLAKE_TWITTER_STREAM_URL", DEFAULT_V1_STREAM_URL),
        v2_stream=stream,
        v2_rules=rules,
        backfill_minutes=env_integer(env, "TWEETLAKE_V2_BACKFILL_MINUTES", 0, 0, 5),
        v1_track=track,
        v1_follow=follow,
        v1_locations=locations,
        v1_language=env.get("TWEETLAKE_V1_LANGUAGE", "").strip(),
        catch_up_pages=env_integer(env, "TWEETLAKE_CATCHUP_MAX_PAGES", 10, 0, 1000),
        catch_up_delay_s=float(delay),
    )
