"""The compliance function's settings: X's limits bound them, a bad value names itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.compliance.settings import (
    MAX_IDS_PER_JOB,
    MIN_POLL_S,
    load_compliance_settings,
)
from chalicelib.config import COMPLIANCE_EVERY_MINUTES, ConfigError


def test_defaults_check_recent_hours_daily_and_older_ones_weekly_with_full_jobs() -> None:
    s = load_compliance_settings({})
    recent, older = s.tiers()
    assert (recent.younger_than, recent.every) == (timedelta(days=7), timedelta(days=1))
    assert (older.younger_than, older.every) == (None, timedelta(days=7))
    assert s.max_ids == MAX_IDS_PER_JOB == 100_000 and s.horizon_days == 90
    assert s.api_url == "https://api.x.com"


def test_hourly_jobs_keep_up_with_the_default_tiers_at_the_pay_per_use_cap() -> None:
    """One job at a time: the schedule is the throughput (docs/operations.md)."""
    s = load_compliance_settings({})
    per_day = 3_000_000 / 30.4
    due_per_day = per_day * (s.recent_days + (s.horizon_days - s.recent_days) / 7)
    capacity = 24 * 60 / COMPLIANCE_EVERY_MINUTES * s.max_ids
    assert due_per_day < 0.8 * capacity


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TWEETLAKE_COMPLIANCE_MAX_IDS", str(MAX_IDS_PER_JOB + 1)),  # beyond X's job size
        ("TWEETLAKE_COMPLIANCE_POLL_S", "5"),  # faster than 150 polls per 15 minutes
        ("TWEETLAKE_COMPLIANCE_HORIZON_DAYS", "0"),
        ("TWEETLAKE_COMPLIANCE_RECENT_DAYS", "120"),  # beyond the 90-day horizon
        ("TWEETLAKE_TWITTER_API_URL", "http://api.example.com"),  # a token in clear
    ],
)
def test_a_bad_setting_fails_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_compliance_settings({variable: value})
    assert raised.value.variable == variable
    assert MIN_POLL_S == 6
