"""The consume function end to end: chalice.test.Client → handler → moto's DynamoDB and S3."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import aws
from chalicelib.config import ConfigError
from chalicelib.consume.handler import handle_batch
from chalicelib.dynamo.hashing import hash_line
from chalicelib.dynamo.items import TWEET_FIELDS, tweet_item
from chalicelib.envelope.normalize import normalize_line
from chalicelib.envelope.schema import validate
from chalicelib.retry import Backoff
from tests.conftest import AwsHarness
from tests.envelopes import delete_envelope, tweet_envelope
from tests.integration.dynamo_faults import DynamoFaults
from tests.paths import SHARED_TWITTER, own_lines, shared_fixture
from tests.support.kinesis_events import kinesis_event, kinesis_record
from tweetlake_local.resources import create_resources

pytestmark = pytest.mark.integration

OWN_FILES = ("v1_statuses.jsonl", "v2_stream.jsonl", "v2_lookup.json", "v1_control.jsonl")
SHARD0, SHARD1 = "shardId-000000000000", "shardId-000000000001"


def envelopes_from(lines: list[str]) -> list[dict[str, Any]]:
    return [n.envelope for line in lines for n in normalize_line(line) if n.envelope]


def valid_tweets(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in envelopes if e["kind"] == "tweet" and not validate(e)]


def event_of(
    settings: Any, envelopes: list[Any], start: int = 1, shard: str = SHARD0
) -> dict[str, Any]:
    return kinesis_event(
        kinesis_record(e, sequence=start + i, stream=settings.stream_name, shard=shard)
        for i, e in enumerate(envelopes)
    )


def consume(event: dict[str, Any]) -> dict[str, Any]:
    with Client(app, stage_name="dev") as client:
        payload: dict[str, Any] = client.lambda_.invoke("consume", event).payload
    return payload


def scan(settings: Any) -> dict[str, list[dict[str, Any]]]:
    """Full contents of the three tables (tests may scan; the app never does)."""
    from chalicelib.dynamo.attributes import from_item

    dynamodb = aws.client("dynamodb", settings.region)
    out: dict[str, list[dict[str, Any]]] = {}
    for name in (settings.tweets_table, settings.authors_table, settings.state_table):
        items: list[dict[str, Any]] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            items += [from_item(i) for i in page["Items"]]
        out[name] = sorted(items, key=lambda i: json.dumps(i, sort_keys=True))
    return out


def fresh(aws_h: AwsHarness) -> None:
    aws_h.server.reset()
    aws.reset_clients()
    create_resources(aws_h.settings)


@pytest.fixture
def settings(aws: AwsHarness) -> Iterator[Any]:
    yield aws.settings


def assert_stored_once(settings: Any, tweets: list[dict[str, Any]]) -> None:
    tables = scan(settings)
    items = {i["hash_line"]: i for i in tables[settings.tweets_table]}
    by_id: dict[str, dict[str, Any]] = {}
    for envelope in tweets:
        by_id.setdefault(envelope["tweet_id"], envelope)  # the first copy is kept
    assert set(items) == {hash_line(t) for t in by_id}
    for tweet_id, envelope in by_id.items():
        item = items[hash_line(tweet_id)]
        expected = tweet_item(envelope)
        for name in (*TWEET_FIELDS, "author", "author_id", "created_key", "created_hour"):
            assert item.get(name) == expected.get(name), (tweet_id, name)
        assert item["status"] == "live"
        assert item["processed_at"].endswith("Z")
        assert item.get("author_tweets_in_batch", 1) >= 1
        assert ("author_tweets_in_batch" in item) == (envelope["author"] is not None)
    authors = {a["author_id"]: a for a in tables[settings.authors_table]}
    for author_id, author in authors.items():
        mine = [t for t in by_id.values() if (t["author"] or {}).get("id") == author_id]
        assert author["tweet_count"] == len(mine)
        assert author["first_seen"] == min(t["created_at"] for t in mine)
        assert author["last_seen"] == max(t["created_at"] for t in mine)
    hours = {i["sk"] for i in tables[settings.state_table] if i["pk"] == "hours"}
    assert hours == {t["created_at"][:13] for t in by_id.values()}


def test_every_own_fixture_tweet_is_stored_once_with_its_fields(settings: Any) -> None:
    envelopes = [e for name in OWN_FILES for e in envelopes_from(own_lines(name))]
    tweets = valid_tweets(envelopes)
    result = consume(event_of(settings, tweets))
    assert result["stored"] == len({t["tweet_id"] for t in tweets})
    assert result["duplicates"] == len(tweets) - result["stored"]
    assert result["quarantined"] == 0
    assert_stored_once(settings, tweets)


def test_every_shared_fixture_tweet_is_stored_once(settings: Any) -> None:
    shared_fixture("PROVENANCE.md")
    lines: list[str] = []
    for path in sorted(SHARED_TWITTER.iterdir()):
        if path.suffix == ".jsonl":
            lines += path.read_text(encoding="utf-8").splitlines()
        elif path.suffix == ".json":
            lines.append(path.read_text(encoding="utf-8"))
    tweets = valid_tweets(envelopes_from(lines))
    assert len(tweets) > 10
    result = consume(event_of(settings, tweets))
    assert result["stored"] == len({t["tweet_id"] for t in tweets})
    assert_stored_once(settings, tweets)


def test_bad_records_are_quarantined_and_good_ones_stored(settings: Any) -> None:
    good = tweet_envelope(101, 1)
    bad = [
        ("not base64", kinesis_record(b"", sequence=2, stream=settings.stream_name, encoded="%%")),
        ("not UTF-8", kinesis_record(b"\xc3\x28", sequence=3, stream=settings.stream_name)),
        ("not JSON", kinesis_record("{oops", sequence=4, stream=settings.stream_name)),
        ("not an object", kinesis_record("42", sequence=5, stream=settings.stream_name)),
        (
            "schema",
            kinesis_record({"kind": "tweet"}, sequence=6, stream=settings.stream_name),
        ),
        (
            "item too large",
            kinesis_record(
                tweet_envelope(107, 1, text="é" * 210_000), sequence=7, stream=settings.stream_name
            ),
        ),
    ]
    records = [
        kinesis_record(good, sequence=1, stream=settings.stream_name),
        *[r for _, r in bad],
        kinesis_record(tweet_envelope(108, 2), sequence=8, stream=settings.stream_name),
    ]
    result = consume(kinesis_event(records))
    assert (result["stored"], result["quarantined"], result["records"]) == (2, 6, 8)

    s3 = aws.client("s3", settings.region)
    listing = s3.list_objects_v2(Bucket=settings.lake_bucket, Prefix="quarantine/")
    keys = [o["Key"] for o in listing["Contents"]]
    assert keys == [f"quarantine/dt=2025-11-24/consumer-{SHARD0}-1-8.jsonl"]
    body = s3.get_object(Bucket=settings.lake_bucket, Key=keys[0])["Body"].read()
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert [line["reason"].split(":")[0] for line in lines] == [reason for reason, _ in bad]
    for line, (_, record) in zip(lines, bad, strict=True):
        assert line["shard_id"] == SHARD0
        assert line["sequence_number"] == record["kinesis"]["sequenceNumber"]
        assert line["approximate_arrival"] == "2025-11-24T16:00:00.000Z"
        if record["kinesis"]["data"] != "%%":
            assert base64.b64decode(line["data_b64"]) == base64.b64decode(record["kinesis"]["data"])
    assert "required" in lines[4]["reason"]

    consume(kinesis_event(records))  # a retried batch overwrites its own object
    again = s3.list_objects_v2(Bucket=settings.lake_bucket, Prefix="quarantine/")
    assert [o["Key"] for o in again["Contents"]] == keys
    tweets = scan(settings)[settings.tweets_table]
    assert {t["tweet_id"] for t in tweets} == {"101", "108"}


def test_replay_three_times_leaves_the_tables_as_one_delivery(settings: Any) -> None:
    envelopes = [e for name in OWN_FILES for e in envelopes_from(own_lines(name))]
    envelopes += [delete_envelope(t["tweet_id"]) for t in valid_tweets(envelopes)[:3]]
    event = event_of(settings, envelopes)
    first = consume(event)
    once = scan(settings)
    for _ in range(3):
        again = consume(event)
        assert again["stored"] == again["deleted"] == 0
        assert again["tweets_written"] == again["authors_written"] == 0
    assert scan(settings) == once
    assert first["deleted"] == 3


def run(aws_h: AwsHarness, batches: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    fresh(aws_h)
    for event in batches:
        handle_batch(event, clock=lambda: "2026-11-24T10:00:00.000Z", sink=lambda _: None)
    return scan(aws_h.settings)


def test_out_of_order_and_repeated_batches_match_in_order_delivery(aws: AwsHarness) -> None:
    """GIVEN batches where a tweet repeats across batches and one author spans them,
    WHEN they arrive in reverse, interleaved across shards, or repeated,
    THEN every table equals one in-order delivery."""
    s = aws.settings
    a = event_of(s, [tweet_envelope(1, 10), tweet_envelope(2, 10)], start=100)
    b = event_of(
        s,
        [tweet_envelope(1, 10, text="copy"), tweet_envelope(3, 10, followers=99)],
        start=200,
    )
    c = event_of(s, [tweet_envelope(4, 21), tweet_envelope(5, 21)], start=100, shard=SHARD1)
    in_order = run(aws, [a, b, c])
    assert run(aws, [b, a, c]) == in_order
    assert run(aws, [c, b, a]) == in_order
    assert run(aws, [a, c, a, b, b, c]) == in_order
    author = next(i for i in in_order[s.authors_table] if i["author_id"] == "10")
    assert author["tweet_count"] == 3
    # The three tweets share created_at: the profile of the highest id (3) is the newest.
    assert author["profile"]["followers_count"] == 99


@pytest.mark.parametrize("when", ["before", "same_batch", "after"])
def test_delete_removes_the_tweet_and_corrects_the_count(aws: AwsHarness, when: str) -> None:
    s = aws.settings
    tweets = [tweet_envelope(7, 70), tweet_envelope(8, 70)]
    delete = delete_envelope(7)
    if when == "after":
        batches = [event_of(s, tweets, start=10), event_of(s, [delete], start=20)]
    elif when == "same_batch":
        batches = [event_of(s, [*tweets, delete], start=10)]
    else:  # the notice overtakes the tweet: it travels on another shard
        batches = [event_of(s, [delete], start=5, shard=SHARD1), event_of(s, tweets, start=10)]
    fresh(aws)
    results = [consume(event) for event in batches]
    tables = scan(s)
    items = {i["tweet_id"]: i for i in tables[s.tweets_table]}
    assert items["7"]["status"] == "deleted"
    assert "author_id" not in items["7"] and "created_hour" not in items["7"]
    assert items["8"]["status"] == "live"
    assert tables[s.authors_table][0]["tweet_count"] == 1
    assert sum(r["deleted"] for r in results) == 1
    # A late copy of the deleted tweet is not resurrected.
    late = consume(event_of(s, [tweet_envelope(7, 70, text="late")], start=30))
    assert late["suppressed"] == 1 and late["stored"] == 0
    tables_after = scan(s)
    assert {i["tweet_id"]: i["status"] for i in tables_after[s.tweets_table]} == {
        "7": "deleted",
        "8": "live",
    }
    assert tables_after[s.authors_table][0]["tweet_count"] == 1
    dynamodb = aws_client(s)
    timeline = dynamodb.query(
        TableName=s.tweets_table,
        IndexName="by_author",
        KeyConditionExpression="author_id = :a",
        ExpressionAttributeValues={":a": {"S": "70"}},
    )
    assert [i["tweet_id"]["S"] for i in timeline["Items"]] == ["8"]


def aws_client(settings: Any) -> Any:
    return aws.client("dynamodb", settings.region)


def test_throttling_and_unprocessed_items_on_a_third_of_calls(aws: AwsHarness) -> None:
    """GIVEN every third DynamoDB call throttled or half-unprocessed
    WHEN a 600-record batch is consumed through the Lambda handler
    THEN the tables equal a fault-free run: nothing lost, nothing doubled."""
    s = aws.settings
    envelopes = [tweet_envelope(1000 + i, 1 + i % 37, followers=i) for i in range(560)]
    envelopes += [tweet_envelope(1000 + i, 1 + i % 37) for i in range(0, 40)]  # duplicates
    envelopes += [delete_envelope(1000 + i) for i in range(0, 560, 14)]
    event = event_of(s, envelopes)
    clean = run(aws, [event])
    fresh(aws)
    faults = DynamoFaults(aws_client(s), every=3)
    try:
        result = handle_batch(
            event,
            clock=lambda: "2026-11-24T10:00:00.000Z",
            backoff=Backoff(sleep=lambda _: None),
            sink=lambda _: None,
        )
    finally:
        faults.remove()
    assert faults.throttled > 0 and faults.held_back > 0
    assert scan(s) == clean
    assert result["stored"] == 560 and result["deleted"] == 40
    live = [i for i in clean[s.tweets_table] if i["status"] == "live"]
    assert len(live) == 520
    assert sum(a["tweet_count"] for a in clean[s.authors_table]) == 520


def test_throttling_through_the_chalice_client_loses_nothing(aws: AwsHarness) -> None:
    s = aws.settings
    envelopes = [tweet_envelope(5000 + i, 1 + i % 11) for i in range(120)]
    faults = DynamoFaults(aws_client(s), every=3)
    try:
        result = consume(event_of(s, envelopes))
    finally:
        faults.remove()
    assert faults.calls >= 3
    assert result["stored"] == 120
    tables = scan(s)
    assert len(tables[s.tweets_table]) == 120
    assert sum(a["tweet_count"] for a in tables[s.authors_table]) == 120


def test_a_batch_from_another_stream_is_a_config_error(settings: Any) -> None:
    event = kinesis_event([kinesis_record(tweet_envelope(1, 1), sequence=1, stream="other")])
    with pytest.raises(ConfigError, match="TWEETLAKE_STREAM"):
        handle_batch(event)


def test_a_tweet_without_author_or_time_is_stored_and_served(aws: AwsHarness) -> None:
    """GIVEN a v2 line requested without fields or expansions (id and text only)
    WHEN the consumer takes it THEN it is stored with author null and the time derived
    from the Snowflake id, marked as derived in DynamoDB, the API and the Parquet row."""
    from tweetlake_local.parquet import to_row

    line = next(x for x in own_lines("v2_stream.jsonl") if "default fields only" in x)
    (envelope,) = envelopes_from([line])
    counts = consume(event_of(aws.settings, [envelope]))
    assert (counts["stored"], counts["quarantined"]) == (1, 0)

    tables = scan(aws.settings)
    (item,) = tables[aws.settings.tweets_table]
    assert item["created_at_derived"] is True
    assert item["created_at"] == "2025-11-22T22:30:14.915Z"
    assert not {"author", "author_id"} & item.keys()
    assert tables[aws.settings.authors_table] == []

    with Client(app, stage_name="dev") as client:
        body = client.http.get("/tweets/1992360000000000006").json_body
        assert (body["author"], body["created_at_derived"]) == (None, True)
        assert body["author_tweets_in_batch"] is None
        listed = client.http.get("/tweets?since=2025-11-22T00:00:00Z").json_body["items"]
        assert [t["tweet_id"] for t in listed] == ["1992360000000000006"]

    row = to_row(envelope)
    assert (row["author"], row["created_at_derived"]) == (None, True)
