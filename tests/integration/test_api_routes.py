"""The read API through ``chalice.test.Client`` against the moto server.

Every response below passes through :class:`ApiClient`, which validates it
against ``chalicelib/api/openapi.json``; the last test checks that every
documented (route, status) pair was produced by a real request.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from app import app
from chalicelib import aws as aws_module
from chalicelib.api import cursor as cursors
from chalicelib.api.errors import ApiError
from chalicelib.dynamo.hashing import hash_line
from tests.conftest import AwsHarness
from tests.integration.api_support import (
    INTERNAL,
    ApiClient,
    Conformance,
    base_envelopes,
    metered,
    seed,
    synthetic_envelopes,
    tombstone,
)

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
CONFORMANCE = Conformance()  # shared: every test's responses are validated


@pytest.fixture
def api(aws: AwsHarness) -> Iterator[ApiClient]:
    with Client(app, stage_name="dev") as client:
        yield ApiClient(client, CONFORMANCE)


@pytest.fixture
def fixture_tweets(aws: AwsHarness) -> list[dict[str, Any]]:
    return seed(aws.settings, base_envelopes())


def page_through(
    api: ApiClient, url: str, cursor: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a listing, following next_cursor; returns (items, pages)."""
    items: list[dict[str, Any]] = []
    pages = 0
    sep = "&" if "?" in url else "?"
    next_url = f"{url}{sep}cursor={quote(cursor)}" if cursor else url
    while True:
        response = api.get(next_url)
        assert response.status_code == 200, response.body
        body = response.json_body
        pages += 1
        items += body["items"]
        assert body["count"] == len(body["items"])
        if body["next_cursor"] is None:
            return items, pages
        next_url = f"{url}{sep}cursor={quote(body['next_cursor'])}"
        assert pages < 1000


# --- single items --------------------------------------------------------------------


def test_get_tweet_returns_the_whitelisted_item(
    api: ApiClient, fixture_tweets: list[dict[str, Any]]
) -> None:
    """GIVEN stored fixture tweets WHEN one is fetched by id THEN exactly its public fields."""
    reply = next(t for t in fixture_tweets if t["tweet_id"] == "1992360000000000002")
    response = api.get("/tweets/1992360000000000002")
    assert response.status_code == 200
    body = response.json_body
    assert body["tweet_id"] == "1992360000000000002"
    assert body["hash_line"] == hash_line("1992360000000000002") == reply["hash_line"]
    assert body["text"] == reply["text"]
    assert body["in_reply_to_tweet_id"] == "1992360000000000001"
    assert body["mentions"] == [{"id": "1800000000000000001", "screen_name": "shore_logger"}]
    assert body["author"]["id"] == "1960000000000000008"
    assert body["author"]["followers_count"] == 100
    assert body["processed_at"] == "2026-11-24T12:00:00.000Z"
    assert body["author_tweets_in_batch"] == 1
    assert not set(INTERNAL) & set(body)
    assert not {"status", "created_key", "created_hour", "author_id"} & set(body)
    assert response.headers["Cache-Control"] == "private, max-age=60"


def test_every_fixture_tweet_round_trips(
    api: ApiClient, fixture_tweets: list[dict[str, Any]]
) -> None:
    stored = {item["tweet_id"]: item for item in fixture_tweets}  # renderings collapse: last wins
    for item in stored.values():
        response = api.get(f"/tweets/{item['tweet_id']}")
        assert response.status_code == 200
        assert response.json_body["created_at"] == item["created_at"]
        assert response.json_body["hashtags"] == item.get("hashtags", [])


def test_get_tweet_is_one_getitem(api: ApiClient, aws: AwsHarness, fixture_tweets: Any) -> None:
    with metered(aws.settings) as meter:
        assert api.get("/tweets/1992360000000000001").status_code == 200
    assert meter.operations == ["GetItem"]
    assert meter.items_read(aws.settings.tweets_table) == 1


