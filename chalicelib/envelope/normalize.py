"""Source payloads → envelopes.

Every source (live v1.1 or v2 stream, replayed file, synthetic generator,
Bluesky Jetstream) hands lines to :func:`normalize_line`, so there is exactly
one mapping from each platform's shapes to the record contract (Jetstream's in
:mod:`chalicelib.envelope.bluesky`). A line yields a list because a v2 lookup
response carries an array of tweets; a stream line yields one item.

Nothing here raises on bad input: a line that cannot become an envelope comes
back as ``invalid`` with the reason, so the caller can count or quarantine it
without losing the rest of its batch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.envelope.schema import schema_version
from chalicelib.timeutil import (
    from_epoch_ms,
    normalize_iso,
    now_iso,
    parse_v1_created_at,
    snowflake_time,
)

Kind = Literal["tweet", "delete", "account", "control", "invalid"]

# v1.1 stream messages that are not tweets; "delete" is handled separately.
V1_CONTROL_KEYS = (
    "limit",
    "warning",
    "disconnect",
    "scrub_geo",
    "status_withheld",
    "user_withheld",
    "friends",
    "event",
    "control",
    "for_user",
)


@dataclass(frozen=True, slots=True)
class Normalized:
    """One outcome of normalizing a line.

    ``envelope`` is set for ``tweet`` and ``delete``; ``control`` names the
    message type for ``control`` (``keep_alive``, ``limit``, ``errors`` …);
    ``reason`` explains an ``invalid`` line or details a control message.
    """

    kind: Kind
    envelope: dict[str, Any] | None = None
    control: str | None = None
    reason: str | None = None
    #: A v2 line's ``errors`` beside its ``data`` (on the line's first item only):
    #: what X could not expand, for the ingest run's log line and metric.
    partial_errors: tuple[str, ...] = ()
    #: A Jetstream frame's ``time_us``: the ingest run checkpoints the largest it sent.
    cursor: int | None = None


def normalize_line(
    line: str | bytes,
    *,
    source_api: str | None = None,
    ingested_at: str | None = None,
) -> list[Normalized]:
    """Normalize one raw line of a stream or JSON-lines file.

    ``source_api`` overrides the envelope's ``source_api`` (``replay``,
    ``synthetic``); by default it is the payload's own format.
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return [Normalized("invalid", reason=f"not UTF-8: {exc}")]
    text = line.strip()
    if not text:
        return [Normalized("control", control="keep_alive")]
    try:
        payload = json.loads(text)
    except ValueError as exc:
        return [Normalized("invalid", reason=f"not JSON: {exc}")]
    if not isinstance(payload, dict):
        return [Normalized("invalid", reason=f"not a JSON object: {type(payload).__name__}")]
    if "\\ud" in text or "\\uD" in text:
        where = _lone_surrogate(payload, "")
        if where is not None:
            return [Normalized("invalid", reason=f"{LONE_SURROGATE}: {where}")]
    return normalize_payload(
        payload, raw=text, source_api=source_api, ingested_at=ingested_at or now_iso()
    )


def normalize_payload(
    payload: Mapping[str, Any],
    *,
    raw: str,
    source_api: str | None,
    ingested_at: str,
) -> list[Normalized]:
    """Classify a parsed payload and map it; ``raw`` is its verbatim text."""
    if "time_us" in payload:  # a Bluesky Jetstream frame (chalicelib.envelope.bluesky)
        from chalicelib.envelope import bluesky

        if bluesky.is_jetstream_event(payload):
            return [
                bluesky.normalize_event(
                    payload, raw=raw, source_api=source_api, ingested_at=ingested_at
                )
            ]
    try:
        if "data" in payload:
            return _v2_data(payload, raw, source_api, ingested_at)
        if "errors" in payload or {"title", "type", "detail"} <= payload.keys():
            # v2 errors-only stream lines, v1.1 error bodies, v2 problem+json bodies.
            return [_v2_errors(payload)]
        if "delete" in payload:
            return [_v1_delete(payload, raw, source_api, ingested_at)]
        if payload.get("action") == "delete" and "id" in payload:
            return [_v2_compliance_delete(payload, raw, source_api, ingested_at)]
        for key in V1_CONTROL_KEYS:
            if key in payload:
                return [Normalized("control", control=key, reason=_short(payload[key]))]
        if "user" in payload and ("id_str" in payload or "id" in payload):
            return [Normalized("tweet", envelope=_v1_tweet(payload, raw, source_api, ingested_at))]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [Normalized("invalid", reason=f"malformed payload: {type(exc).__name__}: {exc}")]
    return [Normalized("invalid", reason=f"unrecognised payload with keys {sorted(payload)[:8]}")]


