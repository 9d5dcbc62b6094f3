"""Parsing and checking of path and query parameters.

Everything a client sends is checked here before it reaches DynamoDB, and every
refusal is a 400 that names the parameter and what to send instead. Unknown
and repeated query parameters are refused too: a typo such as ``limt=5``
silently answered with 20 tweets is worse than a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.api.errors import bad_request
from chalicelib.ids import is_did, is_post_id, is_x_id
from chalicelib.timeutil import iso_utc

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Longest value accepted for any query parameter: cursors are ~300 characters.
MAX_PARAM_CHARS = 1024
_DATE_ONLY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
# RFC 3339 allows a leap second (23:59:60); Python's datetime does not.
_LEAP_SECOND_RE = re.compile(r"(?<=[Tt ]\d{2}:\d{2}:)60")
_MS = timedelta(milliseconds=1)
_COLON_ESCAPE = re.compile("%3A", re.IGNORECASE)


def check_id(value: str, what: str) -> str:
    """A tweet or user id: 1-20 ASCII digits (X), or a Bluesky post id
    (``<DID>:<rkey>``) for a tweet, a DID for a user. Each family is checked by its
    own pattern (:mod:`chalicelib.ids`).

    Returned with ``%3A`` read as ``:``: clients may escape a DID's colons in a path,
    and the path parameter arrives as sent. No other escape is read (``/tweets/%31``
    stays a bad id: an id is sent as its plain characters).
    """
    value = _COLON_ESCAPE.sub(":", value)
    bluesky = is_post_id if what == "tweet" else is_did
    if not (is_x_id(value) or bluesky(value)):
        example = "a DID:rkey" if what == "tweet" else "a DID"
        raise bad_request(
            f"invalid_{what}_id",
            f"{what} id must be 1-20 digits (X ids are decimal strings) or {example}"
            f" (Bluesky), got {value[:40]!r}",
        )
    return value


def query_values(query_params: Any) -> dict[str, list[str]]:
    """Chalice's ``MultiDict`` of query parameters (or None) as name -> all values."""
    if not query_params:
        return {}
    if hasattr(query_params, "getlist"):
        return {name: list(query_params.getlist(name)) for name in query_params}
    return {name: [value] for name, value in dict(query_params).items()}


def single_values(values: Mapping[str, list[str]], allowed: Iterable[str]) -> dict[str, str]:
    """One value per parameter, refusing unknown, repeated and oversized ones."""
    allowed = tuple(allowed)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise bad_request(
            "unknown_parameter",
            f"unknown query parameter {unknown[0][:40]!r}: this route takes "
            + (", ".join(allowed) if allowed else "no query parameters"),
        )
    result: dict[str, str] = {}
    for name, given in values.items():
        if len(given) != 1:
            raise bad_request("repeated_parameter", f"give {name} once, not {len(given)} times")
        if len(given[0]) > MAX_PARAM_CHARS:
            raise bad_request("invalid_parameter", f"{name} is longer than {MAX_PARAM_CHARS}")
        result[name] = given[0]
    return result


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= MAX_LIMIT:
        raise bad_request(
            "invalid_limit",
            f"limit must be a whole number from 1 to {MAX_LIMIT}, got {value[:20]!r}",
        )
    return int(value)


def parse_time(value: str, name: str) -> datetime:
    """An ISO-8601 time with ``Z`` or an offset, or a bare date (midnight UTC).

    Rounded up to the next millisecond, the precision of stored times, so a
    bound never admits a tweet just outside it.
    """
    fix = f"{name} must be ISO-8601 with a timezone, e.g. 2026-11-24T06:00:00Z or 2026-11-24"
    try:
        if _DATE_ONLY_RE.fullmatch(value):
            parsed = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        else:
            text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
            text, leap = _LEAP_SECOND_RE.subn("59", text, count=1)
            parsed = datetime.fromisoformat(text) + timedelta(seconds=leap)
    except (ValueError, OverflowError):
        raise bad_request("invalid_time", f"{fix}; got {value[:40]!r}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise bad_request("invalid_time", f"{fix}; {value[:40]!r} has no timezone")
    try:
        parsed = parsed.astimezone(UTC)
        if parsed.microsecond % 1000:
            parsed += timedelta(microseconds=1000 - parsed.microsecond % 1000)
        # Key bounds are built from parsed - 1 ms: that must stay in range too.
        _ = parsed - _MS
    except OverflowError:
        raise bad_request("invalid_time", f"{name} is out of range; got {value[:40]!r}") from None
    return parsed


@dataclass(frozen=True, slots=True)
class Window:
    """A time window ``since <= created_at < until`` in canonical text (either open)."""

    since: str | None = None
    until: str | None = None


def parse_window(params: Mapping[str, str]) -> Window:
    since = parse_time(params["since"], "since") if "since" in params else None
    until = parse_time(params["until"], "until") if "until" in params else None
    if since is not None and until is not None and since >= until:
        raise bad_request("invalid_time", "since must be earlier than until")
    return Window(
        since=iso_utc(since) if since is not None else None,
        until=iso_utc(until) if until is not None else None,
    )