def test_deleted_tweet_is_404(api: ApiClient, aws: AwsHarness, fixture_tweets: Any) -> None:
    tombstone(aws.settings, "1992360000000000001")
    response = api.get("/tweets/1992360000000000001")
    assert response.status_code == 404
    assert response.json_body["error"] == "not_found"
    assert response.headers["Cache-Control"] == "no-store"


def test_unknown_tweet_and_user_are_404(api: ApiClient, fixture_tweets: Any) -> None:
    for url in ("/tweets/1", "/users/1", "/users/1/tweets", "/users/99999999999999999999"):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json_body["error"] == "not_found"


def test_get_user_has_profile_and_exact_count(api: ApiClient, aws: AwsHarness) -> None:
    envelopes = synthetic_envelopes(9, START, timedelta(minutes=1))
    seed(aws.settings, envelopes)
    response = api.get("/users/42")
    assert response.status_code == 200
    body = response.json_body
    assert body["user_id"] == "42"
    assert body["tweet_count"] == 3
    assert body["profile"]["screen_name"] == "shore_logger"
    assert "id" not in body["profile"]
    assert body["first_seen"] <= body["last_seen"]
    assert "counted_keys" not in body
    assert response.headers["Cache-Control"] == "private, max-age=30"


# --- listings --------------------------------------------------------------------------


def test_feed_pages_through_250_tweets_without_loss_or_repeat(
    api: ApiClient, aws: AwsHarness
) -> None:
    """GIVEN 250 tweets over ~21 hours (ties on time included) WHEN the feed is paged at 20
    THEN each tweet appears exactly once, newest first, in 13 pages."""
    envelopes = synthetic_envelopes(250, START, timedelta(minutes=5))
    items = seed(aws.settings, envelopes)
    seen, pages = page_through(api, "/tweets?limit=20")
    ids = [t["tweet_id"] for t in seen]
    assert len(ids) == len(set(ids)) == 250
    expected = [i["tweet_id"] for i in sorted(items, key=lambda i: i["created_key"], reverse=True)]
    assert ids == expected
    assert pages == 13


def test_paging_is_a_position_so_new_tweets_cause_no_repeats(
    api: ApiClient, aws: AwsHarness
) -> None:
    """GIVEN a first page read WHEN newer tweets arrive before the next page THEN the rest
    of the walk holds exactly the older tweets: nothing shifts, nothing repeats."""
    old = seed(aws.settings, synthetic_envelopes(30, START, timedelta(minutes=7)))
    first = api.get("/tweets?limit=10").json_body
    seed(aws.settings, synthetic_envelopes(5, START + timedelta(days=1), timedelta(1), first_id=9))
    rest, _ = page_through(api, "/tweets?limit=10", cursor=first["next_cursor"])
    ids = [t["tweet_id"] for t in first["items"] + rest]
    assert sorted(ids) == sorted(i["tweet_id"] for i in old)


def test_user_timeline_pages_through_every_tweet(api: ApiClient, aws: AwsHarness) -> None:
    items = seed(aws.settings, synthetic_envelopes(250, START, timedelta(minutes=5)))
    theirs = sorted(
        (i for i in items if i["author_id"] == "42"), key=lambda i: i["created_key"], reverse=True
    )
    seen, _ = page_through(api, "/users/42/tweets?limit=7")
    assert [t["tweet_id"] for t in seen] == [i["tweet_id"] for i in theirs]
    assert {t["author"]["id"] for t in seen} == {"42"}


