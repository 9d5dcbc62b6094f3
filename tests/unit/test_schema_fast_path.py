"""The validator's fast path (generated from the schema) against the reference checker.

``validate_fast`` answers "valid or not" for the consumer's hot loop;
``_kind_validator`` (closures that collect every message) is the reference. The
fast path must never accept a record the reference faults, and should accept
every record it finds no fault in (else valid records only get slower).
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from chalicelib import schema
from chalicelib.normalize import normalize_line
from chalicelib.schema import validate, validate_fast
from tests.envelopes import delete_envelope, tweet_envelope
from tests.paths import OWN_TWITTER


def reference_errors(envelope: Any) -> list[str]:
    """The closure checker alone, without the fast path in front of it."""
    if not isinstance(envelope, dict) or envelope.get("kind") not in ("tweet", "delete"):
        return ["not a known kind"]
    errors: list[str] = []
    schema._kind_validator(envelope["kind"])(envelope, "", errors)
    return errors


def own_envelopes() -> list[dict[str, Any]]:
    """The valid envelopes normalized from the project's fixtures."""
    found = []
    for path in sorted(OWN_TWITTER.glob("*.json*")):
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines() if path.suffix == ".jsonl" else [text]:
            found += [n.envelope for n in normalize_line(line) if n.envelope]
    return [e for e in found if reference_errors(e) == []]


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


def test_fast_path_agrees_with_the_reference_on_mutated_envelopes() -> None:
    """GIVEN thousands of seeded random edits of valid envelopes
    THEN the fast path accepts exactly the ones the reference finds no fault in."""
    rng = random.Random(20261124)
    bases = [*own_envelopes(), tweet_envelope(1, 2), delete_envelope(3), delete_envelope(4, 5)]
    checked = accepted = 0
    for _ in range(6_000):
        record = mutate(rng.choice(bases), rng)
        expected = reference_errors(record) == []
        assert validate_fast(record) is expected, (record, reference_errors(record))
        assert (validate(record) == []) is expected
        checked += 1
        accepted += expected
    assert 0 < accepted < checked  # both sides of the line were exercised


def test_every_fixture_envelope_takes_the_fast_path() -> None:
    envelopes = own_envelopes()
    assert envelopes
    assert all(validate_fast(e) for e in envelopes)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tweet_id", "1992345678901234567\n", "tweet_id: '1992345678901234567\\n' does not match"),
        ("tweet_id", "\uff11\uff12\uff13", "tweet_id: '\uff11\uff12\uff13' does not match"),
        ("created_at", "2026-11-23T21:04:05.000Z\n", "created_at: expected a UTC ISO-8601"),
        ("created_at", "٢٠٢٦-11-23T21:04:05.000Z", "created_at: expected a UTC ISO-8601"),
        ("schema_version", 2**63, "schema_version: 9223372036854775808 does not fit"),
    ],
)
def test_patterns_match_the_whole_value_in_ascii(field: str, value: Any, message: str) -> None:
    """A trailing newline or non-ASCII digits used to pass (Python's `$` and `\\d`); the
    consumer then raised on the id and failed the whole batch."""
    record = {**tweet_envelope(1, 2), field: value}
    assert not validate_fast(record)
    assert any(message in error for error in validate(record)), validate(record)


def test_every_schema_pattern_is_anchored() -> None:
    """Patterns are matched whole (JSON Schema's `$` is the end of the text): that equals
    JSON Schema's search semantics only for patterns anchored at both ends."""

    def patterns(fields: list[Any]) -> list[str]:
        found = []
        for spec in fields:
            found += [spec["pattern"]] if "pattern" in spec else []
            found += patterns(spec.get("fields", []))
            found += patterns([spec["items"]] if "items" in spec else [])
        return found

    every = [
        p for kind in schema.load_schema()["kinds"] for p in patterns(schema.kind_fields(kind))
    ]
    assert every
    assert all(p.startswith("^") and p.endswith("$") for p in every)


@pytest.mark.parametrize("kind", [[], {}, ["tweet"], 1, None])
def test_an_odd_kind_is_a_message_not_an_exception(kind: Any) -> None:
    errors = validate({**tweet_envelope(1, 2), "kind": kind})
    assert len(errors) == 1
    assert errors[0].startswith("kind: ")
    assert not validate_fast({"kind": kind})
