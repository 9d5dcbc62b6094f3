"""Opaque, signed page cursors.

A cursor carries the listing it belongs to (the feed or one user's timeline),
the time window of the first request and ``high``: the inclusive upper bound,
in sort-key space, of what the next page may return. It is JSON, base64url
encoded, followed by a truncated HMAC-SHA256 of those bytes.

Decoding is strict whatever the key: length, alphabet, signature, exact field
set, types and key format are all checked, and a cursor only ever narrows a
query the client could have sent with ``since``/``until``. So a forged cursor
could at most reveal tweets the API serves anyway; the signature is what makes
tampering a clear 400 instead of a silently different page.

Where the key comes from (no secret lives in the repository):

* ``TWEETLAKE_CURSOR_KEY_PARAMETER`` names an SSM Parameter Store
  ``SecureString`` (created outside the repo, e.g. by Terraform from a random
  value). It is read once per Lambda container and cached.
* Unset (local mode, tests), the key is derived from the stage and table
  names: cursors are still integrity-checked, and forgeable by someone who
  reads this file, which the strict checks above make harmless.

Rotating the parameter invalidates outstanding cursors: clients get a 400
``invalid_cursor`` and start again from the first page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

from chalicelib import aws
from chalicelib.api.errors import bad_request, unavailable
from chalicelib.config import ConfigError, Settings
from chalicelib.timeutil import parse_iso

VERSION = 1
MAX_CURSOR_CHARS = 512
SIGNATURE_BYTES = 16
KEY_PARAMETER_VAR = "TWEETLAKE_CURSOR_KEY_PARAMETER"

# The id part of a key bound: 20 digits (X), "~" (above every id), or a Bluesky
# DID:rkey whose last character was stepped down, then "~" (chalicelib.api.keys).
KEY_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z#(?:\d{20}|~|did:[a-z0-9:.\-`]{1,300}~)"
)
TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
SCOPE_RE = re.compile(r"feed|user:(?:[0-9]{1,20}|did:[a-z0-9:.\-]{1,270})")
_B64_RE = re.compile(r"[A-Za-z0-9_-]+")
_PARAM_NAME_RE = re.compile(r"[a-zA-Z0-9_.\-/]{1,2048}")
_FIELDS = {"v", "scope", "since", "until", "high"}

_lock = threading.Lock()
_keys: dict[tuple[str, str], bytes] = {}


@dataclass(frozen=True, slots=True)
class Cursor:
    scope: str
    since: str | None
    until: str | None
    high: str


def signing_key(settings: Settings) -> bytes:
    """The HMAC key: from SSM when configured, else derived (see module doc)."""
    name = os.environ.get(KEY_PARAMETER_VAR, "").strip()
    if not name:
        seed = f"tweetlake-unsigned-cursor:{settings.stage}:{settings.tweets_table}"
        return hashlib.sha256(seed.encode()).digest()
    if not _PARAM_NAME_RE.fullmatch(name):
        raise ConfigError(
            KEY_PARAMETER_VAR, f"is malformed ({name[:60]!r})", "name an SSM parameter"
        )
    cache_key = (settings.region, name)
    key = _keys.get(cache_key)
    if key is None:
        with _lock:
            key = _keys.get(cache_key)
            if key is None:
                key = _keys[cache_key] = _fetch_key(settings.region, name)
    return key


def _fetch_key(region: str, name: str) -> bytes:
    try:
        value = aws.client("ssm", region).get_parameter(Name=name, WithDecryption=True)
    except Exception as exc:  # any failure leaves the API unable to page: say why
        raise unavailable(f"cursor key unavailable: {type(exc).__name__}", 5) from exc
    text: str = value["Parameter"]["Value"]
    if len(text) < 32:
        raise ConfigError(
            KEY_PARAMETER_VAR, "names a value shorter than 32 characters", "store a longer secret"
        )
    return hashlib.sha256(text.encode()).digest()


def forget_keys() -> None:
    """Drop cached keys (tests that rotate the parameter)."""
    with _lock:
        _keys.clear()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64_RE.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def encode(cursor: Cursor, key: bytes) -> str:
    payload = json.dumps(
        {
            "v": VERSION,
            "scope": cursor.scope,
            "since": cursor.since,
            "until": cursor.until,
            "high": cursor.high,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    return f"{_b64(payload)}.{_b64(_sign(key, payload))}"


def decode(text: str, key: bytes) -> Cursor:
    """The cursor in ``text``, or a 400 ``invalid_cursor`` saying what is wrong."""
    fix = "pass next_cursor exactly as a previous page returned it, or drop cursor"
    if len(text) > MAX_CURSOR_CHARS or text.count(".") != 1:
        raise bad_request("invalid_cursor", f"cursor is malformed: {fix}")
    body, signature = text.split(".")
    try:
        payload, given = _unb64(body), _unb64(signature)
    except (ValueError, binascii.Error):
        raise bad_request("invalid_cursor", f"cursor is malformed: {fix}") from None
    if not hmac.compare_digest(given, _sign(key, payload)):
        raise bad_request("invalid_cursor", f"cursor signature does not match: {fix}")
    try:
        data = json.loads(payload)
    except ValueError:
        raise bad_request("invalid_cursor", f"cursor is malformed: {fix}") from None
    if not _well_formed(data):
        raise bad_request("invalid_cursor", f"cursor content is not valid: {fix}")
    return Cursor(scope=data["scope"], since=data["since"], until=data["until"], high=data["high"])


def _valid_time(text: Any) -> bool:
    """Canonical millisecond UTC text naming a real instant (no month 13)."""
    if not isinstance(text, str) or not TIME_RE.fullmatch(text):
        return False
    try:
        parse_iso(text)
    except ValueError:
        return False
    return True


def _well_formed(data: Any) -> bool:
    if not isinstance(data, dict) or set(data) != _FIELDS:
        return False
    if type(data["v"]) is not int or data["v"] != VERSION:
        return False
    if not isinstance(data["scope"], str) or not SCOPE_RE.fullmatch(data["scope"]):
        return False
    high = data["high"]
    if not isinstance(high, str) or not KEY_RE.fullmatch(high) or not _valid_time(high[:24]):
        return False
    return all(data[name] is None or _valid_time(data[name]) for name in ("since", "until"))