def test_time_window_is_since_inclusive_until_exclusive(api: ApiClient, aws: AwsHarness) -> None:
    items = seed(aws.settings, synthetic_envelopes(60, START, timedelta(minutes=10)))
    since, until = "2026-11-20T02:00:00Z", "2026-11-20T05:00:00.000+00:00"
    expected = sorted(
        (
            i["tweet_id"]
            for i in items
            if "2026-11-20T02:00:00.000Z" <= i["created_at"] < "2026-11-20T05:00:00.000Z"
        ),
        reverse=True,
    )
    author_of = {i["tweet_id"]: i["author_id"] for i in items}
    # Tweets sit exactly on both bounds (every 10 minutes from midnight).
    assert author_of and {"2026-11-20T02:00:00.000Z", "2026-11-20T05:00:00.000Z"} <= {
        i["created_at"] for i in items
    }
    window = f"since={since}&until={quote(until)}"
    feed, _ = page_through(api, f"/tweets?{window}&limit=4")
    assert [t["tweet_id"] for t in feed] == expected
    timeline, _ = page_through(api, f"/users/42/tweets?{window}&limit=2")
    assert [t["tweet_id"] for t in timeline] == [t for t in expected if author_of[t] == "42"]
    # Same window written with an offset and as a bare date.
    a = api.get("/tweets?since=2026-11-20T03:00:00%2B01:00&until=2026-11-21&limit=100").json_body
    b = api.get("/tweets?since=2026-11-20T02:00:00Z&until=2026-11-21T00:00:00Z&limit=100").json_body
    assert a == b and a["count"] > 0


def test_each_page_reads_at_most_limit_plus_one_items(api: ApiClient, aws: AwsHarness) -> None:
    """GIVEN 250 tweets WHEN paging the feed and a timeline THEN every request is GetItem or
    Query (no Scan, no filter) and reads at most limit+1 tweet items."""
    seed(aws.settings, synthetic_envelopes(250, START, timedelta(minutes=5)))
    tweets, state = aws.settings.tweets_table, aws.settings.state_table
    for url, limit in (("/tweets?limit=20", 20), ("/users/42/tweets?limit=5", 5)):
        next_url, pages = url, 0
        while True:
            with metered(aws.settings) as meter:
                body = api.get(next_url).json_body
            pages += 1
            assert set(meter.operations) <= {"GetItem", "Query"}
            assert all("FilterExpression" not in c.params for c in meter.calls)
            assert meter.items_read(tweets) <= limit + 1, (next_url, meter.calls)
            assert len(meter.on(state)) <= 1  # one hour-directory Query at most
            assert len(meter.on(tweets)) <= 25
            if body["next_cursor"] is None:
                break
            next_url = f"{url}&cursor={quote(body['next_cursor'])}"
        assert pages > 3


def test_quiet_hours_are_bounded_per_request(api: ApiClient, aws: AwsHarness) -> None:
    """GIVEN one tweet in each of 30 hours WHEN asking for 100 THEN the first page stops after
    24 hour-bucket Queries with a cursor, and the second page returns the other 6."""
    seed(aws.settings, synthetic_envelopes(30, START, timedelta(hours=1), first_id=7, ties=False))
    with metered(aws.settings) as meter:
        first = api.get("/tweets?limit=100").json_body
    assert first["count"] == 24 and first["next_cursor"]
    assert meter.operations.count("Query") == 1 + 24
    second = api.get(f"/tweets?limit=100&cursor={quote(first['next_cursor'])}").json_body
    assert second["count"] == 6 and second["next_cursor"] is None
    ids = [t["tweet_id"] for t in first["items"] + second["items"]]
    assert sorted(ids, key=int, reverse=True) == ids and len(set(ids)) == 30


def test_empty_feed_and_default_limit(api: ApiClient, aws: AwsHarness) -> None:
    response = api.get("/tweets")
    assert response.json_body == {"items": [], "count": 0, "next_cursor": None}
    assert response.headers["Cache-Control"] == "private, max-age=5"
    seed(aws.settings, synthetic_envelopes(25, START, timedelta(minutes=1)))
    body = api.get("/tweets").json_body
    assert body["count"] == 20 and body["next_cursor"]
    later = api.get(f"/tweets?cursor={quote(body['next_cursor'])}")
    assert later.headers["Cache-Control"] == "private, max-age=60"
    assert later.json_body["count"] == 5


