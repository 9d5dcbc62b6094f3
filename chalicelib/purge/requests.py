"""Purge requests: the state table's log of deleted tweets the lake must forget.

One item per deleted tweet in the state table (``TWEETLAKE_STATE_TABLE``):
``pk = "purge"``, ``sk = <tweet id>``, with ``tweet_id``, ``requested_at`` (when
the consumer applied the delete, or saw a late copy of an already deleted tweet),
optionally ``created_at`` (the tweet's creation time, when known: it narrows the
partitions the purge reads) and, once done, ``purged_at`` and
``objects_rewritten``. The consumer writes :func:`request_item` with a plain put,
so a request made again replaces the item and drops ``purged_at``: pending again.

Pending means "no ``purged_at``". The purge marks a request purged only if its
``requested_at`` is still the one it read (:func:`mark_purged`), so a request
renewed while a run was scanning stays pending for the next run.

This module is the one home of these names, and it is pure: the consumer imports it,
so it must not carry the purge's own DynamoDB calls (those are in
:mod:`chalicelib.purge.request_log`, which the IAM test credits to the purge alone).
"""

from __future__ import annotations

PURGE_PK = "purge"
TWEET_ID = "tweet_id"
REQUESTED_AT = "requested_at"
CREATED_AT = "created_at"
PURGED_AT = "purged_at"
OBJECTS_REWRITTEN = "objects_rewritten"


def request_item(tweet_id: str, requested_at: str, created_at: str | None = None) -> dict[str, str]:
    """The state-table item asking the purge to remove ``tweet_id`` from the lake.

    ``requested_at`` and ``created_at`` are envelope times
    (:func:`chalicelib.timeutil.iso_utc`). The item has no ``purged_at``: put as a
    whole, it makes the request pending again.
    """
    item = {"pk": PURGE_PK, "sk": tweet_id, TWEET_ID: tweet_id, REQUESTED_AT: requested_at}
    if created_at:
        item[CREATED_AT] = created_at
    return item
