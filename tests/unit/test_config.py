"""A missing or malformed setting fails at start, naming the setting and the fix."""

from __future__ import annotations

import pytest

from chalicelib.config import ConfigError, get_settings, load_settings
from tweetlake_local.stage import stage_environment

GOOD = {**stage_environment("dev"), "AWS_REGION": "eu-west-1"}


def without(key: str) -> dict[str, str]:
    return {k: v for k, v in GOOD.items() if k != key}


def test_dev_stage_is_complete() -> None:
    settings = load_settings(GOOD)
    assert settings.stage == "dev"
    assert settings.region == "eu-west-1"
    assert settings.stream_name == "tweetlake-dev-tweets"
    assert settings.source == "synthetic"


def test_region_falls_back_to_default_region() -> None:
    env = {**without("AWS_REGION"), "AWS_DEFAULT_REGION": "us-west-2"}
    assert load_settings(env).region == "us-west-2"


@pytest.mark.parametrize(
    ("env", "variable", "hint"),
    [
        (
            without("TWEETLAKE_STREAM"),
            "TWEETLAKE_STREAM",
            "is not set: set it to the Kinesis stream",
        ),
        (
            {**GOOD, "TWEETLAKE_STREAM": "bad name!"},
            "TWEETLAKE_STREAM",
            "is malformed ('bad name!')",
        ),
        (without("TWEETLAKE_TWEETS_TABLE"), "TWEETLAKE_TWEETS_TABLE", "the tweets table"),
        ({**GOOD, "TWEETLAKE_AUTHORS_TABLE": "ab"}, "TWEETLAKE_AUTHORS_TABLE", "is malformed"),
        (without("TWEETLAKE_STATE_TABLE"), "TWEETLAKE_STATE_TABLE", "the state table"),
        ({**GOOD, "TWEETLAKE_LAKE_BUCKET": "Upper_Case"}, "TWEETLAKE_LAKE_BUCKET", "3-63 chars"),
        (without("AWS_REGION"), "AWS_REGION", "set AWS_REGION or AWS_DEFAULT_REGION"),
        ({**GOOD, "AWS_REGION": "mars"}, "AWS_REGION", "use a region like eu-west-1"),
        ({**GOOD, "TWEETLAKE_STAGE": "Prod!"}, "TWEETLAKE_STAGE", "lowercase letters"),
        (without("TWEETLAKE_STAGE"), "TWEETLAKE_STAGE", "is not set"),
        (
            {**GOOD, "TWEETLAKE_SOURCE": "firehose"},
            "TWEETLAKE_SOURCE",
            "is 'firehose': choose one of",
        ),
        (without("TWEETLAKE_SOURCE"), "TWEETLAKE_SOURCE", "is not set"),
    ],
)
def test_bad_setting_names_itself(env: dict[str, str], variable: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert info.value.variable == variable
    assert str(info.value).startswith(f"config: {variable} ")
    assert hint in str(info.value)


def test_get_settings_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GOOD.items():
        monkeypatch.setenv(key, value)
    assert get_settings().stream_name == "tweetlake-dev-tweets"
    monkeypatch.setenv("TWEETLAKE_STREAM", "other-stream")
    assert get_settings().stream_name == "other-stream"
    monkeypatch.delenv("TWEETLAKE_STREAM")
    with pytest.raises(ConfigError, match="TWEETLAKE_STREAM"):
        get_settings()


def test_unknown_stage_in_chalice_config_is_a_clear_error() -> None:
    with pytest.raises(SystemExit, match="stage 'nope' is not in"):
        stage_environment("nope")