# --- helpers ----------------------------------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")
#: The reason class of a line whose JSON holds an unpaired ``\\udXXX`` escape.
LONE_SURROGATE = "lone surrogate"


def _lone_surrogate(value: Any, path: str) -> str | None:
    """Where the first lone UTF-16 surrogate sits (``text: \\ud83c at 12``), else None.

    ``json`` joins a valid escape pair; an unpaired half (from a re-serializer that
    cut a pair) has no character to stand for. Replacing it with U+FFFD would
    store a repaired text nobody could tell from the original, and no UTF-8 store
    takes it as it is, so the line is quarantined with its exact bytes instead.
    """
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        if found is None:
            return None
        return f"{path or 'value'}: \\u{ord(found.group()):04x} at character {found.start()}"
    if isinstance(value, dict):
        for key, item in value.items():
            where = _lone_surrogate(key, f"a key in {path or 'the object'}") or _lone_surrogate(
                item, f"{path}.{key}" if path else str(key)
            )
            if where is not None:
                return where
    if isinstance(value, list):
        for index, item in enumerate(value):
            where = _lone_surrogate(item, f"{path}[{index}]")
            if where is not None:
                return where
    return None


def _derive_time(envelope: dict[str, Any]) -> dict[str, Any]:
    """A tweet without ``created_at`` gets its Snowflake id's time, marked as derived.

    A v2 line requested without ``tweet.fields`` (what a default sample or
    filtered stream sends) has no time; the id holds one to the millisecond.
    """
    tweet_id = envelope.get("tweet_id")
    if envelope.get("created_at") is None and isinstance(tweet_id, str) and tweet_id.isdigit():
        derived = snowflake_time(tweet_id)
        if derived is not None:
            envelope["created_at"] = derived
            envelope["created_at_derived"] = True
    return envelope


def _short(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)[:200]


def _id(obj: Mapping[str, Any], key: str = "id") -> str | None:
    """Decimal id text from ``<key>_str`` or the numeric ``<key>`` (exact in Python)."""
    text = obj.get(f"{key}_str")
    if text:
        return str(text)
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return None
    return str(value)


def _rule_labels(rules: list[Any]) -> list[str]:
    """A rule's tag, or its id when untagged (v2 rule ids arrive as JSON numbers)."""
    labels = []
    for rule in rules:
        label = rule.get("tag") or rule.get("id") if isinstance(rule, dict) else None
        if label is not None:
            labels.append(str(label))
    return labels


def _base(
    kind: str, source_api: str | None, payload_format: str, ingested_at: str
) -> dict[str, Any]:
    return {
        "kind": kind,
        "schema_version": schema_version(),
        "source_api": source_api or payload_format,
        "payload_format": payload_format,
        "ingested_at": ingested_at,
    }


# --- v1.1 -------------------------------------------------------------------------


def _v1_time(value: Any) -> str | None:
    return parse_v1_created_at(value) if isinstance(value, str) else None


