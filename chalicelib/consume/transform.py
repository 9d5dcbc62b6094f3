"""The consumer's pure transform: Kinesis record → decoded, validated, enriched record.

No I/O happens here, so the benchmark can time it alone and tests can drive it
with plain dicts. Every record comes out as exactly one of: a tweet ready to
store (its DynamoDB item built), a delete, or a quarantine entry that says why
(not base64, not UTF-8, not JSON, not an object, schema failures, too large for
a DynamoDB item). Nothing here raises on bad data: one poison record must not
fail the batch and block its shard.

Enrichment per tweet: ``hash_line`` (identity, see :mod:`chalicelib.dynamo.hashing`),
``processed_at`` (the injected clock, one value per batch), ``created_at``
(already canonical in the envelope), the author's profile (the envelope's
``author``), ``author_tweets_in_batch`` (distinct tweets of this author in the
batch: the issue's "author's tweet count in the period", the period being the
batch window) and ``origin``, the shard and sequence number of the record, which
the exactly-once bookkeeping in :mod:`chalicelib.consume.plan` relies on.
"""

from __future__ import annotations

import base64
import binascii
import gc
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pybase64

from chalicelib.consume.records import (
    AccountRecord,
    DeleteRecord,
    Origin,
    Transformed,
    TweetRecord,
)
from chalicelib.dynamo.attributes import MAX_ITEM_BYTES, item_size
from chalicelib.dynamo.hashing import hash_line
from chalicelib.dynamo.items import tweet_item
from chalicelib.envelope.codec import decode_valid
from chalicelib.envelope.schema import validate
from chalicelib.quarantine import QuarantineEntry
from chalicelib.timeutil import iso_utc

# An item holds the envelope minus ``raw`` plus < 1 KB of enrichment, and its
# DynamoDB size never exceeds the JSON text's length by more than a byte per
# empty list. Records whose data stays this far below the limit skip the exact
# size computation.
_SIZE_FAST_PATH = MAX_ITEM_BYTES - 4_096

# Quarantine reason classes (the prefix of every reason; the batch log counts them).
NOT_BASE64 = "not base64"
NOT_UTF8 = "not UTF-8"
NOT_JSON = "not JSON"
NOT_OBJECT = "not an object"
SCHEMA = "schema"
TOO_LARGE = "item too large"
MALFORMED_EVENT = "malformed event record"


def shard_of(record: Mapping[str, Any]) -> str:
    """``shardId-…`` from a Lambda Kinesis record's ``eventID`` (``<shard>:<sequence>``)."""
    event_id = str(record.get("eventID") or "")
    return event_id.split(":", 1)[0] or "unknown-shard"


def arrival_iso(timestamp: Any) -> str | None:
    try:
        return iso_utc(datetime.fromtimestamp(float(timestamp), tz=UTC))
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class Decoded(NamedTuple):
    """A record's data that is a valid envelope of ``kind``, without ``raw`` and without nulls."""

    raw: bytes
    kind: str
    envelope: dict[str, Any]


class Refused(NamedTuple):
    """A record's data that cannot be stored, and why."""

    raw: bytes
    reason: str


