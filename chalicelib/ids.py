"""The two id families, read from ``envelope/schema.json`` so the patterns have one home.

X ids are decimal text (1-20 digits). A Bluesky account's id is its DID
(``did:plc:…`` or ``did:web:<host>``) and a Bluesky post's id is
``<DID>:<record key>``: no slash, so it sits in an API path as it is, and the
record key of a post is a TID, so the pair names one record of the
``app.bsky.feed.post`` collection (the only collection stored as tweets).
Each check accepts exactly one family; code that takes both asks which one.
"""

from __future__ import annotations

import re
from functools import cache

from chalicelib.envelope.schema import kind_fields

X_ID_RE = re.compile(r"[0-9]{1,20}")
#: The collection whose records become tweets; part of a post's identity.
POST_COLLECTION = "app.bsky.feed.post"


@cache
def _bluesky_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(post id, DID) from the tweet kind's ``tweet_id`` and ``author.id`` fields."""
    fields = {spec["name"]: spec for spec in kind_fields("tweet")}
    author = {spec["name"]: spec for spec in fields["author"]["fields"]}
    return re.compile(fields["tweet_id"]["bluesky_pattern"]), re.compile(
        author["id"]["bluesky_pattern"]
    )


def is_x_id(value: str) -> bool:
    """1-20 ASCII digits (``fullmatch``: ``"12\\n"`` is not an id)."""
    return X_ID_RE.fullmatch(value) is not None


def is_post_id(value: str) -> bool:
    """A Bluesky post id, ``<DID>:<TID>``."""
    return _bluesky_patterns()[0].fullmatch(value) is not None


def is_did(value: str) -> bool:
    """A Bluesky account id (a ``did:plc`` or ``did:web`` DID)."""
    return _bluesky_patterns()[1].fullmatch(value) is not None


def post_id(did: str, rkey: str) -> str:
    """The post id of record ``rkey`` in ``did``'s repository (unchecked)."""
    return f"{did}:{rkey}"


def split_post_id(value: str) -> tuple[str, str]:
    """``(DID, record key)`` of a post id (the record key never holds a colon)."""
    did, _, rkey = value.rpartition(":")
    return did, rkey
