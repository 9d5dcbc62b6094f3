"""The project's own fixtures (tests/fixtures/twitter) cover the same cases as the
shared real captures, so a fresh clone without ../shared still tests every path.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.envelope.normalize import Normalized, normalize_line
from chalicelib.envelope.schema import validate
from chalicelib.timeutil import from_epoch_ms
from tests.paths import own_lines

INGESTED = "2026-11-24T10:00:00.000Z"


def normalize_own(name: str) -> list[Normalized]:
    out: list[Normalized] = []
    for line in own_lines(name):
        out.extend(normalize_line(line, ingested_at=INGESTED))
    return out


def envelopes(results: list[Normalized]) -> list[dict[str, Any]]:
    return [r.envelope for r in results if r.envelope is not None]


def test_v1_statuses() -> None:
    results = normalize_own("v1_statuses.jsonl")
    assert [r.kind for r in results] == ["tweet"] * 8
    ext, compat, rt, quote, reply, cyr, old, ghost = envelopes(results)

    assert ext["tweet_id"] == "1992345678901234567"  # > 2^53, exact
    assert ext["created_at"] == "2026-11-23T21:04:05.000Z"
    assert ext["text"].endswith("Full notes: https://example.org/tides")
    assert ext["hashtags"] == ["tide", "wave"]
    assert ext["mentions"] == [
        {"id": "1700000000000000002", "screen_name": "river_otter"},
        {"id": "42", "screen_name": "pier_crab"},
    ]
    assert ext["urls"] == ["https://example.org/tides"]
    assert ext["author"]["id"] == "1800000000000000001"
    assert ext["author"]["created_at"] == "2006-03-21T20:50:14.000Z"

    assert compat["tweet_id"] == ext["tweet_id"]
    assert compat["text"].endswith("https://t.co/more")  # truncated rendering

    assert rt["retweeted_tweet_id"] == "1992345678901234567"
    # The outer text of a retweet is cut whatever "truncated" says: the original's
    # extended_tweet gives the full text and the entities.
    assert rt["text"] == "RT @shore_logger: " + ext["text"]
    assert rt["hashtags"] == ["tide", "wave"]
    assert rt["urls"] == ["https://example.org/tides"]
    assert (
        rt["mentions"]
        == [{"id": "1800000000000000001", "screen_name": "shore_logger"}] + ext["mentions"]
    )
    assert (rt["author"]["screen_name"], rt["created_at"]) == (
        "river_otter",
        "2026-11-23T21:10:00.000Z",
    )
    # A +0500 offset is converted to UTC.
    assert quote["created_at"] == "2026-11-23T17:00:00.000Z"
    assert quote["quoted_tweet_id"] == "1992347500000000000"
    assert quote["author"]["location"] == ""

    assert reply["lang"] == "ar"
    assert reply["in_reply_to_tweet_id"] == "1992345678901234567"
    assert reply["in_reply_to_user_id"] == "1800000000000000001"
    assert reply["text"].startswith("@shore_logger")

    assert cyr["hashtags"] == ["езеро"]
    assert (cyr["author"]["location"], cyr["author"]["url"], cyr["author"]["description"]) == (
        None,
        None,
        None,
    )

    assert (old["tweet_id"], old["author"]["id"]) == ("6832060001", "12345678")
    assert old["created_at"] == "2009-12-19T16:01:35.000Z"

    for envelope in (ext, compat, rt, quote, reply, cyr, old):
        assert validate(envelope) == [], envelope["tweet_id"]
        assert envelope["source_api"] == envelope["payload_format"] == "v1.1"
    assert validate(ghost) == ["author.id: required"]


def test_v1_control_messages() -> None:
    results = normalize_own("v1_control.jsonl")
    assert [(r.kind, r.control) for r in results] == [
        ("delete", None),
        ("delete", None),
        ("control", "limit"),
        ("control", "warning"),
        ("control", "disconnect"),
        ("control", "scrub_geo"),
        ("control", "status_withheld"),
        ("control", "user_withheld"),
        ("control", "keep_alive"),
    ]
    modern, old = envelopes(results)
    assert (modern["tweet_id"], modern["author_id"]) == (
        "1992345678901234567",
        "1800000000000000001",
    )
    assert modern["deleted_at"] == "2026-11-23T21:06:40.000Z"  # from timestamp_ms
    assert (old["tweet_id"], old["author_id"], old["deleted_at"]) == (
        "6832060001",
        "12345678",
        INGESTED,
    )
    assert validate(modern) == validate(old) == []


def test_trailing_crlf_keep_alive_is_control() -> None:
    assert normalize_line("\r\n") == [Normalized("control", control="keep_alive")]


def test_v2_stream_lines() -> None:
    results = normalize_own("v2_stream.jsonl")
    kinds = [(r.kind, r.control) for r in results]
    assert kinds == [("tweet", None)] * 5 + [
        ("control", "keep_alive"),
        ("control", "operational_disconnect"),
        ("tweet", None),
        ("invalid", None),
    ]
    mist, reply, note, rt, quote, default = envelopes(results)

    assert mist["author"]["screen_name"] == "shore_logger"
    assert mist["author"]["followers_count"] == 100
    assert mist["author"]["friends_count"] == 50
    assert mist["author"]["statuses_count"] == 2000
    assert mist["matching_rules"] == ["lakes"]
    assert mist["hashtags"] == ["tide"]
    assert mist["urls"] == ["https://example.org/mist"]

    assert reply["author"]["screen_name"] == "mizuumi"  # found among two includes.users
    assert reply["in_reply_to_tweet_id"] == "1992360000000000001"
    assert reply["mentions"] == [{"id": "1800000000000000001", "screen_name": "shore_logger"}]
    assert reply["matching_rules"] == ["1992000000000000002"]  # numeric id > 2^53, exact

    assert note["text"].endswith("the end. #longform")  # note_tweet wins over text
    assert rt["retweeted_tweet_id"] == "1992360000000000002"
    assert quote["quoted_tweet_id"] == "1992360000000000003"
    assert quote["created_at"] == "2026-11-24T06:04:00.000Z"
    assert quote["author"] == {"id": "42"}  # not in includes: id only

    for envelope in (mist, reply, note, rt, quote, default):
        assert validate(envelope) == [], envelope["tweet_id"]
    # A line requested without fields or expansions: no author, and the time from
    # the Snowflake id, marked as derived.
    assert default["author"] is None and default["lang"] is None
    ms = (1992360000000000006 >> 22) + 1288834974657
    assert default["created_at"] == from_epoch_ms(ms) == "2025-11-22T22:30:14.915Z"
    assert default["created_at_derived"] is True
    assert "created_at_derived" not in mist
    assert (results[-1].reason or "").startswith("not JSON")


def test_v2_retweet_takes_the_expanded_original() -> None:
    """GIVEN a v2 retweet whose original came with the referenced_tweets.id expansion
    THEN the full text and the original's entities are stored, not the cut outer text."""
    (rt,) = envelopes(normalize_own("v2_retweet_expanded.jsonl"))
    (original,) = json.loads(own_lines("v2_retweet_expanded.jsonl")[0])["includes"]["tweets"]
    assert rt["text"] == "RT @shore_logger: " + original["text"]
    assert (rt["hashtags"], rt["urls"]) == (["dawn", "loons"], ["https://example.org/dawn"])
    assert rt["author"]["screen_name"] == "river_otter"
    assert rt["retweeted_tweet_id"] == "1992370000000000009"
    assert validate(rt) == []


