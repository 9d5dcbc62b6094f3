"""Credentials (never printed, named when refused) and the live sources' settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.config import ConfigError
from chalicelib.ingest.sources.catchup import CatchUp, tweet_time
from chalicelib.ingest.sources.credentials import (
    CredentialRejectedError,
    Secret,
    load_credentials,
)
from chalicelib.ingest.sources.live_settings import load_live_settings
from chalicelib.ingest.sources.rules import ActiveRule, Rule, parse_rules

ENV = {
    "TWITTER_BEARER_TOKEN": "AAAA-bearer-value",
    "TWITTER_CONSUMER_KEY": "ck-value",
    "TWITTER_CONSUMER_SECRET": "cs-value",
    "TWITTER_ACCESS_TOKEN": "at-value",
    "TWITTER_ACCESS_TOKEN_SECRET": "ats-value",
}


class FakeSecretsManager:
    """The one call the loader makes, answering like boto3 does."""

    def __init__(self, secret: str | None) -> None:
        self.secret = secret
        self.asked: list[str] = []

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.asked.append(SecretId)
        if self.secret is None:
            error = RuntimeError("not found")
            error.response = {"Error": {"Code": "ResourceNotFoundException"}}  # type: ignore[attr-defined]
            raise error
        return {"SecretString": self.secret}


def test_environment_credentials_never_print_their_values() -> None:
    creds = load_credentials(ENV)
    bearer = creds.bearer()
    assert bearer.reveal() == "AAAA-bearer-value"
    shown = f"{bearer} {bearer!r} {creds} {creds.oauth1()}"
    assert not any(value in shown for value in ENV.values())


def test_a_missing_credential_names_the_variable_to_set() -> None:
    with pytest.raises(ConfigError) as err:
        load_credentials({"TWITTER_BEARER_TOKEN": "x"}).oauth1()
    assert err.value.variable == "TWITTER_CONSUMER_KEY"
    assert "TWITTER_ACCESS_TOKEN_SECRET" in str(err.value)


def test_secrets_manager_is_used_when_the_secret_setting_is_set() -> None:
    sm = FakeSecretsManager(json.dumps({"bearer_token": "from-sm"}))
    creds = load_credentials({"TWEETLAKE_TWITTER_SECRET": "tweetlake/dev/twitter", **ENV}, sm)
    assert sm.asked == ["tweetlake/dev/twitter"]
    assert creds.bearer() == Secret("from-sm")
    assert "tweetlake/dev/twitter" in creds.describe(("bearer_token",))
    with pytest.raises(ConfigError, match="consumer_key"):
        creds.oauth1()


@pytest.mark.parametrize("secret", [None, "not json", "[1]"])
def test_an_unreadable_secret_is_a_config_error(secret: str | None) -> None:
    with pytest.raises(ConfigError) as err:
        load_credentials({"TWEETLAKE_TWITTER_SECRET": "s"}, FakeSecretsManager(secret))
    assert err.value.variable == "TWEETLAKE_TWITTER_SECRET"


def test_a_refused_credential_is_named_not_shown() -> None:
    creds = load_credentials(ENV)
    label = f"bearer token ({creds.describe(('bearer_token',))})"
    error = CredentialRejectedError(label, 401, "Unauthorized")
    assert "TWITTER_BEARER_TOKEN" in str(error) and "401" in str(error)
    assert "AAAA-bearer-value" not in str(error)


def test_v2_settings_need_rules_and_default_to_the_official_host() -> None:
    with pytest.raises(ConfigError) as err:
        load_live_settings({}, "v2")
    assert err.value.variable == "TWEETLAKE_V2_RULES"
    settings = load_live_settings(
        {"TWEETLAKE_V2_RULES": '["lakes", {"value": "x", "tag": "t"}]'}, "v2"
    )
    assert settings.api_url == "https://api.x.com"
    assert settings.v2_rules == (Rule("lakes"), Rule("x", "t"))
    assert load_live_settings({"TWEETLAKE_V2_STREAM": "sample"}, "v2").v2_rules == ()


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.example.com", True),
        ("http://127.0.0.1:8123", True),
        ("http://api.example.com", False),
        ("ftp://x", False),
    ],
)
def test_base_urls_must_be_https_or_loopback(url: str, ok: bool) -> None:
    env = {"TWEETLAKE_V2_STREAM": "sample", "TWEETLAKE_TWITTER_API_URL": url}
    if ok:
        assert load_live_settings(env, "v2").api_url == url
    else:
        with pytest.raises(ConfigError, match="TWEETLAKE_TWITTER_API_URL"):
            load_live_settings(env, "v2")


def test_v1_needs_a_filter() -> None:
    with pytest.raises(ConfigError, match="TWEETLAKE_V1_TRACK"):
        load_live_settings({}, "v1.1")
    assert load_live_settings({"TWEETLAKE_V1_TRACK": "lakes"}, "v1.1").v1_track == "lakes"


@pytest.mark.parametrize("text", ["", "{", "[]", '[{"tag": "no value"}]', '["a", "a"]'])
def test_bad_rule_settings_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_rules(text)


def test_snowflake_ids_carry_their_creation_time() -> None:
    # A snowflake id is (ms since 2010-11-04T01:42:54.657Z) << 22 | worker | sequence.
    when = datetime(2026, 11, 24, 6, 0, 1, 500000, UTC)
    ms_since_epoch = int(when.timestamp() * 1000) - 1288834974657
    assert tweet_time(str(ms_since_epoch << 22 | 0x3FFFFF)) == when
    assert tweet_time("6832060001") is None  # 2009, before snowflake ids


class RefusingRest:
    def call(self, *args: object, **kwargs: object) -> dict[str, Any]:
        raise AssertionError("no search may be attempted")


def test_a_checkpoint_older_than_seven_days_is_reported_not_attempted() -> None:
    catch_up = CatchUp(
        rest=RefusingRest(),  # type: ignore[arg-type]
        rules=[ActiveRule("1", "lakes", None)],
        since_id="1992360000000000001",  # 2025-11-23
        fields={},
        now=lambda: datetime(2025, 12, 1, tzinfo=UTC),
    )
    assert list(catch_up.lines()) == []
    assert catch_up.report.status == "too_old"
    assert "7 days" in catch_up.report.detail
