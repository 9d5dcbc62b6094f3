"""Bounds in the sort-key space of the tweet indexes.

``created_key`` is ``<created_at>#<tweet id, 20 digits>`` for X and
``<created_at>#<DID>:<rkey>`` for Bluesky (see :mod:`chalicelib.dynamo.items`): the
time is fixed width, so string order is time order. Every
listing is a DynamoDB key condition ``created_key BETWEEN low AND high`` (or
``<= high``): ``low`` is the ``since`` time (inclusive, a prefix of every key at
that millisecond) and ``high`` is an inclusive key bound. Expressing
"strictly before" as the greatest key below a key keeps each page one key
condition, with nothing read and thrown away.
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.timeutil import iso_utc, parse_iso

#: Above every id suffix: digits and the characters of a DID:rkey all sort below "~".
ABOVE_IDS = "~"
TOP = f"9999-12-31T23:59:59.999Z#{ABOVE_IDS}"
_MS = timedelta(milliseconds=1)


def _key_just_before_time(text: str) -> str | None:
    """Greatest key whose time is earlier than the canonical time ``text``."""
    try:
        return f"{iso_utc(parse_iso(text) - _MS)}#{ABOVE_IDS}"
    except OverflowError:
        return None


def high_for_until(until: str | None) -> str:
    """Inclusive upper key for ``created_at < until``."""
    if until is None:
        return TOP
    return _key_just_before_time(until) or ""


def key_before(key: str) -> str | None:
    """An inclusive bound just below ``key``: no stored key lies between the two.

    An X key steps its id down by one; a Bluesky key steps its last character
    down and appends ``~``, above any character an id holds, so every key that
    sorts below ``key`` still sorts at or below the bound. None when nothing can
    sort before ``key``.
    """
    time_part, tweet_id = key.split("#")
    if not tweet_id.isdigit():
        return f"{time_part}#{tweet_id[:-1]}{chr(ord(tweet_id[-1]) - 1)}{ABOVE_IDS}"
    number = int(tweet_id)
    if number > 0:
        return f"{time_part}#{number - 1:020d}"
    return _key_just_before_time(time_part)


def key_before_hour(hour: str) -> str | None:
    """Greatest key in any hour earlier than bucket ``YYYY-MM-DDTHH``."""
    return _key_just_before_time(f"{hour}:00:00.000Z")
