"""The lake tells the API's truth: one row per accepted tweet, none once deleted.

A stream with everything that used to make them disagree (duplicates, a delete before
its tweet and one after, an author withdrawn by a compliance job, bad records) goes
through the local readers (the consumer with its lake publisher, the raw Firehose)
against moto; then the ``tweets`` view, the API and DynamoDB are asked the same
questions.
"""

from __future__ import annotations

import functools
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from app import app
from chalicelib import aws as aws_module
from chalicelib.consume.handler import handle_batch
from chalicelib.dynamo.attributes import from_item
from chalicelib.envelope.normalize import normalize_line
from chalicelib.envelope.schema import validate
from chalicelib.timeutil import iso_utc
from tests.conftest import AwsHarness
from tests.envelopes import delete_envelope
from tests.support.sample import envelope_line, posted, sample_envelopes
from tweetlake_local.poller import MemoryCheckpoints, local_readers
from tweetlake_ops.sql import run

pytestmark = pytest.mark.integration


@pytest.fixture
def drained(aws: AwsHarness, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """GIVEN 40 tweets posted in the last hour, 5 of them sent twice, a delete that comes
    before its tweet and one after, every tweet of one author withdrawn by a compliance
    job ("suspended"), and two bad records WHEN the readers drain the stream THEN
    (yielded) the ids each kind of record touched and the lake folder."""
    now = datetime.now(UTC)
    tweets = posted(sample_envelopes(40, seed=23), now - timedelta(hours=1))
    for tweet in tweets[1:4] + tweets[10:12]:  # one author of several tweets, another of two
        tweet["author"] = dict(tweets[0 if tweet in tweets[1:4] else 9]["author"])
    by_id = {t["tweet_id"]: t for t in tweets}
    suspended = tweets[0]["author"]["id"]
    others = [t for t in tweets if t["author"]["id"] != suspended]
    early, late = others[0]["tweet_id"], others[1]["tweet_id"]
    duplicates = [t["tweet_id"] for t in others[2:7]]
    received = iso_utc(now)

    def delete(tweet_id: str) -> dict[str, Any]:
        return delete_envelope(tweet_id, deleted_at=received) | {"ingested_at": received}

    withdrawn = []
    for tweet in tweets:
        if tweet["author"]["id"] == suspended:
            line = {"id": tweet["tweet_id"], "action": "delete", "reason": "suspended",
                    "created_at": tweet["created_at"]}  # fmt: skip
            (normalized,) = normalize_line(json.dumps(line), ingested_at=received)
            assert normalized.envelope is not None
            withdrawn.append(normalized.envelope)
    no_time = {k: v for k, v in others[8].items() if k != "created_at"} | {"tweet_id": "77"}
    assert validate(no_time)

    kinesis = aws_module.client("kinesis", aws.settings.region)

    def send(items: list[tuple[bytes, str]]) -> None:
        for data, key in items:  # one call each: order on a shard is the order sent
            kinesis.put_record(StreamName=aws.settings.stream_name, Data=data, PartitionKey=key)

    def author_of(tweet_id: str) -> str:
        return str(by_id[tweet_id]["author"]["id"])

    send([(envelope_line(delete(early)), author_of(early))])
    send([(envelope_line(t), t["author"]["id"]) for t in tweets])
    send([(envelope_line(by_id[i]), author_of(i)) for i in duplicates])
    send([(envelope_line(delete(late)), author_of(late))])
    send([(envelope_line(e), suspended) for e in withdrawn])
    send([(b'{"kind": "tweet", "text": "cut', "x"), (envelope_line(no_time), "y")])

    lake = tmp_path / "lake"
    consumer = functools.partial(handle_batch, sink=lambda line: None)
    poller = local_readers(
        aws.settings,
        consumer,
        lake_dir=lake,
        checkpoints=MemoryCheckpoints(),
        batching_window_s=0,
        interval_s=0.01,
    )
    poller.drain()
    poller.close()
    buried = {late} | {e["tweet_id"] for e in withdrawn}  # stored, then deleted
    yield {"lake": lake, "tweets": tweets, "gone": buried | {early}, "buried": buried, "now": now}


def live_items(settings: Any) -> list[dict[str, Any]]:
    dynamodb = aws_module.client("dynamodb", settings.region)
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=settings.tweets_table):
        items += [from_item(i) for i in page["Items"]]
    return [i for i in items if i.get("status") == "live"]


def api_feed(since: datetime) -> list[dict[str, Any]]:
    """Every tweet ``GET /tweets`` lists since ``since``, following the cursors."""
    items: list[dict[str, Any]] = []
    url = f"/tweets?limit=100&since={quote(iso_utc(since))}"
    with Client(app, stage_name="dev") as client:
        page_url = url
        while True:
            response = client.http.get(page_url)
            assert response.status_code == 200, response.body
            body = json.loads(response.body)
            items += body["items"]
            if body["next_cursor"] is None:
                return items
            page_url = f"{url}&cursor={quote(body['next_cursor'])}"


