"""The read API's pure parts: parameters, key bounds, cursors, shaping, documents."""

from __future__ import annotations

import itertools
import json

import pytest
from openapi_spec_validator import validate as validate_openapi

from chalicelib.api import cursor as cursors
from chalicelib.api import keys, params, shape
from chalicelib.api.docs import load_openapi, render_html
from chalicelib.api.errors import ApiError
from chalicelib.config import load_settings
from chalicelib.dynamo.items import tweet_item
from chalicelib.envelope.normalize import normalize_line
from chalicelib.envelope.schema import kind_fields
from tests.paths import own_lines
from tweetlake_local.stage import stage_environment

SETTINGS = load_settings({**stage_environment("dev"), "AWS_REGION": "us-east-1"})


class _Refused:
    """``with _Refused("invalid_limit"):`` the block raises a 400 ApiError with that code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, _tb: object) -> bool:
        assert isinstance(exc, ApiError), f"expected ApiError {self.code}, got {exc!r}"
        assert (exc.status, exc.code) == (400, self.code)
        return True


# --- ids, limit, unknown parameters --------------------------------------------------


@pytest.mark.parametrize("value", ["0", "7", "1992360000000000001", "9" * 20, "007"])
def test_ids_of_1_to_20_ascii_digits_pass(value: str) -> None:
    assert params.check_id(value, "tweet") == value


@pytest.mark.parametrize(
    "value", ["", "9" * 21, "-1", "1.0", "1e3", " 1", "\u0661\u0662", "\uff11\uff12", "0x1f"]
)
def test_other_ids_are_refused(value: str) -> None:
    with _Refused("invalid_user_id"):
        params.check_id(value, "user")


def test_limit_bounds() -> None:
    assert params.parse_limit(None) == 20
    assert params.parse_limit("1") == 1 and params.parse_limit("100") == 100
    for bad in ("0", "101", "-1", "", "1.5", "٣", "0100", "99999999999999999999"):
        with _Refused("invalid_limit"):
            params.parse_limit(bad)


def test_unknown_repeated_and_oversized_parameters() -> None:
    given = params.query_values(None)
    assert params.single_values(given, ("limit",)) == {}
    with _Refused("unknown_parameter"):
        params.single_values({"limt": ["5"]}, ("limit",))
    with _Refused("repeated_parameter"):
        params.single_values({"limit": ["5", "6"]}, ("limit",))
    with _Refused("invalid_parameter"):
        params.single_values({"cursor": ["x" * 2000]}, ("cursor",))


# --- times and key bounds --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-11-24T06:00:00Z", "2026-11-24T06:00:00.000Z"),
        ("2026-11-24t06:00:00z", "2026-11-24T06:00:00.000Z"),
        ("2026-11-24T08:00:00+02:00", "2026-11-24T06:00:00.000Z"),
        ("2026-11-24", "2026-11-24T00:00:00.000Z"),
        ("2026-11-24T06:00:00.0001Z", "2026-11-24T06:00:00.001Z"),  # rounded up, never down
        ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z"),  # leap second
        ("0005-01-01T00:00:00Z", "0005-01-01T00:00:00.000Z"),  # four-digit year kept
    ],
)
def test_times_are_canonicalised(text: str, canonical: str) -> None:
    assert params.parse_window({"since": text}).since == canonical


@pytest.mark.parametrize(
    "text",
    [
        "",
        "now",
        "2026-11-24T06:00:00",
        "2026-02-30",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:60Z",
    ],
)
def test_bad_times_are_refused(text: str) -> None:
    with _Refused("invalid_time"):
        params.parse_window({"since": text})


def test_window_must_be_ordered() -> None:
    with _Refused("invalid_time"):
        params.parse_window({"since": "2026-11-24", "until": "2026-11-24T00:00:00Z"})


def test_key_bounds_are_the_greatest_key_below() -> None:
    key = "2026-11-24T06:00:00.000Z#00000000000000000010"
    assert keys.key_before(key) == "2026-11-24T06:00:00.000Z#00000000000000000009"
    # "~" sorts above every id (20 digits, or a Bluesky DID:rkey) of that millisecond.
    assert keys.key_before("2026-11-24T06:00:00.000Z#" + "0" * 20) == "2026-11-24T05:59:59.999Z#~"
    assert keys.key_before("0001-01-01T00:00:00.000Z#" + "0" * 20) is None
    assert keys.high_for_until("2026-11-24T06:00:00.000Z") == "2026-11-24T05:59:59.999Z#~"
    assert keys.key_before_hour("2026-11-24T00") == "2026-11-23T23:59:59.999Z#~"
    assert keys.high_for_until(None) == keys.TOP


def test_bluesky_key_bounds_fall_between_neighbouring_keys() -> None:
    """Mixed X and Bluesky keys of one millisecond: each bound lies just below its key,
    above every smaller key, so paging newest first skips and repeats nothing."""
    time = "2026-11-24T06:00:00.000Z#"
    dids = ["did:plc:" + c * 24 for c in "2ab"] + ["did:web:lake.example"]
    rkeys = ["2222222222222", "3lqk7ljub322b", "3lqk7ljub322c", "3lqk7lka22222", "jzzzzzzzzzzzz"]
    ids = [f"{d}:{r}" for d in dids for r in rkeys] + ["0" * 19 + "1", "9" * 20]
    ordered = sorted(time + i for i in ids)
    for lower, key in itertools.pairwise(ordered):
        bound = keys.key_before(key)
        assert bound is not None and lower <= bound < key, (lower, bound, key)
        assert cursors.KEY_RE.fullmatch(bound), bound
    assert all(time + i < keys.key_before_hour("2026-11-24T07") for i in ids)  # type: ignore[operator]


# --- cursors -------------------------------------------------------------------------


def test_cursor_round_trip_and_tamper_detection() -> None:
    key = cursors.signing_key(SETTINGS)
    state = cursors.Cursor("user:42", "2026-11-24T00:00:00.000Z", None, keys.TOP)
    text = cursors.encode(state, key)
    assert cursors.decode(text, key) == state
    assert len(text) < cursors.MAX_CURSOR_CHARS
    body, signature = text.split(".")
    for bad in (
        f"{body}x.{signature}",
        f"{body}.{signature[::-1]}",
        body,
        f"{body}.{signature}.x",
        "." * 2,
        f"{body}=.{signature}",
        "é.é",
    ):
        with _Refused("invalid_cursor"):
            cursors.decode(bad, key)
    with _Refused("invalid_cursor"):
        cursors.decode(text, b"another key")


def test_derived_key_depends_on_the_deployment() -> None:
    env = {**stage_environment("dev"), "AWS_REGION": "us-east-1"}
    other = load_settings({**env, "TWEETLAKE_STAGE": "prod", "TWEETLAKE_TWEETS_TABLE": "t-prod"})
    assert cursors.signing_key(SETTINGS) != cursors.signing_key(other)


# --- shaping ---------------------------------------------------------------------------


def _as_attribute_values(item: dict[str, object]) -> dict[str, object]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in item.items()}


def test_shape_whitelists_and_converts() -> None:
    envelope = normalize_line(own_lines("v2_stream.jsonl")[1])[0].envelope
    assert envelope is not None
    item = tweet_item(envelope, processed_at="2026-11-24T10:00:00+00:00", author_tweets_in_batch=2)
    item["secret_bookkeeping"] = {"a", "b"}
    raw = _as_attribute_values(item)
    raw["lang"] = {"N": "5"}  # wrong type: null, not an error
    body = shape.tweet(raw)
    assert "secret_bookkeeping" not in body and "status" not in body
    assert body["processed_at"] == "2026-11-24T10:00:00.000Z"
    assert body["author_tweets_in_batch"] == 2 and type(body["author_tweets_in_batch"]) is int
    assert body["lang"] is None
    assert body["author"]["followers_count"] == 100
    json.dumps(body)  # plain JSON types only


def test_shaped_fields_match_the_openapi_document() -> None:
    schemas = load_openapi()["components"]["schemas"]
    assert set(shape.tweet({})) == set(schemas["Tweet"]["properties"])
    assert set(shape.user({})) == set(schemas["User"]["properties"])
    author = next(f for f in kind_fields("tweet") if f["name"] == "author")
    assert {f["name"] for f in author["fields"]} == set(schemas["Author"]["properties"])
    assert set(schemas["Profile"]["properties"]) == set(schemas["Author"]["properties"]) - {"id"}


def test_openapi_document_is_valid_and_docs_page_is_self_contained() -> None:
    validate_openapi(load_openapi())
    page = render_html()
    assert page.startswith("<!doctype html>")
    assert "<script" not in page and "src=" not in page and "@import" not in page
    for operation in ("listTweets", "getTweet", "getUser", "listUserTweets", "getHealth"):
        assert f'id="op-{operation}"' in page


def test_a_dids_colons_may_arrive_escaped_and_nothing_else_is_decoded() -> None:
    did = "did:plc:" + "a" * 24
    assert params.check_id(did.replace(":", "%3A"), "user") == did
    assert params.check_id(f"{did}%3a3lqk7ljub322b", "tweet") == f"{did}:3lqk7ljub322b"
    for bad in ("%31%32", "%ff%fe", "did%3Aplc%3Ashort", "12%0A", f"{did}%3A3lqk7ljub322b%0A"):
        with _Refused("invalid_tweet_id"):
            params.check_id(bad, "tweet")