def test_deleted_tweets_drop_out_of_listings(api: ApiClient, aws: AwsHarness) -> None:
    items = seed(aws.settings, synthetic_envelopes(6, START, timedelta(minutes=1)))
    gone = items[2]["tweet_id"]
    tombstone(aws.settings, gone)
    feed = [t["tweet_id"] for t in api.get("/tweets").json_body["items"]]
    assert gone not in feed and len(feed) == 5


def test_user_with_all_tweets_deleted_is_an_empty_list(api: ApiClient, aws: AwsHarness) -> None:
    items = seed(aws.settings, synthetic_envelopes(3, START, timedelta(minutes=1), authors=["5"]))
    for item in items:
        tombstone(aws.settings, item["tweet_id"])
    response = api.get("/users/5/tweets")
    assert response.status_code == 200 and response.json_body["count"] == 0


# --- errors --------------------------------------------------------------------------


BAD_REQUESTS = [
    ("/tweets/abc", "invalid_tweet_id"),
    ("/tweets/123456789012345678901", "invalid_tweet_id"),
    ("/tweets/-1", "invalid_tweet_id"),
    ("/tweets/%31", "invalid_tweet_id"),
    ("/tweets/1.0", "invalid_tweet_id"),
    ("/users/x1", "invalid_user_id"),
    ("/users/%D9%A1", "invalid_user_id"),
    ("/users/1x/tweets", "invalid_user_id"),
    ("/tweets?limit=0", "invalid_limit"),
    ("/tweets?limit=101", "invalid_limit"),
    ("/tweets?limit=-5", "invalid_limit"),
    ("/tweets?limit=abc", "invalid_limit"),
    ("/tweets?limit=", "invalid_limit"),
    ("/tweets?limit=1e2", "invalid_limit"),
    ("/users/42/tweets?limit=1000", "invalid_limit"),
    ("/tweets?since=yesterday", "invalid_time"),
    ("/tweets?since=2026-11-24T06:00:00", "invalid_time"),
    ("/tweets?since=2026-13-01T00:00:00Z", "invalid_time"),
    ("/tweets?until=0001-01-01T00:00:00Z", "invalid_time"),
    ("/tweets?since=9999-12-31T23:59:59.9999Z", "invalid_time"),
    ("/tweets?since=2026-11-25&until=2026-11-24", "invalid_time"),
    ("/tweets?since=2026-11-24&until=2026-11-24", "invalid_time"),
    ("/users/42/tweets?until=soon", "invalid_time"),
    ("/tweets?cursor=", "invalid_cursor"),
    ("/tweets?cursor=garbage", "invalid_cursor"),
    ("/tweets?cursor=a.b.c", "invalid_cursor"),
    ("/tweets?cursor=%E2%9C%93.%E2%9C%93", "invalid_cursor"),
    ("/tweets?cursor=" + "A" * 600 + ".AA", "invalid_cursor"),
    ("/tweets?limt=5", "unknown_parameter"),
    ("/tweets/1?verbose=1", "unknown_parameter"),
    ("/users/1?x=", "unknown_parameter"),
    ("/tweets?limit=5&limit=6", "repeated_parameter"),
]


@pytest.mark.parametrize(("url", "code"), BAD_REQUESTS)
def test_bad_input_is_a_400_with_a_fix(api: ApiClient, url: str, code: str) -> None:
    response = api.get(url)
    assert response.status_code == 400, (url, response.body)
    assert response.json_body["error"] == code
    assert len(response.json_body["message"]) > 20
    assert response.headers["Cache-Control"] == "no-store"


def _forge(cursor_text: str, change: dict[str, Any], key: bytes | None) -> str:
    body, signature = cursor_text.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(change)
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    encoded = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    if key is None:
        return f"{encoded}.{signature}"  # tampered content, old signature
    return f"{encoded}.{cursors._b64(cursors._sign(key, raw))}"


