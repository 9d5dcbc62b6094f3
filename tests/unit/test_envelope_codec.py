"""The consumer's typed decoder (msgspec structs from the schema) against the reference.

The reference is the standard library's ``json`` plus :func:`chalicelib.schema.validate`
and the check that every string can be stored as UTF-8. ``decode_valid`` must never
accept what the reference refuses, must accept what it takes (else valid records only
get slower), and must hand over the same envelope, minus ``raw`` and nulls.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from chalicelib.envelope_codec import codec, decode_valid
from chalicelib.items import (
    ENVELOPE_ONLY,
    TWEET_FIELDS,
    drop_nulls,
    finish_tweet_item,
    tweet_item,
)
from chalicelib.normalize import envelope_bytes
from chalicelib.schema import kind_fields, validate
from tests.envelopes import delete_envelope, tweet_envelope
from tests.unit.test_schema_fast_path import mutate, own_envelopes


def reference(data: bytes) -> dict[str, Any] | None:
    """What the fast path should hand over for ``data``, or None when the record is refused."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if validate(value):
        return None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return drop_nulls({k: v for k, v in value.items() if k != "raw"})


def fast(data: bytes) -> dict[str, Any] | None:
    decoded = decode_valid(data)
    return None if decoded is None else decoded[1]


def encodings(record: dict[str, Any]) -> list[bytes]:
    """The producer's ASCII bytes and the UTF-8 bytes other writers might send."""
    return [
        envelope_bytes(record),
        json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass"),
    ]


def test_the_codec_agrees_with_the_reference_on_mutated_envelopes() -> None:
    """GIVEN thousands of seeded random edits of valid envelopes, in both encodings
    THEN the codec accepts exactly what the reference accepts, with the same fields."""
    rng = random.Random(20261124)
    bases = [*own_envelopes(), tweet_envelope(1, 2), delete_envelope(3), delete_envelope(4, 5)]
    checked = accepted = 0
    for _ in range(4_000):
        record = mutate(rng.choice(bases), rng)
        for data in encodings(record):
            expected = reference(data)
            assert fast(data) == expected, record
            checked += 1
            accepted += expected is not None
    assert 0 < accepted < checked  # both sides of the line were exercised


# Bytes only a hand-made writer sends: each one is refused by the reference, and the
# codec must refuse it too (raw is skipped, not decoded, so raw gets its own cases).
def _with_raw(raw_json: bytes) -> bytes:
    text = envelope_bytes(tweet_envelope(1, 2))
    head = text[: text.rindex(b',"raw":')]
    return head + b',"raw":' + raw_json + b"}\n"


REFUSED = {
    "raw not UTF-8": _with_raw(b'"caf\xe9"'),
    "raw lone surrogate": _with_raw(b'"a\\ud800b"'),
    "raw bad escape": _with_raw(b'"a\\qb"'),
    "raw control character": _with_raw(b'"a\x01b"'),
    "raw not a string": _with_raw(b'{"id": 1}'),
    "raw null": _with_raw(b"null"),
    "raw number": _with_raw(b"12"),
    "text not UTF-8": envelope_bytes(tweet_envelope(1, 2)).replace(b'"hello"', b'"h\xffi"'),
    "trailing garbage": envelope_bytes(tweet_envelope(1, 2)) + b"x",
    "unknown kind": envelope_bytes({**tweet_envelope(1, 2), "kind": "retweet"}),
    "no kind": envelope_bytes({k: v for k, v in tweet_envelope(1, 2).items() if k != "kind"}),
    "NaN": envelope_bytes(tweet_envelope(1, 2)).replace(
        b'"schema_version":1', b'"schema_version":NaN'
    ),
    "float version": envelope_bytes({**tweet_envelope(1, 2), "schema_version": 1.0}),
    "version past 64 bits": envelope_bytes({**tweet_envelope(1, 2), "schema_version": 2**64}),
    "timestamp with a newline": envelope_bytes(
        {**tweet_envelope(1, 2), "created_at": "2026-11-24T06:00:00.000Z\n"}
    ),
    "fullwidth id": envelope_bytes({**tweet_envelope(1, 2), "tweet_id": "\uff11"}),
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "not an object": b"[1, 2]",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_the_reference_refuses_the_codec_refuses(name: str) -> None:
    data = REFUSED[name]
    assert reference(data) is None
    assert decode_valid(data) is None


def test_a_valid_raw_with_escapes_and_non_ascii_is_accepted() -> None:
    raw = json.dumps({"text": 'caf\u00e9 \U0001f30a "quoted" \\ back', "n": [1, 2]})
    envelope = {**tweet_envelope(1, 2), "raw": raw}
    for data in encodings(envelope):
        assert fast(data) == reference(data) is not None


def test_the_fast_fields_make_the_same_item_as_the_envelope() -> None:
    """What the consumer stores does not depend on which path decoded the record."""
    tweets = [e for e in [*own_envelopes(), tweet_envelope(7, 8)] if e["kind"] == "tweet"]
    assert len(tweets) > 5
    for envelope in tweets:
        decoded = decode_valid(envelope_bytes(envelope))
        assert decoded is not None and decoded[0] == "tweet"
        fields = decoded[1]
        for name in ENVELOPE_ONLY:
            del fields[name]
        assert finish_tweet_item(fields) == tweet_item(envelope)


def test_every_tweet_field_is_an_item_attribute_or_named_as_not_one() -> None:
    """A field added to the schema must be placed: on the item, or on the envelope only."""
    names = {spec["name"] for spec in kind_fields("tweet")}
    assert names == {*TWEET_FIELDS, "author", *ENVELOPE_ONLY, "raw"}


def test_structs_follow_the_schema_file() -> None:
    for kind, struct in codec().structs.items():
        fields = {spec["name"] for spec in kind_fields(kind)} - {"kind"}
        assert set(struct.__struct_fields__) == fields
