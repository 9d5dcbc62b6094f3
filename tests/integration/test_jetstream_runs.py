"""Scheduled Bluesky runs, gapless across a killed run: loopback Jetstream → Kinesis → DynamoDB.

Three scheduled runs against the loopback instance and the emulated account:

1. a run that ends at its deadline and checkpoints the largest ``time_us`` it sent;
2. a run in a child process, killed with SIGKILL once part of the new events
   reached Kinesis: it never checkpoints;
3. a run that resumes from the first run's checkpoint (rewound a few seconds):
   it re-sends what the killed run had sent and the overlap.

The consumer then reads the whole stream. Every post is stored exactly once
(counts per author included), the update won, the delete left a tombstone, and
the accounts carry their newest status; nothing is missing across the gap.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.aws import client
from chalicelib.consume.handler import handle_batch
from chalicelib.dynamo.attributes import from_item
from chalicelib.dynamo.hashing import hash_line
from chalicelib.ingest.checkpoint import Checkpoint
from chalicelib.ingest.handler import IngestDeps, run_ingest
from chalicelib.ingest.sources.jetstream import JetstreamSource, load_jetstream_settings
from tests.conftest import AwsHarness
from tests.paths import REPO_ROOT
from tests.streams import read_stream
from tests.support import bluesky as bs
from tests.support.fake_jetstream import FakeJetstream
from tests.support.kinesis_events import kinesis_event, kinesis_record

pytestmark = pytest.mark.integration

# Events an hour old whatever the date: inside Jetstream's replay window.
T0 = int((datetime.now(UTC) - timedelta(hours=1)).timestamp()) * 1_000_000
A, B, C = bs.did(11), bs.did(22), bs.did(33)
AUTHORS = (A, B, C)
DEADLINE = 1_000.0
MARGIN_S = 1.0
KILL_WAIT_S = 60.0


def at(seconds: float) -> int:
    return T0 + int(seconds * 1_000_000)


def post(n: int) -> dict[str, Any]:
    """Post ``n``: one a second, authors in turn."""
    time_us = at(n)
    return bs.commit(
        AUTHORS[n % 3],
        time_us,
        "create",
        bs.tid(time_us, n % 1024),
        record=bs.post_record(f"post {n} #lakes", bs.iso(time_us)),
    )


class Until:
    """The run's clock: 0 until its source yielded ``last_us``, then the deadline.

    A guard on the real clock ends a run that never sees it (the test then fails
    on what is missing) rather than hanging the suite.
    """

    def __init__(self, last_us: int) -> None:
        self.last_us = last_us
        self.source: JetstreamSource | None = None
        self.give_up = time.monotonic() + KILL_WAIT_S

    def __call__(self) -> float:
        seen = self.source.summary()["last_time_us"] if self.source else None
        done = seen is not None and seen >= self.last_us
        return DEADLINE if done or time.monotonic() > self.give_up else 0.0


def add_once_connected(server: FakeJetstream, frames: list[dict[str, Any]]) -> threading.Thread:
    """Add ``frames`` as live events once a client is subscribed (a first run has no
    cursor: Jetstream starts it at the live edge)."""

    def add() -> None:
        give_up = time.monotonic() + KILL_WAIT_S
        while server.open_connections == 0 and time.monotonic() < give_up:
            time.sleep(0.01)
        server.add(frames)

    thread = threading.Thread(target=add, daemon=True)
    thread.start()
    return thread


class Context:
    aws_request_id = "scheduled"

    def __init__(self, clock: Until) -> None:
        self.clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return int((DEADLINE + MARGIN_S - self.clock()) * 1000)


def scheduled_run(aws: AwsHarness, last_us: int) -> dict[str, Any]:
    """One in-process run that reads until it has yielded ``last_us``."""
    clock = Until(last_us)
    checkpoint = Checkpoint.for_source(
        client("dynamodb", aws.settings.region), aws.settings.state_table, "bluesky"
    ).read()
    source = JetstreamSource(
        load_jetstream_settings(os.environ),
        checkpoint_us=checkpoint,
        deadline=DEADLINE,
        clock=clock,
        sleep=lambda _: None,
    )
    clock.source = source
    return run_ingest({"id": "run"}, Context(clock), IngestDeps(clock=clock, source=source))


def stored_checkpoint(aws: AwsHarness) -> int | None:
    return Checkpoint.for_source(
        client("dynamodb", aws.settings.region), aws.settings.state_table, "bluesky"
    ).read()


def kill_mid_run(aws: AwsHarness, at_least: int) -> int:
    """Start a scheduled run in a child process (the factory builds its source from the
    environment); SIGKILL it once Kinesis holds ``at_least`` records. Returns the count."""
    code = "from chalicelib.ingest.handler import run_ingest; run_ingest({'id': 'killed'}, None)"
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        give_up = time.monotonic() + KILL_WAIT_S  # a guard, not a measurement
        kinesis = client("kinesis", aws.settings.region)
        while (count := len(read_stream(kinesis, aws.settings.stream_name))) < at_least:
            assert child.poll() is None, "the run ended by itself"
            assert time.monotonic() < give_up, f"only {count} records after {KILL_WAIT_S} s"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
        return count
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def consume_everything(aws: AwsHarness) -> Counter[str]:
    """The whole stream through the consume handler, shard by shard, 25 records a batch."""
    totals: Counter[str] = Counter()
    records = read_stream(client("kinesis", aws.settings.region), aws.settings.stream_name)
    by_shard: dict[str, list[Any]] = {}
    for record in records:
        by_shard.setdefault(record.shard_id, []).append(record)
    for shard, shard_records in by_shard.items():
        events = [
            kinesis_record(
                r.data, sequence=r.sequence_number, stream=aws.settings.stream_name, shard=shard
            )
            for r in shard_records
        ]
        for start in range(0, len(events), 25):
            counts = handle_batch(
                kinesis_event(events[start : start + 25]),
                settings=aws.settings,
                sink=lambda _: None,
            )
            totals.update(counts)
    return totals


def quarantined(aws: AwsHarness) -> list[dict[str, Any]]:
    """Every quarantine entry in the lake bucket."""
    s3 = client("s3", aws.settings.region)
    listed = s3.list_objects_v2(Bucket=aws.settings.lake_bucket, Prefix="quarantine/")
    entries = []
    for obj in listed.get("Contents", []):
        body = s3.get_object(Bucket=aws.settings.lake_bucket, Key=obj["Key"])["Body"].read()
        entries += [json.loads(line) for line in body.decode("utf-8").splitlines()]
    return entries


def table(aws: AwsHarness, name: str) -> list[dict[str, Any]]:
    dynamodb = client("dynamodb", aws.settings.region)
    return [
        from_item(item)
        for page in dynamodb.get_paginator("scan").paginate(TableName=name)
        for item in page["Items"]
    ]


@pytest.fixture
def jetstream(aws: AwsHarness, monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeJetstream() as server:
        for key, value in {
            "TWEETLAKE_SOURCE": "bluesky",
            "TWEETLAKE_JETSTREAM_URLS": server.url,
            "TWEETLAKE_JETSTREAM_REWIND_S": "5",
            "TWEETLAKE_PRODUCER_LINGER_S": "0",
            "TWEETLAKE_SAFETY_MARGIN_S": str(MARGIN_S),
        }.items():
            monkeypatch.setenv(key, value)
        yield server


def test_two_scheduled_runs_around_a_killed_one_store_every_post_exactly_once(
    aws: AwsHarness, jetstream: FakeJetstream
) -> None:
    first = [post(n) for n in range(20)] + [bs.identity(A, at(19.5), 100, "lakes.test")]
    adding = add_once_connected(jetstream, first)
    summary = scheduled_run(aws, first[-1]["time_us"])
    adding.join()
    assert "cursor" not in jetstream.requests[0]  # the first run starts at the live edge
    assert summary["sent"] == 21 and summary["stopped_by"] == "deadline"
    assert stored_checkpoint(aws) == first[-1]["time_us"]
    assert summary["source"]["connections"] == 1

    # While no run is reading: an update, a delete, a takedown, a like, more posts.
    edited = bs.commit(
        A, at(20.2), "update", first[0]["commit"]["rkey"],
        record=bs.post_record("post 0, edited", bs.iso(at(0))),
    )  # fmt: skip
    second = [post(n) for n in range(21, 41)] + [
        edited,
        bs.commit(B, at(20.4), "delete", first[1]["commit"]["rkey"]),
        bs.account(C, at(20.6), 101, False, "takendown"),
        bs.commit(A, at(20.8), "create", bs.tid(at(20.8)), collection="app.bsky.feed.like"),
    ]
    jetstream.add(second)
    sent_before_kill = kill_mid_run(aws, at_least=21 + 5)
    assert stored_checkpoint(aws) == first[-1]["time_us"]  # the killed run never got there

    third = [post(n) for n in range(41, 50)] + [
        bs.account(C, at(50), 102, True),
        bs.account(B, at(50.5), 103, False, "deactivated"),
    ]
    # A post whose text is not a string: quarantined with its reason, the run goes on.
    malformed = bs.commit(A, at(49.5), "create", bs.tid(at(49.5)), record={"text": ["x"]})
    jetstream.add([*third, malformed])
    summary = scheduled_run(aws, third[-1]["time_us"])
    assert stored_checkpoint(aws) == third[-1]["time_us"]
    # Resumed 5 s before the first run's checkpoint: frames from 14.5 s on
    # (the like is filtered out by the server).
    assert jetstream.requests[-1]["cursor"] == [str(first[-1]["time_us"] - 5_000_000)]
    assert summary["sent"] == 6 + len(second) - 1 + len(third)
    assert summary["quarantined"] == 1
    [entry] = quarantined(aws)
    assert entry["reason"] == "jetstream: record.text is list, not a string"
    assert json.loads(base64.b64decode(entry["data_b64"])) == malformed

    totals = consume_everything(aws)
    assert totals["records"] >= sent_before_kill + summary["sent"]
    assert totals["duplicates"] > 0 and totals["quarantined"] == 0

    tweets = {item["hash_line"]: item for item in table(aws, aws.settings.tweets_table)}
    posted = {f"{e['did']}:{e['commit']['rkey']}": e["did"] for e in first + second + third
              if e["kind"] == "commit" and e["commit"]["operation"] == "create"
              and e["commit"]["collection"] == bs.POST}  # fmt: skip
    deleted = f"{B}:{first[1]['commit']['rkey']}"
    assert set(tweets) == {hash_line(t) for t in posted}  # nothing missing, nothing extra
    live = {item["tweet_id"] for item in tweets.values() if item["status"] == "live"}
    assert live == set(posted) - {deleted}
    assert tweets[hash_line(deleted)]["status"] == "deleted"
    assert tweets[hash_line(f"{A}:{first[0]['commit']['rkey']}")]["text"] == "post 0, edited"

    authors = {item["author_id"]: item for item in table(aws, aws.settings.authors_table)}
    for author in AUTHORS:
        assert authors[author]["tweet_count"] == sum(1 for t in live if posted[t] == author)
    assert authors[A]["identity"]["handle"] == "lakes.test"
    assert authors[B]["account"]["status"] == "deactivated"
    assert authors[C]["account"]["active"] is True and authors[C]["account"]["seq"] == 102
    assert json.dumps(totals)  # the counts are plain numbers
