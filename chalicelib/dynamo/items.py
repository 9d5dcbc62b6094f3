"""DynamoDB item shapes shared by the writer (consumer) and the reader (API).

Both sides build keys with these functions, so the sort order the API pages
through is the order the consumer wrote. See ``chalicelib.dynamo.tables`` for the
tables and indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.dynamo.hashing import hash_line

# Envelope fields copied onto a tweet item as they are (``raw`` stays in the lake).
TWEET_FIELDS = (
    "tweet_id",
    "rev",
    "created_at",
    "created_at_derived",
    "text",
    "lang",
    "source_api",
    "payload_format",
    "ingested_at",
    "hashtags",
    "mentions",
    "urls",
    "in_reply_to_tweet_id",
    "in_reply_to_user_id",
    "retweeted_tweet_id",
    "quoted_tweet_id",
    "unresolved_tweet_ids",
    "matching_rules",
)
_STRING_ARRAYS = ("hashtags", "urls", "unresolved_tweet_ids", "matching_rules")
# Tweet envelope fields that are not item attributes (besides ``raw``, which the lake keeps).
ENVELOPE_ONLY = ("kind", "schema_version")


def created_key(created_at: str, tweet_id: str) -> str:
    """Sort key: creation time, then the id: an X id zero-padded so ties sort
    numerically, a Bluesky id as it is (``did:…`` sorts after every padded X id)."""
    if tweet_id.isdigit():
        return f"{created_at}#{int(tweet_id):020d}"
    return f"{created_at}#{tweet_id}"


def tweet_id_of(key: str) -> str:
    """The tweet id a :func:`created_key` ends with, without its padding."""
    tail = key.rsplit("#", 1)[-1]
    return str(int(tail)) if tail.isdigit() else tail


def created_hour(created_at: str) -> str:
    """Hour bucket ``YYYY-MM-DDTHH`` of a canonical envelope time."""
    return created_at[:13]


_CONTAINERS = (dict, list)


def drop_nulls(value: Any) -> Any:
    """Remove None values from nested dicts (DynamoDB items stay compact).

    Recurses only into containers: the consumer calls this for every record,
    and most values are scalars.
    """
    if isinstance(value, dict):
        return {
            k: drop_nulls(v) if isinstance(v, _CONTAINERS) else v
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [drop_nulls(v) if isinstance(v, _CONTAINERS) else v for v in value]
    return value


def _compact(value: dict[str, Any]) -> dict[str, Any]:
    """A copy of a flat object without its None values (a plain C-level copy when it has none)."""
    if None in value.values():
        return {k: v for k, v in value.items() if v is not None}
    return value.copy()


def tweet_item(envelope: Mapping[str, Any], **enrichment: Any) -> dict[str, Any]:
    """A live tweet item from a valid tweet envelope plus enrichment fields.

    Enrichment (``processed_at``, ``origin``, ``author_tweets_in_batch``,
    bookkeeping) is passed by the caller; the key, status and index attributes
    are derived here. The item shares no container with ``envelope``, which
    the caller may keep using.

    The same as ``drop_nulls`` over the envelope's fields, but it uses the
    schema's shape rather than walking every value: in a valid envelope only
    three kinds of object can hold nulls: the envelope itself, ``author`` and
    each entry of ``mentions``; arrays hold no nulls (the schema forbids them)
    and are copied as they are.
    """
    get = envelope.get
    item = {name: value for name in TWEET_FIELDS if (value := get(name)) is not None}
    mentions = item.get("mentions")
    if mentions is not None:
        item["mentions"] = [_compact(m) if isinstance(m, dict) else m for m in mentions]
    for name in _STRING_ARRAYS:
        if name in item:
            item[name] = list(item[name])
    author = envelope.get("author")
    tweet_id = item["tweet_id"]
    created_at = item["created_at"]
    item["hash_line"] = hash_line(tweet_id)
    item["status"] = "live"
    if author is not None:  # no author: no author_id, so not in the by-author index
        item["author"] = _compact(author)
        item["author_id"] = author["id"]
    item["created_key"] = created_key(created_at, tweet_id)
    item["created_hour"] = created_hour(created_at)
    for name, value in enrichment.items():
        if value is not None:
            item[name] = drop_nulls(value) if isinstance(value, _CONTAINERS) else value
    return item


def origin_attr(shard_id: str, sequence_number: int) -> dict[str, str]:
    """Where a record sits in the stream, as stored on the item it created.

    Kept as text: real Kinesis sequence numbers have ~56 digits, more than a
    DynamoDB number holds (38); readers compare them as integers.
    """
    return {"shard": shard_id, "seq": str(sequence_number)}


def tombstone_item(
    envelope: dict[str, Any],
    *,
    origin: dict[str, str],
    processed_at: str,
    deleted_author_id: str | None = None,
) -> dict[str, Any]:
    """The item a delete leaves behind: no index attributes, so it drops out of both GSIs.

    ``deleted_author_id`` names the deleted tweet's author once any copy of the
    tweet has been seen (never ``author_id``: that would put it in ``by_author``).
    """
    item: dict[str, Any] = {
        "hash_line": hash_line(envelope["tweet_id"]),
        "status": "deleted",
        "tweet_id": envelope["tweet_id"],
        "deleted_at": envelope["deleted_at"],
        "source_api": envelope["source_api"],
        "origin": origin,
        **({"rev": envelope["rev"]} if envelope.get("rev") else {}),
        "processed_at": processed_at,
    }
    if deleted_author_id:
        item["deleted_author_id"] = deleted_author_id
    return item


# The state table's directory of non-empty hour buckets: pk = HOURS_PK, sk = YYYY-MM-DDTHH.
HOURS_PK = "hours"


def hour_item(hour: str) -> dict[str, str]:
    """An entry of the directory of non-empty hour buckets (state table)."""
    return {"pk": HOURS_PK, "sk": hour}