def _envelope(data: str) -> Decoded | Refused:
    """Decode and validate one record's base64 data.

    One decoder decides: pybase64, then :func:`chalicelib.envelope.codec.decode_valid`.
    ``binascii`` reads what pybase64 refuses, to word why, and because strict
    ``binascii`` takes ``=`` padding past a full quantum, which pybase64 does not.
    """
    try:
        raw = pybase64.b64decode(data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            # The event's text exactly, lone surrogates included: quarantined, not repaired.
            return Refused(data.encode("utf-8", "surrogatepass"), f"{NOT_BASE64}: {exc}")
    decoded = decode_valid(raw)
    if decoded is None:
        return _refused(raw)
    return Decoded(raw, *decoded)


def _refused(raw: bytes) -> Decoded | Refused:
    """Why the decoder refused ``raw``, in the words of the standard library and ``validate``.

    msgspec stops at the first fault and words it its own way; a quarantine
    reason lists every schema violation, so the refused bytes are read again.
    A string holding a lone ``\\udXXX`` surrogate is refused too: no UTF-8 store
    takes it (DynamoDB would refuse the whole BatchWriteItem and block the shard).
    What the standard library finds valid after all (duplicate keys: ``json``
    keeps the last, msgspec checks each) is decoded from its re-encoding.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Refused(raw, f"{NOT_UTF8}: {exc}")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return Refused(raw, f"{NOT_JSON}: {str(exc) or type(exc).__name__}")
    if not isinstance(value, dict):
        return Refused(raw, f"{NOT_OBJECT}: a JSON {type(value).__name__}")
    errors = validate(value)
    if errors:
        return Refused(raw, f"{SCHEMA}: " + "; ".join(errors))
    try:
        decoded = decode_valid(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    except UnicodeEncodeError as exc:
        return Refused(raw, f"{NOT_UTF8}: a string holds a lone surrogate ({exc.reason})")
    if decoded is None:  # the decoder and validate disagree (the tests look for such records)
        return Refused(raw, f"{SCHEMA}: refused by the decoder, though validate finds no fault")
    return Decoded(raw, *decoded)


def transform(records: Iterable[Mapping[str, Any]], processed_at: str) -> Transformed:
    """Decode, validate and enrich every record of a Lambda Kinesis batch.

    The cyclic garbage collector is paused meanwhile (and restored as it was):
    each record allocates a dozen containers, none of them in a cycle, and the
    collector would otherwise keep re-walking the growing batch (about an eighth
    of the transform's CPU time on a 10,000-record batch). Reference counting
    still frees every temporary at once.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _transform(records, processed_at)
    finally:
        if collecting:
            gc.enable()


def _transform(records: Iterable[Mapping[str, Any]], processed_at: str) -> Transformed:
    out = Transformed()
    tweets: list[TweetRecord] = []
    shards: dict[str, str] = {}
    append = out.records.append
    for record in records:
        out.total += 1
        # ``type(...) is dict`` first: the common case skips the slower ABC check.
        if type(record) is dict or isinstance(record, Mapping):
            kinesis = record.get("kinesis")
            shard = shard_of(record)
            shard = shards.setdefault(shard, shard)  # one string per shard, not per record
        else:
            kinesis, shard = None, "unknown-shard"
        if not (type(kinesis) is dict or isinstance(kinesis, Mapping)) or not isinstance(
            kinesis.get("data"), str
        ):
            out.quarantine.append(
                QuarantineEntry(
                    reason=f"{MALFORMED_EVENT}: no kinesis.data string",
                    data=json.dumps(record, default=str).encode("utf-8"),
                    shard_id=shard,
                )
            )
            continue
        sequence = str(kinesis.get("sequenceNumber", ""))
        arrival = kinesis.get("approximateArrivalTimestamp")
        if out.first_seq is None:
            out.shard_id, out.first_seq = shard, sequence
            out.first_arrival = float(arrival) if isinstance(arrival, int | float) else None
        out.last_seq = sequence
        decoded = _envelope(kinesis["data"])
        raw = decoded.raw
        if isinstance(decoded, Refused) or not sequence.isdigit():
            out.quarantine.append(
                QuarantineEntry(
                    reason=decoded.reason
                    if isinstance(decoded, Refused)
                    else f"{MALFORMED_EVENT}: sequence number {sequence[:40]!r}",
                    data=raw,
                    shard_id=shard,
                    sequence_number=sequence,
                    approximate_arrival=arrival_iso(arrival),
                )
            )
            continue
        origin = Origin(seq=int(sequence), shard=shard)
        envelope = decoded.envelope
        if decoded.kind == "delete":
            append(DeleteRecord(origin, hash_line(envelope["tweet_id"]), envelope))
            continue
        if decoded.kind == "account":
            out.accounts.append(AccountRecord(origin, envelope["author_id"], envelope))
            continue
        item = tweet_item(envelope)
        item["processed_at"] = processed_at
        item["origin"] = origin.attr()
        if len(raw) > _SIZE_FAST_PATH:
            size = item_size(item) + 64  # room for author_tweets_in_batch
            if size > MAX_ITEM_BYTES:
                out.quarantine.append(
                    QuarantineEntry(
                        reason=f"{TOO_LARGE}: {size} bytes > {MAX_ITEM_BYTES}",
                        data=raw,
                        shard_id=shard,
                        sequence_number=sequence,
                        approximate_arrival=arrival_iso(arrival),
                    )
                )
                continue
        author = item.get("author")
        tweet = TweetRecord(
            origin=origin,
            hash_line=item["hash_line"],
            tweet_id=item["tweet_id"],
            author_id=author["id"] if author else None,
            created_at=item["created_at"],
            profile=author or {},
            item=item,
        )
        tweets.append(tweet)
        append(tweet)
    _count_author_tweets(tweets)
    return out


def _count_author_tweets(tweets: list[TweetRecord]) -> None:
    """Set ``author_tweets_in_batch``: distinct tweets per author in this batch."""
    distinct: dict[str, set[str]] = {}
    for tweet in tweets:
        if tweet.author_id is not None:
            distinct.setdefault(tweet.author_id, set()).add(tweet.tweet_id)
    for tweet in tweets:
        if tweet.author_id is not None:  # no author, no count (the API shows null)
            tweet.item["author_tweets_in_batch"] = len(distinct[tweet.author_id])
