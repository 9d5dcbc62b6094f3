"""Jetstream frames for tests, built from the documented format.

A DID here is ``did:plc:`` and 24 base32 characters; a record key and a
``rev`` are TIDs: 13 base32-sortable characters holding microseconds since
the epoch and a 10-bit clock id, so a later time is a larger text.
"""

from __future__ import annotations

from typing import Any

B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"
POST = "app.bsky.feed.post"


def tid(micros: int, clock_id: int = 0) -> str:
    """The TID of ``micros`` (µs since the epoch) and ``clock_id``."""
    value = (micros << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(B32_SORTABLE[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def did(n: int) -> str:
    """A well-formed did:plc for account ``n``."""
    body = ""
    value = n
    for _ in range(24):
        body += B32_SORTABLE[value % 32]
        value //= 32
    return f"did:plc:{body}"


def post_record(text: str, created_at: str, **extra: Any) -> dict[str, Any]:
    return {"$type": POST, "text": text, "createdAt": created_at, "langs": ["en"], **extra}


def commit(
    author: str,
    time_us: int,
    operation: str,
    rkey: str,
    *,
    record: dict[str, Any] | None = None,
    collection: str = POST,
    rev: str | None = None,
) -> dict[str, Any]:
    """A commit event; ``rev`` defaults to the TID of ``time_us``."""
    body: dict[str, Any] = {
        "rev": rev or tid(time_us, 1),
        "operation": operation,
        "collection": collection,
        "rkey": rkey,
    }
    if record is not None:
        body["record"] = record
        body["cid"] = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
    return {"did": author, "time_us": time_us, "kind": "commit", "commit": body}


def account(
    author: str, time_us: int, seq: int, active: bool, status: str | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {"active": active, "did": author, "seq": seq, "time": iso(time_us)}
    if status is not None:
        event["status"] = status
    return {"did": author, "time_us": time_us, "kind": "account", "account": event}


def identity(author: str, time_us: int, seq: int, handle: str) -> dict[str, Any]:
    event = {"did": author, "handle": handle, "seq": seq, "time": iso(time_us)}
    return {"did": author, "time_us": time_us, "kind": "identity", "identity": event}


def iso(time_us: int) -> str:
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(time_us / 1_000_000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
