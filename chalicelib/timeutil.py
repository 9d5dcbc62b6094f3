"""Time parsing and formatting: the one home of every time format tweetlake reads or writes.

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
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (milliseconds truncated).

    ``isoformat``, not ``strftime``: ``%Y`` drops the zero padding of years before
    1000 on Linux, and the sort keys rely on fixed-width text.
    """
    if dt.tzinfo is None:
        raise ValueError("naive datetime: attach a timezone before formatting")
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso_utc(datetime.now(UTC))


def format_v1_created_at(dt: datetime) -> str:
    """An aware datetime → v1.1's ``Wed Oct 10 20:19:24 +0000 2018`` in any locale."""
    dt = dt.astimezone(UTC)
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[dt.weekday()]
    month = list(_MONTHS)[dt.month - 1]
    return f"{weekday} {month} {dt.day:02d} {dt:%H:%M:%S} +0000 {dt.year:04d}"


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
    """Parse an ISO-8601 time with an offset or ``Z`` into an aware datetime.

    A time without a zone is refused: guessing the machine's zone would shift it.
    """
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r:.60} is not an ISO-8601 time") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"time without a timezone: {text!r:.60}")
    return dt


def normalize_iso(text: str) -> str:
    """Any ISO-8601 time with an offset → the envelope's canonical form."""
    return iso_utc(parse_iso(text))


def from_epoch_ms(ms: int | str) -> str:
    return iso_utc(datetime.fromtimestamp(int(ms) / 1000, tz=UTC))


#: X's Snowflake epoch (2010-11-04T01:42:54.657Z) and the first Snowflake tweet id:
#: older ids are sequential and carry no time.
SNOWFLAKE_EPOCH_MS = 1288834974657
FIRST_SNOWFLAKE_ID = 29_700_859_247


def snowflake_time(tweet_id: str) -> str | None:
    """When a Snowflake id was minted: ``(id >> 22) + 1288834974657`` ms; None for older ids."""
    value = int(tweet_id)
    if value < FIRST_SNOWFLAKE_ID:
        return None
    return from_epoch_ms((value >> 22) + SNOWFLAKE_EPOCH_MS)
