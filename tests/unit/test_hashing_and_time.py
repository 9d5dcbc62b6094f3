"""hash_line identity rules and time conversions (subtle: test first)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.dynamo.hashing import hash_line
from chalicelib.timeutil import (
    format_v1_created_at,
    iso_utc,
    normalize_iso,
    parse_v1_created_at,
)


def test_hash_line_is_deterministic_and_fixed_width() -> None:
    key = hash_line("1992345678901234567")
    assert key == hash_line("1992345678901234567")
    assert len(key) == 32
    assert int(key, 16) >= 0


def test_hash_line_pinned_value() -> None:
    # Pinned so a change of rule is a deliberate, versioned decision.
    assert hash_line("20") == "9e7e6aed6f7768c6d38b849eaf7511cf"
    # Leading zeros do not make another tweet.
    assert hash_line("020") == hash_line("20")


def test_neighbouring_ids_differ() -> None:
    assert hash_line("1992345678901234567") != hash_line("1992345678901234568")


@pytest.mark.parametrize("bad", ["", "12a", "-5", "1.0", "١٢٣"])
def test_hash_line_rejects_non_decimal_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="decimal digits"):
        hash_line(bad)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Wed Oct 10 20:19:24 +0000 2018", "2018-10-10T20:19:24.000Z"),
        ("Mon Nov 23 22:00:00 +0500 2026", "2026-11-23T17:00:00.000Z"),
        ("Thu Dec 31 23:30:00 -0100 2026", "2027-01-01T00:30:00.000Z"),
        ("Sat Dec 19 16:01:35 +0000 2009", "2009-12-19T16:01:35.000Z"),
    ],
)
def test_v1_created_at_to_utc(text: str, iso: str) -> None:
    assert parse_v1_created_at(text) == iso


@pytest.mark.parametrize("bad", ["2018-10-10", "Wed Foo 10 20:19:24 +0000 2018", ""])
def test_v1_created_at_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_v1_created_at(bad)


def test_iso_normalization() -> None:
    assert normalize_iso("2021-04-01T15:52:31.000Z") == "2021-04-01T15:52:31.000Z"
    assert normalize_iso("2026-11-24T08:04:00+02:00") == "2026-11-24T06:04:00.000Z"
    assert normalize_iso("2026-11-24T08:04:00.123456Z") == "2026-11-24T08:04:00.123Z"
    with pytest.raises(ValueError, match="without a timezone"):
        normalize_iso("2026-11-24T08:04:00")


def test_iso_utc_keeps_four_digit_years_and_truncates_to_milliseconds() -> None:
    assert iso_utc(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000Z"
    assert iso_utc(datetime(2026, 11, 24, 8, 4, 0, 999_999, tzinfo=UTC)) == (
        "2026-11-24T08:04:00.999Z"
    )
    with pytest.raises(ValueError, match="naive"):
        iso_utc(datetime(2026, 11, 24))


def test_v1_created_at_formats_in_english_whatever_the_locale_and_round_trips() -> None:
    when = datetime(2018, 10, 10, 20, 19, 24, tzinfo=UTC)
    assert format_v1_created_at(when) == "Wed Oct 10 20:19:24 +0000 2018"
    assert parse_v1_created_at(format_v1_created_at(when)) == "2018-10-10T20:19:24.000Z"
    with pytest.raises(ValueError, match="not an ISO-8601 time"):
        normalize_iso("yesterday")