def test_rows_analysts_query_are_the_api_live_tweets(
    aws: AwsHarness, drained: dict[str, Any]
) -> None:
    expected = {t["tweet_id"] for t in drained["tweets"]} - drained["gone"]
    live = {str(i["tweet_id"]) for i in live_items(aws.settings)}
    listed = {str(t["tweet_id"]) for t in api_feed(drained["now"] - timedelta(days=8))}
    rows = run("SELECT tweet_id FROM tweets", drained["lake"]).rows
    lake_ids = [str(r[0]) for r in rows]
    assert live == listed == expected
    assert sorted(lake_ids) == sorted(expected)  # one row each: no duplicate, no deleted
    assert not drained["gone"] & set(lake_ids)
    # The base table holds what the consumer published: no quarantined or unknown-time row.
    nulls = run(
        "SELECT count(*) FROM tweet_versions WHERE created_at IS NULL OR tweet_id = '77'",
        drained["lake"],
    ).rows
    assert nulls == [(0,)]
    # Hidden at once: the deleted tweets' rows are there, each under a tombstone.
    tombstones = run("SELECT tweet_id FROM tweet_versions WHERE kind = 'delete'", drained["lake"])
    assert {str(r[0]) for r in tombstones.rows} == drained["buried"]
    assert len(drained["buried"]) >= 3


def tweet_kind(item: dict[str, Any]) -> str:
    for field, label in (
        ("retweeted_tweet_id", "retweet"),
        ("quoted_tweet_id", "quote"),
        ("in_reply_to_tweet_id", "reply"),
    ):
        if item.get(field):
            return label
    return "original"


def shares(labels: list[str]) -> list[tuple[str, int]]:
    return sorted(Counter(labels).items(), key=lambda kv: (-kv[1], kv[0]))


def test_named_queries_answer_what_dynamodb_and_the_api_hold(
    aws: AwsHarness, drained: dict[str, Any]
) -> None:
    live = live_items(aws.settings)
    lake = drained["lake"]
    per_hour: Counter[datetime] = Counter()
    for item in live:
        created = datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00"))
        per_hour[created.replace(minute=0, second=0, microsecond=0)] += 1
    assert run("tweets_per_hour", lake).rows == sorted(per_hour.items())

    tags: Counter[str] = Counter(t for i in live for t in {h.lower() for h in i["hashtags"]})
    top = sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    assert run("top_hashtags", lake).rows == top

    by_author: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in live:
        by_author[str(item["author_id"])].append(item)
    authors = run("top_authors", lake).rows
    with Client(app, stage_name="dev") as client:
        for author_id, screen_name, count in authors:
            user = json.loads(client.http.get(f"/users/{author_id}").body)
            assert count == user["tweet_count"] == len(by_author[author_id])
            newest = max(by_author[author_id], key=lambda i: str(i["created_at"]))
            assert screen_name == newest["author"]["screen_name"]
    assert len(authors) == min(20, len(by_author))

    languages = shares([str(i.get("lang") or "und") for i in live])
    assert [(lang, n) for lang, n, _ in run("language_mix", lake).rows] == languages
    kinds = shares([tweet_kind(i) for i in live])
    assert [(kind, n) for kind, n, _ in run("tweet_kinds", lake).rows] == kinds


def test_a_bluesky_post_deleted_and_one_edited_reach_the_lake_as_the_api_sees_them(
    aws: AwsHarness, tmp_path: Path
) -> None:
    """GIVEN three Bluesky posts on the stream, then an edit of one and a delete commit of
    another WHEN the readers drain and the purge runs THEN the view shows the two live
    posts, the edited one by its new text, and no lake object holds the deleted post's id
    or text any more (byte search), while its request is marked purged."""
    import gzip

    from chalicelib.purge.request_log import read_requests
    from tests.support import bluesky as bs
    from tweetlake_local.purge import purge_once

    now = datetime.now(UTC)
    start = int((now - timedelta(minutes=30)).timestamp()) * 1_000_000
    author = bs.did(3)
    texts = ["morning on the pier", "a heron, unmoved", "fog until noon"]
    frames = [
        bs.commit(author, start + i, "create", bs.tid(start + i),
                  record=bs.post_record(text, bs.iso(start + i)))
        for i, text in enumerate(texts)
    ]  # fmt: skip
    keep, edit, gone = (f["commit"]["rkey"] for f in frames)
    frames.append(
        bs.commit(author, start + 10, "update", edit,
                  record=bs.post_record("a heron, finally moved", bs.iso(start + 1)))
    )  # fmt: skip
    frames.append(bs.commit(author, start + 11, "delete", gone))
    kinesis = aws_module.client("kinesis", aws.settings.region)
    for frame in frames:
        (item,) = normalize_line(json.dumps(frame), ingested_at=iso_utc(now))
        assert item.envelope is not None
        kinesis.put_record(
            StreamName=aws.settings.stream_name,
            Data=envelope_line(item.envelope),
            PartitionKey=author,
        )
    lake = tmp_path / "lake"
    poller = local_readers(
        aws.settings,
        functools.partial(handle_batch, sink=lambda line: None),
        lake_dir=lake,
        checkpoints=MemoryCheckpoints(),
        batching_window_s=0,
        interval_s=0.01,
    )
    poller.drain()
    poller.close()

    shown = dict(run("SELECT tweet_id, text FROM tweets", lake).rows)
    assert shown == {
        f"{author}:{keep}": "morning on the pier",
        f"{author}:{edit}": "a heron, finally moved",
    }
    live = {str(i["tweet_id"]) for i in live_items(aws.settings)}
    assert live == set(shown)

    summary = purge_once(aws.settings, lake, settle_s=0)
    assert summary.purged == 1
    deleted_id = f"{author}:{gone}".encode()
    for path in lake.rglob("*"):
        if path.is_file():
            body = path.read_bytes()
            data = gzip.decompress(body) if path.suffix == ".gz" else body
            assert deleted_id not in data and b"fog until noon" not in data, path
    (request,) = read_requests(
        aws_module.client("dynamodb", aws.settings.region),
        aws.settings.state_table,
        pending_only=False,
    )
    assert request.tweet_id == f"{author}:{gone}" and request.purged_at