def test_tampered_and_foreign_cursors_are_400(api: ApiClient, aws: AwsHarness) -> None:
    seed(aws.settings, synthetic_envelopes(30, START, timedelta(minutes=1)))
    cursor = api.get("/tweets?limit=5").json_body["next_cursor"]
    user_cursor = api.get("/users/42/tweets?limit=2").json_body["next_cursor"]
    key = cursors.signing_key(aws.settings)
    flipped = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    cases = {
        "signature": flipped,
        "content": _forge(cursor, {"high": "2030-01-01T00:00:00.000Z#00000000000000000001"}, None),
        "listing": user_cursor,
        "bad month, re-signed": _forge(
            cursor, {"high": "2026-13-01T00:00:00.000Z#" + "0" * 20}, key
        ),
        "extra field, re-signed": _forge(cursor, {"x": 1}, key),
        "version, re-signed": _forge(cursor, {"v": True}, key),
        "scope, re-signed": _forge(cursor, {"scope": "user:../x"}, key),
    }
    for what, bad in cases.items():
        response = api.get(f"/tweets?limit=5&cursor={quote(bad)}")
        assert response.status_code == 400, what
        assert response.json_body["error"] == "invalid_cursor", what
    other_window = api.get(f"/tweets?limit=5&since=2026-11-20&cursor={quote(cursor)}")
    assert other_window.status_code == 400
    assert "since" in other_window.json_body["message"]


