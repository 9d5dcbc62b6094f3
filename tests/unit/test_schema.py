"""The envelope schema file, the validator that words its violations, and the
consumer's decoder refusing the same records."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.envelope.codec import decode_valid
from chalicelib.envelope.normalize import envelope_bytes
from chalicelib.envelope.schema import glue_columns, glue_type, kind_fields, load_schema, validate
from tests.envelopes import tweet_envelope

TWEET: dict[str, Any] = {
    "kind": "tweet",
    "schema_version": 1,
    "tweet_id": "1992345678901234567",
    "created_at": "2026-11-23T21:04:05.000Z",
    "text": "hello",
    "lang": "en",
    "source_api": "synthetic",
    "payload_format": "v2",
    "ingested_at": "2026-11-24T00:00:00.000Z",
    "author": {"id": "42", "screen_name": "pier_crab", "followers_count": 3, "verified": False},
    "hashtags": ["a"],
    "mentions": [{"id": "7", "screen_name": "x"}],
    "urls": [],
    "raw": "{}",
}


def broken(**changes: Any) -> dict[str, Any]:
    record = copy.deepcopy(TWEET)
    for key, value in changes.items():
        if value is ...:
            record.pop(key)
        else:
            record[key] = value
    return record


def test_a_complete_tweet_is_valid() -> None:
    assert validate(TWEET) == []


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (broken(tweet_id=...), "tweet_id: required"),
        (broken(tweet_id=1992345678901234567), "tweet_id: expected a string, got int"),
        (broken(tweet_id="12ab"), "tweet_id: '12ab' does not match"),
        (broken(tweet_id="1" * 21), "does not match ^[0-9]{1,20}$"),
        (
            broken(created_at="Wed Oct 10 20:19:24 +0000 2018"),
            "created_at: expected a UTC ISO-8601",
        ),
        (broken(created_at="2026-11-23T21:04:05+00:00"), "created_at: expected a UTC ISO-8601"),
        (broken(source_api="carrier-pigeon"), "source_api: 'carrier-pigeon' is not one of"),
        (broken(schema_version=True), "schema_version: expected an integer, got bool"),
        (broken(author={"screen_name": "x"}), "author.id: required"),
        (broken(author="42"), "author: expected an object, got str"),
        (broken(hashtags="a"), "hashtags: expected a list, got str"),
        (broken(hashtags=["a", None]), "hashtags[1]: null item"),
        (broken(mentions=[{"id": "x"}]), "mentions[0].id: 'x' does not match"),
        (broken(surprise=1), "record: unexpected field(s) ['surprise']"),
        (broken(kind="retweet"), "kind: 'retweet' is not one of ['account', 'delete', 'tweet']"),
        ([1, 2], "record: expected a JSON object, got list"),
    ],
)
def test_each_violation_is_reported(record: Any, message: str) -> None:
    assert any(message in error for error in validate(record)), validate(record)


def test_all_violations_reported_at_once() -> None:
    errors = validate(broken(tweet_id=..., text=..., lang=5))
    assert errors == ["tweet_id: required", "text: required", "lang: expected a string, got int"]


def test_null_optional_fields_are_fine() -> None:
    assert validate(broken(lang=None, hashtags=None, in_reply_to_tweet_id=None)) == []


def test_delete_kind() -> None:
    delete = {
        "kind": "delete",
        "schema_version": 1,
        "tweet_id": "5",
        "author_id": None,
        "deleted_at": "2026-11-24T00:00:00Z",
        "source_api": "v2",
        "payload_format": "v2",
        "ingested_at": "2026-11-24T00:00:00.123Z",
        "raw": "{}",
    }
    assert validate(delete) == []
    assert validate({**delete, "text": "x"}) == ["record: unexpected field(s) ['text']"]


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
    assert decode_valid(envelope_bytes(record)) is None
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

    every = [p for kind in load_schema()["kinds"] for p in patterns(kind_fields(kind))]
    assert every
    assert all(p.startswith("^") and p.endswith("$") for p in every)


@pytest.mark.parametrize("kind", [[], {}, ["tweet"], 1, None])
def test_an_odd_kind_is_a_message_not_an_exception(kind: Any) -> None:
    errors = validate({**tweet_envelope(1, 2), "kind": kind})
    assert len(errors) == 1
    assert errors[0].startswith("kind: ")
    assert decode_valid(envelope_bytes({**tweet_envelope(1, 2), "kind": kind})) is None


def test_glue_types_are_hive_strings() -> None:
    columns = dict(glue_columns())
    assert columns["tweet_id"] == "string"
    assert columns["created_at"] == "timestamp"
    assert columns["hashtags"] == "array<string>"
    assert columns["mentions"] == "array<struct<id:string,screen_name:string>>"
    assert columns["author"].startswith("struct<id:string,screen_name:string,")
    assert "raw" not in columns  # travels in the envelope, not a Parquet column
    with pytest.raises(ValueError, match="unsupported"):
        glue_type({"type": "float"})


def test_every_field_documented_and_typed() -> None:
    def walk(fields: list[Any], path: str = "") -> None:
        for field in fields:
            assert field.get("description"), f"{path}{field['name']} needs a description"
            glue_type(field)
            if field["type"] == "struct":
                walk(field["fields"], f"{path}{field['name']}.")
            if field["type"] == "array" and field["items"]["type"] == "struct":
                walk(field["items"]["fields"], f"{path}{field['name']}[].")

    for kind in load_schema()["kinds"]:
        walk(list(kind_fields(kind)))
    with pytest.raises(KeyError, match="unknown envelope kind"):
        kind_fields("retweet")
