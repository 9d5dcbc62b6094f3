"""Time parsing and formatting for the envelope.

Every time in an envelope is UTC ISO-8601 with milliseconds and a trailing
``Z``: Firehose's OpenX SerDe reads that form into Parquet timestamps and it
sorts lexically, which the DynamoDB sort keys rely on. Twitter's v1.1
``created_at`` (``Wed Oct 10 20:19:24 +0000 2018``) is parsed by hand rather
than with ``strptime`` because ``%a``/``%b`` follow the process locale.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_V1_RE = re.compile(
    r"^[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\d{1,2}) "  # weekday, month, day
    r"(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}) (\d{4})$"  # time, offset, year
)


def iso_utc(dt: datetime) -> str:
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: attach a timezone before formatting")
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso_utc(datetime.now(UTC))


def parse_v1_created_at(text: str) -> str:
    """``Wed Oct 10 20:19:24 +0000 2018`` → ``2018-10-10T20:19:24.000Z``."""
    match = _V1_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a v1.1 created_at: {text!r:.60}")
    mon, day, hh, mm, ss, sign, oh, om, year = match.groups()
    if mon not in _MONTHS:
        raise ValueError(f"unknown month {mon!r} in {text!r:.60}")
    offset = timedelta(hours=int(oh), minutes=int(om))
    tz = timezone(offset if sign == "+" else -offset)
    dt = datetime(int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), tzinfo=tz)
    return iso_utc(dt)


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 time with an offset or ``Z`` into an aware datetime."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if dt.tzinfo is None:
        raise ValueError(f"time without a timezone: {text!r:.60}")
    return dt


def normalize_iso(text: str) -> str:
    """Any ISO-8601 time with an offset → the envelope's canonical form."""
    return iso_utc(parse_iso(text))


def from_epoch_ms(ms: int | str) -> str:
    return iso_utc(datetime.fromtimestamp(int(ms) / 1000, tz=UTC))
