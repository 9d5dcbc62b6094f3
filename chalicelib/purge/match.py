"""Which lines and rows of the lake hold a deleted tweet: the purge's rules, pure.

An id is found as a whole token: ``123`` matches ``"id":"123"`` and ``status/123?``
but not ``91234`` or ``1234`` (for ids that are not all digits, letters count as
part of the token too). Finding the id is not enough to drop a record, since a
reply names the tweet it answers; what is dropped:

* a **raw line** (one envelope) that *is* the tweet or a delete notice of it
  (``tweet_id``), is a retweet or quote of it (``retweeted_tweet_id``,
  ``quoted_tweet_id``: a retweet's text is the original's, and a quote's payload
  carries the original), or whose original payload embeds it anywhere (an object
  with its id and a text: v1.1 ``retweeted_status``/``quoted_status``, v2
  ``includes.tweets``, which for a reply can hold the tweet replied to). A line
  that is not a JSON object and names the id is dropped too: nothing proves it
  only refers to it. A line that only names the id (a v1.1 reply's
  ``in_reply_to_status_id``) stays: it is another author's tweet;
* a **curated row** whose ``tweet_id`` or ``retweeted_tweet_id`` is the tweet (the
  other id columns are references; the row's text is its own author's);
* a **quarantine or Firehose error entry** whose line or base64 record names the
  id at all: such records did not parse, so nothing narrower can be proved.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

#: Keys of an object that make it a tweet's content, not just a reference to one.
_CONTENT_KEYS = ("text", "full_text", "extended_tweet", "note_tweet")
#: Envelope fields naming a tweet whose content the record carries.
_CARRIER_FIELDS = ("tweet_id", "retweeted_tweet_id", "quoted_tweet_id")
#: Base64 fields of quarantine entries (chalicelib.quarantine) and Firehose error lines.
_BASE64_FIELDS = ("data_b64", "rawData")


def id_pattern(ids: Iterable[str]) -> re.Pattern[bytes]:
    """One regex finding any of ``ids`` as a whole token in UTF-8 bytes."""
    alternatives = []
    for tweet_id in sorted(set(ids), key=lambda i: (-len(i), i)):
        token = r"[0-9]" if tweet_id.isdigit() else r"[0-9A-Za-z]"
        escaped = re.escape(tweet_id)
        alternatives.append(f"(?<!{token}){escaped}(?!{token})")
    if not alternatives:
        return re.compile(rb"(?!x)x")  # matches nothing
    return re.compile("|".join(alternatives).encode("ascii", "backslashreplace"))


def ids_in(data: bytes, pattern: re.Pattern[bytes]) -> set[str]:
    """The ids of ``pattern`` that occur in ``data`` as tokens."""
    return {m.group().decode("utf-8") for m in pattern.finditer(data)}


def _embedded(value: Any, wanted: set[str], found: set[str]) -> None:
    """Add to ``found`` each wanted id that some object in ``value`` carries with a text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            own = item.get("id_str", item.get("id"))
            if own is not None and str(own) in wanted and any(k in item for k in _CONTENT_KEYS):
                found.add(str(own))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def envelope_holds(line: bytes, pattern: re.Pattern[bytes]) -> set[str]:
    """Deleted ids whose tweet this raw line is, carries or embeds (empty: keep the line)."""
    named = ids_in(line, pattern)
    if not named:
        return set()
    try:
        envelope = json.loads(line)
    except ValueError:
        return named
    if not isinstance(envelope, dict):
        return named
    held = {str(envelope.get(f)) for f in _CARRIER_FIELDS if str(envelope.get(f)) in named}
    _embedded(envelope, named, held)
    payload = envelope.get("raw")
    if isinstance(payload, str) and ids_in(payload.encode("utf-8"), pattern):
        try:
            _embedded(json.loads(payload), named, held)
        except ValueError:
            held |= named  # an unreadable payload that names the id: drop
    return held


def entry_holds(line: bytes, pattern: re.Pattern[bytes]) -> set[str]:
    """Deleted ids named by a quarantine/Firehose-error line or the record it wraps."""
    named = ids_in(line, pattern)
    try:
        entry = json.loads(line)
    except ValueError:
        return named
    if isinstance(entry, dict):
        for name in _BASE64_FIELDS:
            encoded = entry.get(name)
            if isinstance(encoded, str):
                try:
                    named |= ids_in(base64.b64decode(encoded, validate=True), pattern)
                except (binascii.Error, ValueError):
                    continue
    return named
