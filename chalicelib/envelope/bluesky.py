"""Bluesky Jetstream events → envelopes.

Jetstream sends one JSON object per websocket text frame:
``{"did", "time_us", "kind": "commit" | "identity" | "account", …}``. What each
becomes:

* a ``commit`` to ``app.bsky.feed.post`` with operation ``create`` or ``update``:
  a tweet envelope whose id is ``<DID>:<rkey>`` (:mod:`chalicelib.ids`) and
  whose ``rev`` (the repository revision, a TID) lets the consumer keep the
  newest version whatever order the copies arrive in;
* a ``delete`` commit of a post: a delete envelope (the consumer tombstones it);
* ``identity`` and ``account`` events: an account envelope (the handle; whether
  the account is active and why not), which the consumer keeps per DID by the
  event's ``seq``;
* a commit to any other collection: a control item, counted and skipped.

Every item carries the frame's ``time_us`` as its ``cursor``: the ingest run
checkpoints the largest one it handed to Kinesis.

Post records (lexicon ``app.bsky.feed.post``): ``text`` may be empty (an
image-only post); facets index ``text`` by **UTF-8 byte offsets**, so a facet's
text is a slice of the encoded bytes, never of the Python string; ``createdAt``
is the client's claim, so a missing or implausible one gives way to the relay's
``time_us`` and the envelope says so (``created_at_derived``). Like
:mod:`chalicelib.envelope.normalize`, nothing here raises on bad input: a frame
that cannot become an envelope comes back ``invalid`` with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.envelope.normalize import Normalized
from chalicelib.envelope.schema import schema_version
from chalicelib.ids import POST_COLLECTION, post_id
from chalicelib.timeutil import iso_utc, parse_iso

SOURCE_API = PAYLOAD_FORMAT = "jetstream"
#: ``createdAt`` further ahead of the relay's clock than this is not believed.
FUTURE_TOLERANCE = timedelta(minutes=10)
#: Bluesky opened in 2022: an earlier ``createdAt`` is a client's error (or a backdated import).
EARLIEST = datetime(2022, 1, 1, tzinfo=UTC)
#: What a commit to a collection other than posts is counted as.
OTHER_COLLECTION = "other_collection"

_TAG, _MENTION, _LINK = (
    "app.bsky.richtext.facet#tag",
    "app.bsky.richtext.facet#mention",
    "app.bsky.richtext.facet#link",
)
_QUOTE_EMBEDS = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")
#: The envelope's own time form (UTC, milliseconds, Z), which most clients send.
_CANONICAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


class MalformedEventError(ValueError):
    """A frame breaks the documented format; the message is the quarantine reason."""


def is_jetstream_event(payload: Mapping[str, Any]) -> bool:
    """A Jetstream frame: a DID, a ``time_us`` cursor and a ``kind``."""
    return "time_us" in payload and "did" in payload and "kind" in payload


def time_us_iso(time_us: int) -> str:
    """The envelope time of a ``time_us`` (microseconds since the epoch, UTC)."""
    return iso_utc(datetime.fromtimestamp(time_us / 1_000_000, tz=UTC))


def normalize_event(
    payload: Mapping[str, Any], *, raw: str, source_api: str | None, ingested_at: str
) -> Normalized:
    """One Jetstream frame → one :class:`Normalized` (with the frame's cursor)."""
    time_us = payload.get("time_us")
    if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0:
        return Normalized(
            "invalid", reason=f"jetstream: time_us {time_us!r:.40} is not a positive integer"
        )
    try:
        did = _string(payload, "did")
        kind = payload.get("kind")
        base = {
            "schema_version": schema_version(),
            "source_api": source_api or SOURCE_API,
            "payload_format": PAYLOAD_FORMAT,
            "ingested_at": ingested_at,
            "raw": raw,
        }
        if kind == "commit":
            return _commit(payload, did, time_us, base)
        if kind in ("identity", "account"):
            return _account(payload, did, str(kind), time_us, base)
    except MalformedEventError as exc:
        return Normalized("invalid", reason=f"jetstream: {exc}", cursor=time_us)
    return Normalized("control", control=f"jetstream_{kind}"[:60], cursor=time_us)


def _string(obj: Mapping[str, Any], key: str, where: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise MalformedEventError(f"{where}{key} is {type(value).__name__}, not a string")
    return value


def _object(obj: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    value = obj.get(key)
    if not isinstance(value, Mapping):
        raise MalformedEventError(f"{where}{key} is {type(value).__name__}, not an object")
    return value


def _commit(payload: Mapping[str, Any], did: str, time_us: int, base: dict[str, Any]) -> Normalized:
    commit = _object(payload, "commit")
    collection = _string(commit, "collection", "commit.")
    if collection != POST_COLLECTION:
        return Normalized(
            "control", control=OTHER_COLLECTION, reason=collection[:200], cursor=time_us
        )
    operation = _string(commit, "operation", "commit.")
    tweet_id = post_id(did, _string(commit, "rkey", "commit."))
    rev = _string(commit, "rev", "commit.")
    if operation == "delete":
        envelope = {
            "kind": "delete",
            **base,
            "tweet_id": tweet_id,
            "author_id": did,
            "rev": rev,
            "deleted_at": time_us_iso(time_us),
        }
        return Normalized("delete", envelope=envelope, cursor=time_us)
    if operation not in ("create", "update"):
        raise MalformedEventError(
            f"commit.operation {operation[:40]!r} is not create, update or delete"
        )
    record = _object(commit, "record", "commit.")
    envelope = {"kind": "tweet", **base, "tweet_id": tweet_id, "rev": rev}
    envelope.update(post_fields(record, did, time_us))
    return Normalized("tweet", envelope=envelope, cursor=time_us)


def _account(
    payload: Mapping[str, Any], did: str, kind: str, time_us: int, base: dict[str, Any]
) -> Normalized:
    """identity → the handle; account → active and status. Both ordered by ``seq``."""
    event = _object(payload, kind)
    seq = event.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise MalformedEventError(f"{kind}.seq is {type(seq).__name__}, not an integer")
    envelope: dict[str, Any] = {
        "kind": "account",
        **base,
        "author_id": did,
        "seq": seq,
        "event": kind,
        "event_at": _event_time(event.get("time"), time_us),
    }
    if kind == "identity":
        handle = event.get("handle")
        if handle is not None:
            envelope["handle"] = _string(event, "handle", "identity.")
    else:
        active = event.get("active")
        if not isinstance(active, bool):
            raise MalformedEventError(f"account.active is {type(active).__name__}, not a boolean")
        envelope["active"] = active
        if event.get("status") is not None:
            envelope["status"] = _string(event, "status", "account.")
    return Normalized("account", envelope=envelope, cursor=time_us)


def _event_time(value: Any, time_us: int) -> str:
    """The event's own ``time`` when it reads, else the relay's."""
    if isinstance(value, str):
        try:
            return iso_utc(parse_iso(value))
        except ValueError:
            pass
    return time_us_iso(time_us)


# --- post records -------------------------------------------------------------------


def post_fields(record: Mapping[str, Any], did: str, time_us: int) -> dict[str, Any]:
    """The tweet fields of an ``app.bsky.feed.post`` record by ``did``."""
    kind = record.get("$type", POST_COLLECTION)
    if kind != POST_COLLECTION:
        raise MalformedEventError(f"record.$type {str(kind)[:60]!r} is not {POST_COLLECTION}")
    text = _string(record, "text", "record.")
    created_at, derived = created_time(record.get("createdAt"), time_us)
    tags, mentions, links = facet_entities(text, record.get("facets"))
    embed = record.get("embed")
    fields: dict[str, Any] = {
        "created_at": created_at,
        "text": text,
        "lang": _first_lang(record.get("langs")),
        "author": {"id": did},
        "hashtags": tags,
        "mentions": mentions,
        "urls": links + _external_url(embed),
        "quoted_tweet_id": _quoted(embed),
    }
    if derived:
        fields["created_at_derived"] = True
    reply = record.get("reply")
    if reply is not None:
        if not isinstance(reply, Mapping):
            raise MalformedEventError("record.reply is not an object")
        parent = _post_ref(reply.get("parent"), "record.reply.parent")
        if parent is not None:
            fields["in_reply_to_tweet_id"] = post_id(*parent)
            fields["in_reply_to_user_id"] = parent[0]
    return fields


def created_time(value: Any, time_us: int) -> tuple[str, bool]:
    """``(created_at, derived)``: ``createdAt`` when plausible, else the relay's ``time_us``.

    Plausible: a zoned ISO-8601 time no earlier than 2022 and at most ten minutes
    ahead of when the relay saw the commit. Anything else would put the post in
    a wrong lake partition, so the relay's time stands in and is flagged.
    """
    relay = datetime.fromtimestamp(time_us / 1_000_000, tz=UTC)
    if isinstance(value, str):
        try:
            claimed = parse_iso(value)
        except ValueError:
            claimed = None
        if claimed is not None and EARLIEST <= claimed <= relay + FUTURE_TOLERANCE:
            # Clients mostly send the canonical form already: keep it, skip the formatting.
            canonical = _CANONICAL.fullmatch(value) is not None
            return (value if canonical else iso_utc(claimed)), False
    return iso_utc(relay), True


def _first_lang(langs: Any) -> str | None:
    if isinstance(langs, list) and langs and isinstance(langs[0], str):
        return langs[0]
    return None


def facet_text(encoded: bytes, index: Any) -> str | None:
    """The text a facet's ``index`` covers: ``encoded[byteStart:byteEnd]`` as UTF-8.

    None when the range is not two integers within the text, or cuts a character.
    """
    if not isinstance(index, Mapping):
        return None
    start, end = index.get("byteStart"), index.get("byteEnd")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(encoded)):
        return None
    try:
        return encoded[start:end].decode("utf-8")
    except UnicodeDecodeError:
        return None


def facet_entities(text: str, facets: Any) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """Hashtags, mentions and links of a post, in facet order.

    A tag is the facet's text without its ``#`` (the feature's ``tag`` when the
    range is unusable); a mention is the DID, with the handle its text shows;
    a link is the feature's full ``uri`` (the text may be shortened).
    """
    if facets is None:
        return [], [], []
    if not isinstance(facets, list):
        raise MalformedEventError("record.facets is not a list")
    encoded = text.encode("utf-8")
    tags: list[str] = []
    mentions: list[dict[str, Any]] = []
    links: list[str] = []
    for number, facet in enumerate(facets):
        if not isinstance(facet, Mapping) or not isinstance(facet.get("features"), list):
            raise MalformedEventError(f"record.facets[{number}] has no features list")
        shown = facet_text(encoded, facet.get("index"))
        for feature in facet["features"]:
            if not isinstance(feature, Mapping):
                raise MalformedEventError(
                    f"record.facets[{number}] holds a feature that is not an object"
                )
            _feature(feature, shown, (tags, mentions, links))
    return tags, mentions, links


def _feature(
    feature: Mapping[str, Any],
    shown: str | None,
    into: tuple[list[str], list[dict[str, Any]], list[str]],
) -> None:
    tags, mentions, links = into
    kind = feature.get("$type")
    if kind == _TAG and isinstance(feature.get("tag"), str):
        tag = shown[1:] if shown and shown[0] in "#\uff03" else feature["tag"]
        tags.append(tag)
    elif kind == _MENTION and isinstance(feature.get("did"), str):
        mention: dict[str, Any] = {"id": feature["did"]}
        if shown and shown.startswith("@"):
            mention["screen_name"] = shown[1:]
        mentions.append(mention)
    elif kind == _LINK and isinstance(feature.get("uri"), str):
        links.append(feature["uri"])


def _post_ref(ref: Any, where: str) -> tuple[str, str] | None:
    """``(DID, rkey)`` of a strong ref to a post; None when it names another collection."""
    if not isinstance(ref, Mapping) or not isinstance(ref.get("uri"), str):
        raise MalformedEventError(f"{where} has no uri")
    uri: str = ref["uri"]
    parts = uri.removeprefix("at://").split("/")
    if not uri.startswith("at://") or len(parts) != 3 or not all(parts):
        raise MalformedEventError(f"{where}.uri {uri[:80]!r} is not at://<did>/<collection>/<rkey>")
    did, collection, rkey = parts
    return (did, rkey) if collection == POST_COLLECTION else None


def _quoted(embed: Any) -> str | None:
    """The quoted post of a record embed (alone or with media)."""
    if not isinstance(embed, Mapping) or embed.get("$type") not in _QUOTE_EMBEDS:
        return None
    inner = embed.get("record")
    if embed.get("$type") == _QUOTE_EMBEDS[1] and isinstance(inner, Mapping):
        inner = inner.get("record")
    ref = _post_ref(inner, "record.embed.record")
    return post_id(*ref) if ref is not None else None


def _external_url(embed: Any) -> list[str]:
    """A link card's target (``app.bsky.embed.external``)."""
    if not isinstance(embed, Mapping) or embed.get("$type") != "app.bsky.embed.external":
        return []
    external = embed.get("external")
    uri = external.get("uri") if isinstance(external, Mapping) else None
    return [uri] if isinstance(uri, str) else []
