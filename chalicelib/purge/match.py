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
from collections.abc import Iterable, Iterator
from typing import Any

#: Keys of an object that make it a tweet's content, not just a reference to one.
_CONTENT_KEYS = ("text", "full_text", "extended_tweet", "note_tweet")
#: Envelope fields naming a tweet whose content the record carries.
_CARRIER_FIELDS = ("tweet_id", "retweeted_tweet_id", "quoted_tweet_id")
#: Base64 fields of quarantine entries (chalicelib.quarantine) and Firehose error lines.
_BASE64_FIELDS = ("data_b64", "rawData")


#: bytes.translate table keeping digits and turning everything else into a space.
_DIGITS_ONLY = bytes(c if 0x30 <= c <= 0x39 else 0x20 for c in range(256))
#: Up to this many numeric ids, ``bytes.find`` per id beats listing every digit run.
_FIND_LIMIT = 8


class IdMatcher:
    """Finds any of a set of ids as whole tokens in UTF-8 bytes.

    Numeric ids (all of X's): with a few ids, ``bytes.find`` for each and a look at the
    bytes either side; with many, every digit run of the data at once
    (``translate`` + ``split``, both in C) intersected with the set. Either way the
    cost hardly grows with the number of ids: a regex alternation of 200 ids made the
    scan 100x slower. Other ids (none today) use an alternation.
    """

    def __init__(self, ids: Iterable[str]) -> None:
        unique = set(ids)
        self._numeric = frozenset(i.encode("ascii") for i in unique if i.isdigit())
        others = sorted((i for i in unique if not i.isdigit()), key=lambda i: (-len(i), i))
        alternation = "|".join(f"(?<![0-9A-Za-z]){re.escape(i)}(?![0-9A-Za-z])" for i in others)
        self._others = re.compile(alternation.encode("utf-8")) if others else None

    def _numeric_found(self, data: bytes) -> set[bytes]:
        if len(self._numeric) > _FIND_LIMIT:
            return set(data.translate(_DIGITS_ONLY).split()) & self._numeric
        hits = set()
        for token in self._numeric:
            at = data.find(token)
            while at >= 0:
                end = at + len(token)
                before = data[at - 1 : at] if at else b""
                if not before.isdigit() and not data[end : end + 1].isdigit():
                    hits.add(token)
                    break
                at = data.find(token, at + 1)
        return hits

    def offsets(self, data: bytes) -> Iterator[int]:
        """Where in ``data`` an id starts, as a token (for the few ids of one object)."""
        for token in self._numeric:
            at = data.find(token)
            while at >= 0:
                end = at + len(token)
                before = data[at - 1 : at] if at else b""
                if not before.isdigit() and not data[end : end + 1].isdigit():
                    yield at
                at = data.find(token, at + 1)
        if self._others is not None:
            yield from (m.start() for m in self._others.finditer(data))

    def found(self, data: bytes) -> set[str]:
        """The ids that occur in ``data`` as tokens."""
        hits = {t.decode("ascii") for t in self._numeric_found(data)} if self._numeric else set()
        if self._others is not None:
            hits |= {m.group().decode("utf-8") for m in self._others.finditer(data)}
        return hits


def id_pattern(ids: Iterable[str]) -> IdMatcher:
    """A matcher finding any of ``ids`` as a whole token."""
    return IdMatcher(ids)


def ids_in(data: bytes, pattern: IdMatcher) -> set[str]:
    """The ids of ``pattern`` that occur in ``data`` as tokens."""
    return pattern.found(data)


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


def envelope_holds(line: bytes, pattern: IdMatcher) -> set[str]:
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


def entry_holds(line: bytes, pattern: IdMatcher) -> set[str]:
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
