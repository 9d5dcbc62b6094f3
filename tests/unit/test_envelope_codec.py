"""The consumer's decoder (msgspec structs from the schema) against the reference.

The reference is the standard library's ``json`` plus :func:`chalicelib.envelope.schema.validate`
and the check that every string can be stored as UTF-8. ``decode_valid`` must never
accept what the reference refuses, must accept what it takes (a record refused by
mistake would be quarantined with no fault to name), and must hand over the same
envelope, minus ``raw`` and nulls.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from chalicelib.dynamo.items import ENVELOPE_ONLY, TWEET_FIELDS, drop_nulls, tweet_item
from chalicelib.envelope.codec import codec, decode_valid
from chalicelib.envelope.normalize import envelope_bytes, normalize_line
from chalicelib.envelope.schema import kind_fields, validate
from tests.envelopes import delete_envelope, tweet_envelope
from tests.paths import OWN_TWITTER


def own_envelopes() -> list[dict[str, Any]]:
    """The valid envelopes normalized from the project's fixtures."""
    found = []
    for path in sorted(OWN_TWITTER.glob("*.json*")):
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines() if path.suffix == ".jsonl" else [text]:
            found += [n.envelope for n in normalize_line(line) if n.envelope]
    return [e for e in found if validate(e) == []]


# Values that break some field somewhere: wrong types, edge integers, ids and
# times that a regex with Python's `$` or `\d` would let through.
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    1.5,
    "",
    "x",
    "12",
    "12\n",
    "\uff11\uff12",  # fullwidth digits
    "١٢",
    "0" * 20,
    "1" * 21,
    "2026-11-24T06:00:00.000Z",
    "2026-11-24T06:00:00Z",
    "2026-11-24T06:00:00.000Z\n",
    "\uff12026-11-24T06:00:00.000Z",
    "2026-11-24T06:00:00.0000000Z",
    "tweet",
    "delete",
    "v2",
    "v1.1",
    "synthetic",
    [],
    ["a"],
    [None],
    [1],
    [{}],
    [{"id": "1"}],
    [{"id": "x"}],
    [{"id": "1", "other": 1}],
    {},
    {"id": "1"},
    {"id": "1\n"},
    {"id": "1", "verified": 1},
    {"id": "1", "followers_count": True},
    {"id": "1", "surprise": "x"},
]


def mutate(envelope: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One to three random edits anywhere in the envelope (top level, author, mentions)."""
    record = copy.deepcopy(envelope)
    for _ in range(rng.randint(1, 3)):
        target: dict[str, Any] = record
        if rng.random() < 0.3 and isinstance(record.get("author"), dict):
            target = record["author"]
        elif rng.random() < 0.2 and isinstance(record.get("mentions"), list) and record["mentions"]:
            mention = rng.choice(record["mentions"])
            target = mention if isinstance(mention, dict) else record
        roll = rng.random()
        if roll < 0.1 and target:
            target.pop(rng.choice(sorted(target)))
        elif roll < 0.15:
            target[rng.choice(["surprise", "Text", "id_str"])] = "x"
        else:
            keys = sorted(target) or ["kind"]
            target[rng.choice(keys)] = copy.deepcopy(rng.choice(ODD_VALUES))
    return record


def reference(data: bytes) -> dict[str, Any] | None:
    """What the decoder should hand over for ``data``, or None when the record is refused."""
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


def fields_of(data: bytes) -> dict[str, Any] | None:
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
            assert fields_of(data) == expected, record
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
    "id with a newline": envelope_bytes({**tweet_envelope(1, 2), "tweet_id": "12\n"}),
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
        assert fields_of(data) == reference(data) is not None


def test_every_fixture_envelope_decodes() -> None:
    envelopes = own_envelopes()
    assert envelopes
    assert all(decode_valid(envelope_bytes(e)) is not None for e in envelopes)


def test_the_decoded_fields_make_the_same_item_as_the_envelope() -> None:
    """What the consumer stores is the item of the envelope the producer sent."""
    tweets = [e for e in [*own_envelopes(), tweet_envelope(7, 8)] if e["kind"] == "tweet"]
    assert len(tweets) > 5
    for envelope in tweets:
        decoded = decode_valid(envelope_bytes(envelope))
        assert decoded is not None and decoded[0] == "tweet"
        assert tweet_item(decoded[1]) == tweet_item(envelope)


def test_every_tweet_field_is_an_item_attribute_or_named_as_not_one() -> None:
    """A field added to the schema must be placed: on the item, or on the envelope only."""
    names = {spec["name"] for spec in kind_fields("tweet")}
    assert names == {*TWEET_FIELDS, "author", *ENVELOPE_ONLY, "raw"}


def test_structs_follow_the_schema_file() -> None:
    for kind, struct in codec().structs.items():
        fields = {spec["name"] for spec in kind_fields(kind)} - {"kind"}
        assert set(struct.__struct_fields__) == fields