def test_cursor_key_comes_from_ssm_when_configured(
    api: ApiClient, aws: AwsHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a SecureString key in SSM WHEN cursors are issued THEN they verify with it, and
    rotating the key turns outstanding cursors into 400s, not 500s."""
    import boto3

    seed(aws.settings, synthetic_envelopes(10, START, timedelta(minutes=1)))
    ssm = boto3.client("ssm", region_name=aws.settings.region)
    name = "/tweetlake/dev/cursor-key"
    ssm.put_parameter(Name=name, Value="k" * 40, Type="SecureString")
    monkeypatch.setenv(cursors.KEY_PARAMETER_VAR, name)
    cursors.forget_keys()
    try:
        first = api.get("/tweets?limit=3").json_body["next_cursor"]
        key = cursors.signing_key(aws.settings)
        assert cursors.decode(first, key).scope == "feed"
        monkeypatch.delenv(cursors.KEY_PARAMETER_VAR)
        with pytest.raises(ApiError):  # the derived dev key does not verify it
            cursors.decode(first, cursors.signing_key(aws.settings))
        monkeypatch.setenv(cursors.KEY_PARAMETER_VAR, name)
        assert api.get(f"/tweets?limit=3&cursor={quote(first)}").status_code == 200
        ssm.put_parameter(Name=name, Value="r" * 40, Type="SecureString", Overwrite=True)
        cursors.forget_keys()
        stale = api.get(f"/tweets?limit=3&cursor={quote(first)}")
        assert stale.status_code == 400 and stale.json_body["error"] == "invalid_cursor"
        monkeypatch.setenv(cursors.KEY_PARAMETER_VAR, "/tweetlake/dev/missing")
        missing = api.get("/tweets?limit=3")
        assert missing.status_code == 503 and missing.headers["Retry-After"]
    finally:
        cursors.forget_keys()


def test_missing_table_is_503_not_500(api: ApiClient, aws: AwsHarness) -> None:
    aws_client = aws_module.client("dynamodb", aws.settings.region)
    aws_client.delete_table(TableName=aws.settings.tweets_table)
    aws_client.delete_table(TableName=aws.settings.state_table)
    for url in ("/tweets/1", "/users/1/tweets", "/tweets", "/health"):
        response = api.get(url)
        assert response.status_code == 503, url
        assert response.json_body["error"] == "unavailable"
    aws_client.delete_table(TableName=aws.settings.authors_table)
    assert api.get("/users/1").status_code == 503


def test_throttling_is_503_with_retry_after_and_a_bad_request_of_ours_is_a_json_500(
    api: ApiClient, aws: AwsHarness
) -> None:
    """Faults injected on the app's own client with botocore's Stubber."""
    from botocore.stub import Stubber

    client = aws_module.client("dynamodb", aws.settings.region)
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_item", "ProvisionedThroughputExceededException", http_status_code=400
        )
        stub.add_client_error("get_item", "ValidationException", http_status_code=400)
        throttled = api.get("/tweets/1")
        broken = api.client.http.get("/tweets/1")
    assert throttled.status_code == 503 and throttled.headers["Retry-After"] == "1"
    assert broken.status_code == 500
    assert broken.json_body["error"] == "internal"
    assert "Validation" not in broken.json_body["message"]


def test_write_methods_are_refused(api: ApiClient) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = api.client.http.request(method, "/tweets")
        assert response.status_code == 405, method


def test_responses_allow_any_origin(api: ApiClient) -> None:
    """The preflight (OPTIONS) is checked over real HTTP in test_api_fuzz.py: the test
    client cannot represent its empty body."""
    for url in ("/tweets", "/tweets/1", "/openapi.json"):
        assert api.get(url).headers["Access-Control-Allow-Origin"] == "*"


# --- documents -------------------------------------------------------------------------


def test_openapi_and_docs_are_served(api: ApiClient) -> None:
    document = api.get("/openapi.json")
    assert document.json_body["openapi"] == "3.1.0"
    page = api.get("/docs")
    text = page.body.decode()
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<script" not in text and "http://" not in text and "https://cdn" not in text
    for operation_id in ("listTweets", "getTweet", "getUser", "listUserTweets", "getHealth"):
        assert f'id="op-{operation_id}"' in text
    assert 'id="schema-Tweet"' in text


def test_health_is_documented(api: ApiClient) -> None:
    assert api.get("/health").status_code == 200


# --- Bluesky --------------------------------------------------------------------------


def consume_bluesky_fixture(aws: AwsHarness) -> dict[str, str]:
    """The own Jetstream fixture through the real consumer; its post ids by role."""
    from chalicelib.consume.handler import handle_batch
    from chalicelib.envelope.normalize import normalize_line
    from tests.paths import bluesky_lines
    from tests.support.kinesis_events import kinesis_event, kinesis_record

    envelopes = [n.envelope for line in bluesky_lines() for n in normalize_line(line) if n.envelope]
    stream = aws.settings.stream_name
    records = [kinesis_record(e, sequence=i + 1, stream=stream) for i, e in enumerate(envelopes)]
    handle_batch(kinesis_event(records), settings=aws.settings, sink=lambda _: None)
    tweets = [e for e in envelopes if e["kind"] == "tweet"]
    return {
        "first": tweets[0]["tweet_id"],
        "image_only": tweets[1]["tweet_id"],
        "reply": tweets[2]["tweet_id"],
        "deleted": tweets[3]["tweet_id"],
        "A": tweets[0]["author"]["id"],
        "B": tweets[1]["author"]["id"],
        "C": tweets[2]["author"]["id"],
    }


def test_bluesky_posts_and_authors_are_served(api: ApiClient, aws: AwsHarness) -> None:
    ids = consume_bluesky_fixture(aws)
    first = api.get(f"/tweets/{ids['first']}")
    assert first.status_code == 200, first.body
    body = first.json_body
    assert body["tweet_id"] == ids["first"] and body["text"].endswith("(edited)")
    assert body["hashtags"] == ["湖"] and body["source_api"] == "jetstream"
    assert api.get(f"/tweets/{ids['image_only']}").json_body["text"] == ""
    reply = api.get(f"/tweets/{ids['reply']}").json_body
    assert reply["in_reply_to_tweet_id"] == ids["first"]
    assert api.get(f"/tweets/{ids['deleted']}").status_code == 404
    user = api.get(f"/users/{ids['A']}").json_body
    assert user["user_id"] == ids["A"] and user["handle"] == "lakewalker.test"
    assert user["account_status"] is None and user["tweet_count"] == 1
    timeline = api.get(f"/users/{ids['C']}/tweets").json_body
    assert [t["tweet_id"] for t in timeline["items"]][-1] == ids["reply"]


def test_a_taken_down_account_is_hidden_until_it_is_active_again(
    api: ApiClient, aws: AwsHarness
) -> None:
    """The fixture ends with B active again; a later takedown hides B's posts everywhere."""
    from chalicelib.consume.handler import handle_batch
    from chalicelib.envelope.normalize import normalize_line
    from tests.support import bluesky as bs
    from tests.support.kinesis_events import kinesis_event, kinesis_record

    ids = consume_bluesky_fixture(aws)
    assert api.get(f"/tweets/{ids['image_only']}").status_code == 200
    assert api.get(f"/users/{ids['B']}").json_body["account_status"] == "active"

    frame = bs.account(ids["B"], 1_748_779_300_000_000, 9_000_000_100, False, "suspended")
    [item] = normalize_line(json.dumps(frame))
    assert item.envelope is not None
    record = kinesis_record(item.envelope, sequence=100, stream=aws.settings.stream_name)
    handle_batch(kinesis_event([record]), settings=aws.settings, sink=lambda _: None)
    hidden = api.get(f"/tweets/{ids['image_only']}")
    assert hidden.status_code == 404 and "suspended" in hidden.json_body["message"]
    assert api.get(f"/users/{ids['B']}/tweets").status_code == 404
    assert api.get(f"/users/{ids['B']}").json_body["account_status"] == "suspended"
    feed, _ = page_through(api, "/tweets?limit=100")
    assert ids["image_only"] not in {t["tweet_id"] for t in feed}
    assert ids["first"] in {t["tweet_id"] for t in feed}


def test_a_feed_of_x_and_bluesky_posts_pages_one_by_one_without_loss_or_repeat(
    api: ApiClient, aws: AwsHarness
) -> None:
    seeded = seed(aws.settings, base_envelopes())
    ids = consume_bluesky_fixture(aws)
    items, pages = page_through(api, "/tweets?limit=1")
    got = [t["tweet_id"] for t in items]
    assert len(got) == len(set(got)) and pages >= len(got)
    expected = {s["tweet_id"] for s in seeded} | {ids["first"], ids["image_only"], ids["reply"]}
    assert set(got) >= expected and ids["deleted"] not in got
    times = [t["created_at"] for t in items]
    assert times == sorted(times, reverse=True)
    assert api.get("/tweets/did:plc:short:3lqk7ljub322b").status_code == 400
    assert api.get("/users/did:plc:UPPER").status_code == 400


def test_every_documented_response_is_produced_and_every_route_documented(
    aws: AwsHarness,
) -> None:
    """GIVEN the OpenAPI document WHEN one request per documented (route, status) is made
    THEN each response validates, and the document and the app list the same routes.
    (Every other test in this module validates its responses too.)"""
    seed(aws.settings, base_envelopes())
    conformance = Conformance()
    ok = ["/tweets", "/tweets/1992360000000000001", "/users/1800000000000000001"]
    ok += ["/users/1800000000000000001/tweets", "/openapi.json", "/docs", "/health"]
    bad = ["/tweets?limit=0", "/tweets/x", "/users/x", "/users/x/tweets"]
    missing = ["/tweets/1", "/users/1", "/users/1/tweets"]
    with Client(app, stage_name="dev") as client:
        api = ApiClient(client, conformance)
        for url in ok + bad + missing:
            api.get(url)
        dynamodb = aws_module.client("dynamodb", aws.settings.region)
        for table in (aws.settings.tweets_table, aws.settings.authors_table):
            dynamodb.delete_table(TableName=table)
        for url in ("/tweets/1", "/users/1", "/users/1/tweets", "/health"):
            api.get(url)
        aws.server.reset()  # the feed reads the state table first
        api.get("/tweets")
    assert conformance.seen == conformance.documented()
    routes = {(path, m.lower()) for path, entry in app.routes.items() for m in entry}
    assert routes == {(t, m) for t, m, _ in conformance.documented()}
