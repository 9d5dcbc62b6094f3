"""Small valid envelopes for consumer tests (invented ids and names)."""

from __future__ import annotations

from typing import Any

from chalicelib.envelope.schema import schema_version


def tweet_envelope(
    tweet_id: int | str,
    author_id: int | str,
    *,
    created_at: str = "2026-11-24T06:00:00.000Z",
    text: str = "hello",
    screen_name: str | None = None,
    followers: int = 10,
    ingested_at: str = "2026-11-24T06:00:05.000Z",
) -> dict[str, Any]:
    author = {
        "id": str(author_id),
        "screen_name": screen_name or f"user{author_id}",
        "name": f"User {author_id}",
        "followers_count": followers,
        "verified": False,
    }
    return {
        "kind": "tweet",
        "schema_version": schema_version(),
        "tweet_id": str(tweet_id),
        "created_at": created_at,
        "text": text,
        "lang": "en",
        "source_api": "synthetic",
        "payload_format": "v2",
        "ingested_at": ingested_at,
        "author": author,
        "hashtags": ["tag"],
        "mentions": [{"id": "7", "screen_name": "seven"}],
        "urls": [],
        "raw": '{"data":{}}',
    }


def delete_envelope(
    tweet_id: int | str,
    author_id: int | str | None = None,
    *,
    deleted_at: str = "2026-11-24T07:00:00.000Z",
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "kind": "delete",
        "schema_version": schema_version(),
        "tweet_id": str(tweet_id),
        "deleted_at": deleted_at,
        "source_api": "synthetic",
        "payload_format": "v2",
        "ingested_at": "2026-11-24T07:00:01.000Z",
        "raw": '{"action":"delete"}',
    }
    if author_id is not None:
        envelope["author_id"] = str(author_id)
    return envelope
