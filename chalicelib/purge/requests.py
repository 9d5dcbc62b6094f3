"""Purge requests: one item per deleted tweet in the state table, written by the consumer.

``pk = "purge"``, ``sk = <tweet id>``: ``tweet_id``, ``requested_at`` and, when
known, the deleted tweet's ``created_at``. The purge adds ``purged_at`` and
``objects_rewritten``; a new copy of the tweet reaching the lake later writes the
request again without them, so it is purged again.
"""

from __future__ import annotations

from typing import Any

PURGE_PK = "purge"


def request_item(tweet_id: str, requested_at: str, created_at: str | None) -> dict[str, Any]:
    """The state-table item asking for ``tweet_id`` to be purged from the lake."""
    item: dict[str, Any] = {
        "pk": PURGE_PK,
        "sk": tweet_id,
        "tweet_id": tweet_id,
        "requested_at": requested_at,
    }
    if created_at:
        item["created_at"] = created_at
    return item
