"""``hash_line``: the key every copy of one tweet collapses onto.

A tweet's identity is its id: the platform never reuses ids, and an edit is a
new tweet with a new id (v2 ``edit_history_tweet_ids``), so the id pins down
the immutable content. Hashing the id alone (not text or metrics) is what makes
the REST compat rendering (truncated text) and the extended rendering of one
tweet, or two deliveries with different like counts, land on the same item,
and what lets a delete notice (which carries only the id) find that item
directly. The input is namespaced and versioned so a future change of rule can
coexist with old keys.
"""

from __future__ import annotations

import hashlib

HASH_VERSION = "v1"


def hash_line(tweet_id: str) -> str:
    """Deterministic 32-hex-digit key of a tweet (128 bits of SHA-256)."""
    if not tweet_id.isascii() or not tweet_id.isdigit():
        raise ValueError(f"tweet id must be decimal digits, got {tweet_id!r:.40}")
    digest = hashlib.sha256(f"tweetlake:{HASH_VERSION}:tweet:{int(tweet_id)}".encode())
    return digest.hexdigest()[:32]
