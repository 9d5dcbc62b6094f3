"""``hash_line``: the key every copy of one tweet collapses onto.

A tweet's identity is its id: the platform never reuses ids, and an edit is a
new tweet with a new id (v2 ``edit_history_tweet_ids``), so the id pins down
the immutable content. Hashing the id alone (not text or metrics) is what makes
the REST compat rendering (truncated text) and the extended rendering of one
tweet, or two deliveries with different like counts, land on the same item,
and what lets a delete notice (which carries only the id) find that item
directly. The input is namespaced and versioned so a future change of rule can
coexist with old keys.

A Bluesky post's identity is (DID, collection, record key): its id names the
DID and the record key, and the hashed text names the collection too, so the
same record key in another repository or another collection is another key.
Versions of one post (an update) share the key; the consumer keeps the newest.
"""

from __future__ import annotations

import hashlib

from chalicelib.ids import POST_COLLECTION, is_post_id, split_post_id

HASH_VERSION = "v1"


def hash_line(tweet_id: str) -> str:
    """Deterministic 32-hex-digit key of a tweet (128 bits of SHA-256).

    X ids hash as they always have (existing keys stay put); a Bluesky post id
    hashes under its own namespace, with its collection.
    """
    if tweet_id.isascii() and tweet_id.isdigit():
        text = f"tweetlake:{HASH_VERSION}:tweet:{int(tweet_id)}"
    elif is_post_id(tweet_id):
        did, rkey = split_post_id(tweet_id)
        text = f"tweetlake:{HASH_VERSION}:bluesky:{did}:{POST_COLLECTION}:{rkey}"
    else:
        raise ValueError(
            f"tweet id must be decimal digits or a Bluesky post id, got {tweet_id!r:.40}"
        )
    return hashlib.sha256(text.encode()).hexdigest()[:32]
