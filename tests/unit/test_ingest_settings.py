"""Optional ingest settings and the source factory fail with readable ConfigErrors."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.config import ConfigError
from chalicelib.envelope.normalize import normalize_line
from chalicelib.ingest.handler import encode_record
from chalicelib.ingest.settings import IngestSettings, load_ingest_settings
from chalicelib.ingest.sources.factory import SourceContext, build_source
from chalicelib.ingest.sources.replay import ReplaySource
from chalicelib.ingest.sources.synthetic import SyntheticSource
from tests.paths import own_lines


def test_defaults_leave_thirty_seconds() -> None:
    settings = load_ingest_settings({})
    assert settings == IngestSettings()
    assert settings.safety_margin_s >= 30


def test_values_are_parsed() -> None:
    settings = load_ingest_settings(
        {
            "TWEETLAKE_SAFETY_MARGIN_S": "45",
            "TWEETLAKE_PRODUCER_LINGER_S": "0.2",
            "TWEETLAKE_REPLAY_URI": "s3://bucket/replay/day.jsonl",
            "TWEETLAKE_SYNTHETIC_SEED": "9",
            "TWEETLAKE_SYNTHETIC_RATE": "0",
            "TWEETLAKE_SYNTHETIC_LIMIT": "1000",
            "TWEETLAKE_X_POST_BUDGET": "1000000",
        }
    )
    assert settings == IngestSettings(
        45.0, 0.2, "s3://bucket/replay/day.jsonl", 9, 0.0, 1000, 1_000_000
    )


def test_the_post_budget_defaults_to_the_pay_per_use_cap() -> None:
    assert load_ingest_settings({}).post_budget == 3_000_000


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TWEETLAKE_SAFETY_MARGIN_S", "soon"),
        ("TWEETLAKE_SAFETY_MARGIN_S", "-1"),
        ("TWEETLAKE_SAFETY_MARGIN_S", "nan"),
        ("TWEETLAKE_PRODUCER_LINGER_S", "600"),
        ("TWEETLAKE_SYNTHETIC_SEED", "1.5"),
        ("TWEETLAKE_SYNTHETIC_LIMIT", "-3"),
        ("TWEETLAKE_REPLAY_URI", "s3://bucket-only"),
        ("TWEETLAKE_X_POST_BUDGET", "3M"),
        ("TWEETLAKE_X_POST_BUDGET", "0"),
    ],
)
def test_malformed_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_ingest_settings({variable: value})
    assert info.value.variable == variable
    assert value in str(info.value)


def context(**settings: Any) -> SourceContext:
    def no_client(service: str) -> Any:
        raise AssertionError(f"no {service} client expected")

    return SourceContext(settings=IngestSettings(**settings), checkpoint=None, client=no_client)


def test_factory_builds_synthetic_and_replay() -> None:
    assert isinstance(build_source("synthetic", context()), SyntheticSource)
    assert isinstance(build_source("replay", context(replay_uri="/tmp/x.jsonl")), ReplaySource)


def test_replay_without_a_uri_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TWEETLAKE_REPLAY_URI is not set"):
        build_source("replay", context())


LIVE_ENV = {
    "TWITTER_BEARER_TOKEN": "b",
    "TWITTER_CONSUMER_KEY": "ck",
    "TWITTER_CONSUMER_SECRET": "cs",
    "TWITTER_ACCESS_TOKEN": "at",
    "TWITTER_ACCESS_TOKEN_SECRET": "ats",
    "TWEETLAKE_V2_RULES": '["lakes"]',
    "TWEETLAKE_V1_TRACK": "lakes",
}


@pytest.mark.parametrize(
    ("name", "missing"), [("v2", "TWEETLAKE_V2_RULES"), ("v1.1", "TWEETLAKE_V1_TRACK")]
)
def test_live_sources_without_their_settings_name_what_is_missing(
    name: str, missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in (*LIVE_ENV, "TWEETLAKE_TWITTER_SECRET"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConfigError) as info:
        build_source(name, context())
    assert info.value.variable == missing


@pytest.mark.parametrize("name", ["v2", "v1.1"])
def test_live_sources_get_the_checkpoint_and_the_deadline(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.ingest.sources.http_stream import HttpStreamSource

    monkeypatch.delenv("TWEETLAKE_TWITTER_SECRET", raising=False)
    for key, value in LIVE_ENV.items():
        monkeypatch.setenv(key, value)
    ctx = SourceContext(
        settings=IngestSettings(), checkpoint=42, client=context().client, deadline=123.0
    )
    source = build_source(name, ctx)
    assert isinstance(source, HttpStreamSource) and source.source_api == name
    assert source.deadline.at == 123.0
    assert getattr(source, "since_id", "42") == "42"


def test_records_are_newline_terminated_json_keyed_by_author() -> None:
    (tweet,) = normalize_line(own_lines("v1_statuses.jsonl")[0])
    assert tweet.envelope is not None
    data, key, tweet_id = encode_record(tweet.envelope)
    assert data.endswith(b"}\n") and data.count(b"\n") == 1
    assert key == "1800000000000000001"
    assert tweet_id == 1992345678901234567
    (compliance,) = normalize_line(own_lines("v2_compliance.jsonl")[1])
    assert compliance.envelope is not None
    _, key, tweet_id = encode_record(compliance.envelope)
    assert key == "1992360000000000001" and tweet_id is None  # no author: the tweet id