def _v1_user(user: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not user:
        return None
    return {
        "id": _id(user),
        "screen_name": user.get("screen_name"),
        "name": user.get("name"),
        "description": user.get("description"),
        "location": user.get("location"),
        "url": user.get("url"),
        "followers_count": user.get("followers_count"),
        "friends_count": user.get("friends_count"),
        "statuses_count": user.get("statuses_count"),
        "verified": user.get("verified"),
        "created_at": _v1_time(user.get("created_at")),
    }


def _v1_own_content(status: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    """A status's full text and the entities that go with it (extended first)."""
    extended = status.get("extended_tweet") or {}
    if extended.get("full_text"):
        return extended["full_text"], extended.get("entities") or {}
    text = status.get("full_text") or status.get("text")
    return text, status.get("entities") or {}


def _v1_content(status: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any], list[Any]]:
    """Text, entities and mentions, trusting the embedded original of a retweet.

    A retweet's own ``text`` is cut at 140 characters whatever its ``truncated``
    says; the original's full text and entities are in ``retweeted_status``. The
    text keeps the ``RT @user:`` form the outer one has (and v2 sends), so a
    retweet still reads as one; the retweeted user leads the mentions.
    """
    retweeted = status.get("retweeted_status")
    if not isinstance(retweeted, Mapping):
        text, entities = _v1_own_content(status)
        return text, entities, list(entities.get("user_mentions") or [])
    text, entities = _v1_own_content(retweeted)
    user = retweeted.get("user") or {}
    screen_name = user.get("screen_name")
    if screen_name and text is not None:
        text = f"RT @{screen_name}: {text}"
    outer = (status.get("entities") or {}).get("user_mentions") or []
    lead = next(
        (m for m in outer if screen_name and m.get("screen_name") == screen_name),
        {"id_str": _id(user), "screen_name": screen_name},
    )
    mentions = [lead] if user else []
    mentions += [
        m
        for m in entities.get("user_mentions") or []
        if not user or m.get("screen_name") != screen_name
    ]
    return text, entities, mentions


def _v1_quoted_id(status: Mapping[str, Any]) -> str | None:
    """``quoted_status_id_str``, else the embedded ``quoted_status``'s own id."""
    quoted = status.get("quoted_status")
    return _id(status, "quoted_status_id") or (_id(quoted) if isinstance(quoted, Mapping) else None)


def _v1_tweet(
    status: Mapping[str, Any], raw: str, source_api: str | None, ingested_at: str
) -> dict[str, Any]:
    text, entities, mentions = _v1_content(status)
    retweeted = status.get("retweeted_status")
    rules = status.get("matching_rules") or []
    envelope = _base("tweet", source_api, "v1.1", ingested_at)
    envelope.update(
        tweet_id=_id(status),
        created_at=_v1_time(status.get("created_at")),
        text=text,
        lang=status.get("lang"),
        author=_v1_user(status.get("user")),
        hashtags=[h["text"] for h in entities.get("hashtags") or []],
        mentions=[{"id": _id(m), "screen_name": m.get("screen_name")} for m in mentions],
        urls=[u.get("expanded_url") or u["url"] for u in entities.get("urls") or []],
        in_reply_to_tweet_id=_id(status, "in_reply_to_status_id"),
        in_reply_to_user_id=_id(status, "in_reply_to_user_id"),
        retweeted_tweet_id=_id(retweeted) if retweeted else None,
        quoted_tweet_id=_v1_quoted_id(status),
        matching_rules=_rule_labels(rules),
        raw=raw,
    )
    return _derive_time(envelope)


def _v1_delete(
    payload: Mapping[str, Any], raw: str, source_api: str | None, ingested_at: str
) -> Normalized:
    notice = payload["delete"]
    status = notice["status"]
    tweet_id = _id(status)
    if tweet_id is None:
        return Normalized("invalid", reason="delete notice without a status id")
    envelope = _base("delete", source_api, "v1.1", ingested_at)
    stamp = notice.get("timestamp_ms")
    envelope.update(
        tweet_id=tweet_id,
        author_id=_id(status, "user_id"),
        deleted_at=from_epoch_ms(stamp) if stamp else ingested_at,
        raw=raw,
    )
    return Normalized("delete", envelope=envelope)


# --- v2 ---------------------------------------------------------------------------


def _v2_user(user: Mapping[str, Any] | None, author_id: str | None) -> dict[str, Any] | None:
    if user is None:
        return {"id": author_id} if author_id else None
    metrics = user.get("public_metrics") or {}
    created = user.get("created_at")
    return {
        "id": str(user["id"]),
        "screen_name": user.get("username"),
        "name": user.get("name"),
        "description": user.get("description"),
        "location": user.get("location"),
        "url": user.get("url"),
        "followers_count": metrics.get("followers_count"),
        "friends_count": metrics.get("following_count"),
        "statuses_count": metrics.get("tweet_count"),
        "verified": user.get("verified"),
        "created_at": normalize_iso(created) if created else None,
    }


_RT_PREFIX = re.compile(r"RT @\w+: ")


def _v2_content(
    tweet: Mapping[str, Any], refs: Mapping[str, str], included: Mapping[str, Mapping[str, Any]]
) -> tuple[str | None, Mapping[str, Any]]:
    """Text and entities: ``note_tweet`` over ``text``, and a retweet's original when expanded.

    A v2 retweet's ``text`` is cut like v1.1's; with the ``referenced_tweets.id``
    expansion the original is in ``includes.tweets`` and gives the full text (after
    the ``RT @user:`` prefix) and the entities.
    """
    original = included.get(refs.get("retweeted") or "")
    own = original if original is not None else tweet
    note = own.get("note_tweet") or {}
    text = note.get("text") or own.get("text")
    entities = note.get("entities") or own.get("entities") or {}
    if original is not None and text is not None:
        prefix = _RT_PREFIX.match(str(tweet.get("text") or ""))
        text = (prefix.group(0) if prefix else "") + text
    return text, entities


def _v2_tweet(
    tweet: Mapping[str, Any],
    includes: tuple[Mapping[str, Mapping[str, Any]], Mapping[str, Mapping[str, Any]]],
    rules: list[Any],
    raw: str,
    source_api: str | None,
    ingested_at: str,
) -> dict[str, Any]:
    users, included = includes
    refs = {r.get("type"): str(r.get("id")) for r in tweet.get("referenced_tweets") or []}
    text, entities = _v2_content(tweet, refs, included)
    author_id = tweet.get("author_id")
    created = tweet.get("created_at")
    envelope = _base("tweet", source_api, "v2", ingested_at)
    envelope.update(
        tweet_id=str(tweet["id"]),
        created_at=normalize_iso(created) if created else None,
        text=text,
        lang=tweet.get("lang"),
        author=_v2_user(users.get(str(author_id)), str(author_id) if author_id else None),
        hashtags=[h["tag"] for h in entities.get("hashtags") or []],
        mentions=[
            {"id": str(m["id"]) if m.get("id") else None, "screen_name": m.get("username")}
            for m in entities.get("mentions") or []
        ],
        urls=[u.get("expanded_url") or u["url"] for u in entities.get("urls") or []],
        in_reply_to_tweet_id=refs.get("replied_to"),
        in_reply_to_user_id=str(tweet["in_reply_to_user_id"])
        if tweet.get("in_reply_to_user_id")
        else None,
        retweeted_tweet_id=refs.get("retweeted"),
        quoted_tweet_id=refs.get("quoted"),
        matching_rules=_rule_labels(rules),
        raw=raw,
    )
    return _derive_time(envelope)


def _v2_data(
    payload: Mapping[str, Any], raw: str, source_api: str | None, ingested_at: str
) -> list[Normalized]:
    includes = payload.get("includes") or {}
    users = {str(u["id"]): u for u in includes.get("users") or []}
    included = {str(t["id"]): t for t in includes.get("tweets") or [] if isinstance(t, dict)}
    rules = payload.get("matching_rules") or []
    errors, missing = _v2_partial_errors(payload.get("errors"))
    data = payload["data"]
    if isinstance(data, dict):
        envelope = _v2_tweet(data, (users, included), rules, raw, source_api, ingested_at)
        return [Normalized("tweet", envelope=_unresolved(envelope, missing), partial_errors=errors)]
    if not isinstance(data, list):
        return [Normalized("invalid", reason=f"v2 data is a {type(data).__name__}")]
    out: list[Normalized] = []
    for tweet in data:
        # One raw document per tweet keeps each record replayable on its own.
        author = users.get(str(tweet.get("author_id")))
        own_includes: dict[str, Any] = {"users": [author] if author else []}
        refs = [str(r.get("id")) for r in tweet.get("referenced_tweets") or []]
        if any(ref in included for ref in refs):
            own_includes["tweets"] = [included[ref] for ref in refs if ref in included]
        own: dict[str, Any] = {"data": tweet, "includes": own_includes}
        if missing & set(refs):  # the errors that name its references travel with it
            own["errors"] = [
                e
                for e in payload.get("errors") or []
                if isinstance(e, dict) and str(e.get("resource_id")) in refs
            ]
        own_raw = json.dumps(own, ensure_ascii=False, separators=(",", ":"))
        envelope = _v2_tweet(tweet, (users, included), rules, own_raw, source_api, ingested_at)
        out.append(
            Normalized(
                "tweet",
                envelope=_unresolved(envelope, missing),
                partial_errors=() if out else errors,
            )
        )
    return out


def _v2_partial_errors(errors: Any) -> tuple[tuple[str, ...], set[str]]:
    """A data line's ``errors``: one text each, and the tweet ids X could not expand."""
    if not isinstance(errors, list):
        return (), set()
    texts, missing = [], set()
    for error in errors:
        if not isinstance(error, dict):
            continue
        texts.append(str(error.get("detail") or error.get("title") or error)[:200])
        if error.get("resource_type") == "tweet" and error.get("resource_id"):
            missing.add(str(error["resource_id"]))
    return tuple(texts), missing


def _unresolved(envelope: dict[str, Any], missing: set[str]) -> dict[str, Any]:
    """Name the references (quoted, retweeted, replied to) that point at ``missing`` tweets."""
    if missing:
        refs = ("quoted_tweet_id", "retweeted_tweet_id", "in_reply_to_tweet_id")
        unresolved = [envelope[r] for r in refs if envelope.get(r) in missing]
        if unresolved:
            envelope["unresolved_tweet_ids"] = unresolved
    return envelope


def _v2_errors(payload: Mapping[str, Any]) -> Normalized:
    errors = payload.get("errors") or [payload]
    titles = [str(e.get("title") or e.get("message") or "") for e in errors if isinstance(e, dict)]
    control = "operational_disconnect" if "operational-disconnect" in titles else "errors"
    return Normalized("control", control=control, reason="; ".join(titles)[:200])


def _v2_compliance_delete(
    payload: Mapping[str, Any], raw: str, source_api: str | None, ingested_at: str
) -> Normalized:
    envelope = _base("delete", source_api, "v2", ingested_at)
    # created_at in compliance output is the tweet's, not the delete's.
    stamp = payload.get("redacted_at")
    envelope.update(
        tweet_id=str(payload["id"]),
        author_id=None,
        deleted_at=normalize_iso(stamp) if stamp else ingested_at,
        raw=raw,
    )
    return Normalized("delete", envelope=envelope)


def envelope_bytes(envelope: Mapping[str, Any]) -> bytes:
    """A Kinesis record's data: the envelope as compact JSON, newline-terminated, ASCII.

    Newline-terminated so Firehose's concatenation of records is JSON Lines.
    ASCII (anything else as ``\\u`` escapes, which every JSON reader decodes
    back) so the consumer proves a record is UTF-8 with one ``bytes.isascii()``
    instead of decoding ~6 KB (docs/consumer.md): records grow by ~3 % on the
    fixtures, and ``json.dumps`` is faster this way than with ``ensure_ascii=False``.
    """
    return json.dumps(envelope, separators=(",", ":")).encode("ascii") + b"\n"