def test_v2_lookup_array_gives_one_replayable_record_per_tweet() -> None:
    results = normalize_own("v2_lookup.json")
    one, two = envelopes(results)
    assert (one["author"]["screen_name"], two["author"]["screen_name"]) == (
        "shore_logger",
        "river_otter",
    )
    assert two["lang"] == "qst"
    for envelope in (one, two):
        assert validate(envelope) == []
        raw = json.loads(envelope["raw"])
        assert raw["data"]["id"] == envelope["tweet_id"]
        assert normalize_line(envelope["raw"], ingested_at=INGESTED)[0].envelope == envelope


def test_v2_compliance() -> None:
    results = normalize_own("v2_compliance.jsonl")
    assert [r.kind for r in results] == ["control", "delete", "delete"]
    first, second = envelopes(results)
    assert (first["tweet_id"], first["deleted_at"]) == ("1992360000000000001", INGESTED)
    assert second["deleted_at"] == "2026-11-24T09:00:00.000Z"


def test_http_error_bodies_are_control() -> None:
    results = normalize_own("http_errors.jsonl")
    assert [(r.kind, r.control) for r in results] == [("control", "errors")] * 5
    assert [r.reason for r in results] == [
        "Could not authenticate you.",
        "Rate limit exceeded",
        "Over capacity",
        "Unauthorized",
        "ConnectionException",
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        ("[1, 2]", "not a JSON object"),
        ("{", "not JSON"),
        ('{"hello": 1}', "unrecognised payload"),
        ('{"data": 5}', "v2 data is a int"),
        ('{"delete": {"status": {}}}', "delete notice without a status id"),
        ('{"user": {"id": 1}, "id": 5, "created_at": "yesterday"}', "malformed payload"),
    ],
)
def test_bad_lines_are_invalid_with_a_reason(line: str | bytes, reason: str) -> None:
    [result] = normalize_line(line, ingested_at=INGESTED)
    assert result.kind == "invalid"
    assert reason in (result.reason or "")


def test_source_override_keeps_payload_format() -> None:
    line = own_lines("v2_stream.jsonl")[0]
    [result] = normalize_line(line, source_api="replay", ingested_at=INGESTED)
    assert result.envelope is not None
    assert (result.envelope["source_api"], result.envelope["payload_format"]) == ("replay", "v2")


def test_lone_surrogate_is_quarantined_not_repaired() -> None:
    """GIVEN a status whose text holds an unpaired \\ud83c escape (a broken re-serializer)
    WHEN normalized THEN it is invalid with a reason that says where; nothing is replaced."""
    (line,) = own_lines("v1_lone_surrogate.jsonl")
    [result] = normalize_line(line, ingested_at=INGESTED)
    assert (result.kind, result.envelope) == ("invalid", None)
    assert result.reason == "lone surrogate: text: \\ud83c at character 21"
    # A valid pair is joined, as before.
    [paired] = normalize_line(line.replace("\\ud83c", "\\ud83c\\udf0a"), ingested_at=INGESTED)
    assert paired.envelope is not None and "\U0001f30a" in paired.envelope["text"]
