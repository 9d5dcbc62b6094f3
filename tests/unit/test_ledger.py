"""The exactly-once rules, driven through the consume handler against the tables' twin.

Each delivery runs ``chalicelib.consume.handler.handle_batch`` (transform, the
strongly consistent read with its projection, ``ledger.plan``, the two write
phases) against the in-memory twin of the tables, whose contract suite also
runs against DynamoDB. An invocation can "crash" between the two phases.
Every scenario is compared with one in-order, crash-free delivery of the same
batches, table by table, and against ground truth computed from the stream
itself (which tweets were posted and deleted), so a rule that is consistently
wrong still fails.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.consume.handler import handle_batch
from chalicelib.consume.repository import TableNames
from chalicelib.consume.transform import transform
from chalicelib.dynamo.hashing import hash_line
from tests.envelopes import delete_envelope, tweet_envelope
from tests.support.kinesis_events import kinesis_event, kinesis_record
from tests.support.memory_repository import InMemoryLedgerRepository, InvocationDiedError

STREAM = "tweetlake-test"
NOW = "2026-11-24T08:00:00.000Z"
SHARDS = ("shardId-000000000000", "shardId-000000000001")
SETTINGS = Settings(
    stage="test",
    region="us-east-1",
    stream_name=STREAM,
    tweets_table="tweets",
    authors_table="authors",
    state_table="state",
    lake_bucket="tweetlake-test-lake",
    source="synthetic",
)
TABLES = TableNames.of(SETTINGS)

Batch = list[dict[str, Any]]


class World:
    """The three tables (the twin) behind the real consume handler.

    The twin refuses a write phase that names one key twice, as ``BatchWriteItem``
    does, so every delivery also checks one put per key per batch and phase.
    """

    def __init__(self) -> None:
        self.repo = InMemoryLedgerRepository(TABLES)

    def apply(self, records: Batch) -> dict[str, int]:
        """One invocation of the consume function on ``records``; its counts."""
        counts = self._consume(records)
        assert counts["quarantined"] == 0
        return counts

    def crash(self, records: Batch) -> None:
        """An invocation that dies after the content phase, before the author phase."""
        assert not transform(records, NOW).quarantine
        self.repo.die_after(1)
        with pytest.raises(InvocationDiedError):
            self._consume(records)

    def _consume(self, records: Batch) -> dict[str, int]:
        return handle_batch(
            kinesis_event(records),
            settings=SETTINGS,
            repository=self.repo,
            clock=lambda: NOW,
            sink=lambda _: None,
        )

    @property
    def tweets(self) -> dict[str, dict[str, Any]]:
        return {item["hash_line"]: item for item in self.repo.items(TABLES.tweets)}

    @property
    def authors(self) -> dict[str, dict[str, Any]]:
        return {item["author_id"]: item for item in self.repo.items(TABLES.authors)}

    @property
    def hours(self) -> set[str]:
        return {item["sk"] for item in self.repo.items(TABLES.state) if item["pk"] == "hours"}

    def snapshot(self) -> tuple[Any, ...]:
        return (self.tweets, self.authors, self.hours)


def record(envelope: dict[str, Any], shard: str, seq: int) -> dict[str, Any]:
    return kinesis_record(envelope, sequence=seq, stream=STREAM, shard=shard)


def assert_ground_truth(world: World, posted: dict[str, str], deleted: set[str]) -> None:
    """Live items are exactly posted - deleted; each author's count is its live items."""
    live = {item["tweet_id"] for item in world.tweets.values() if item.get("status") == "live"}
    assert live == set(posted) - deleted
    for author_id, item in world.authors.items():
        expected = sum(1 for t in live if posted[t] == author_id)
        assert item["tweet_count"] == expected, author_id
    tombs = {i["tweet_id"] for i in world.tweets.values() if i.get("status") == "deleted"}
    assert tombs == deleted
    for item in world.tweets.values():
        if item["status"] == "deleted":
            assert "author_id" not in item and "created_key" not in item
            assert "created_hour" not in item


# --- hand-written cases --------------------------------------------------------------


def test_first_delivery_counts_and_enriches() -> None:
    world = World()
    a, b = 11, 22
    batch = [
        record(tweet_envelope(1, a, created_at="2026-11-24T06:00:00.000Z"), SHARDS[0], 10),
        record(tweet_envelope(2, a, created_at="2026-11-24T05:00:00.000Z"), SHARDS[0], 11),
        record(tweet_envelope(3, b), SHARDS[0], 12),
        record(tweet_envelope(1, a, text="dup, other rendering"), SHARDS[0], 13),
    ]
    counts = world.apply(batch)
    assert (counts["stored"], counts["duplicates"]) == (3, 1)
    author = world.authors[str(a)]
    assert author["tweet_count"] == 2
    assert (author["first_seen"], author["last_seen"]) == (
        "2026-11-24T05:00:00.000Z",
        "2026-11-24T06:00:00.000Z",
    )
    assert author["applied"] == {SHARDS[0]: "13"}
    item = world.tweets[hash_line("1")]
    assert item["text"] == "hello"  # the first copy (lower sequence number) is kept
    assert item["author_tweets_in_batch"] == 2
    assert item["origin"] == {"shard": SHARDS[0], "seq": "10"}
    assert world.hours == {"2026-11-24T05", "2026-11-24T06"}


def test_replay_three_times_changes_nothing_and_writes_nothing() -> None:
    world = World()
    batch = [record(tweet_envelope(i, 100 + i % 3), SHARDS[0], i) for i in range(1, 30)]
    batch.append(record(delete_envelope(5), SHARDS[0], 40))
    world.apply(batch)
    once = world.snapshot()
    for _ in range(3):
        counts = world.apply(batch)
        assert counts["stored"] == counts["deleted"] == 0
        assert counts["tweets_written"] == counts["authors_written"] == 0
        assert counts["hours_written"] == 0
    assert world.snapshot() == once


@pytest.mark.parametrize("order", ["after", "same_batch", "before"])
def test_delete_after_same_batch_or_before(order: str) -> None:
    tweet = record(tweet_envelope(7, 70), SHARDS[0], 5)
    other = record(tweet_envelope(8, 70), SHARDS[0], 6)
    delete = record(delete_envelope(7), SHARDS[1], 9)
    world = World()
    if order == "after":
        world.apply([tweet, other])
        world.apply([delete])
    elif order == "same_batch":
        world.apply([tweet, other, delete])
    else:  # the delete notice overtakes the tweet (another shard)
        world.apply([delete])
        world.apply([tweet, other])
    tomb = world.tweets[hash_line("7")]
    assert tomb["status"] == "deleted"
    assert world.authors["70"]["tweet_count"] == 1
    assert_ground_truth(world, {"7": "70", "8": "70"}, {"7"})
    if order != "same_batch":
        # The tombstone ends up the same whichever arrived first.
        assert tomb["deleted_author_id"] == "70"
        assert tomb["replaced"] == {"shard": SHARDS[0], "seq": "5"}


def test_late_older_profile_never_wins() -> None:
    world = World()
    new = tweet_envelope(2, 9, created_at="2026-11-24T09:00:00.000Z", followers=500)
    old = tweet_envelope(1, 9, created_at="2026-11-20T09:00:00.000Z", followers=3)
    world.apply([record(new, SHARDS[0], 1)])
    world.apply([record(old, SHARDS[0], 2)])
    author = world.authors["9"]
    assert author["profile"]["followers_count"] == 500
    assert author["profile_at"] == "2026-11-24T09:00:00.000Z"
    assert author["first_seen"] == "2026-11-20T09:00:00.000Z"
    assert author["tweet_count"] == 2


def test_crash_between_phases_then_retry_is_exact() -> None:
    """GIVEN a batch whose author write was lost WHEN Lambda retries it THEN counts are exact."""
    batch = [
        record(tweet_envelope(1, 5), SHARDS[0], 1),
        record(tweet_envelope(2, 5), SHARDS[0], 2),
        record(delete_envelope(2), SHARDS[0], 3),
        record(tweet_envelope(2, 5), SHARDS[0], 4),  # late copy: not resurrected
        record(delete_envelope(99), SHARDS[0], 5),  # delete of a tweet never seen
    ]
    clean = World()
    clean.apply(batch)
    crashed = World()
    crashed.crash(batch)
    counts = crashed.apply(batch)
    assert counts["recovered"] >= 1
    assert crashed.snapshot() == clean.snapshot()
    assert_ground_truth(crashed, {"1": "5", "2": "5"}, {"2", "99"})


# --- generated scenarios ---------------------------------------------------------------


def generate_stream(rng: random.Random, n_batches: int = 8) -> dict[str, list[Batch]]:
    """Per shard, a list of batches; authors live on one shard, some deletes on the other."""
    shard_batches: dict[str, list[Batch]] = {s: [] for s in SHARDS}
    seqs = dict.fromkeys(SHARDS, 1000)
    posted: dict[str, str] = {}
    created: dict[str, str] = {}
    next_id = 1
    for _ in range(n_batches):
        shard = rng.choice(SHARDS)
        batch: Batch = []
        for _ in range(rng.randint(1, 8)):
            seqs[shard] += rng.randint(1, 50)
            roll = rng.random()
            if roll < 0.55 or not posted:
                author = str(rng.choice([1, 2, 3, 4]) * 2 + SHARDS.index(shard))
                tweet_id = str(next_id)
                next_id += 1
                posted[tweet_id] = author
                hour = rng.choice(["05", "06", "07"])
                created[tweet_id] = f"2026-11-24T{hour}:{rng.randint(0, 59):02d}:00.000Z"
                env = tweet_envelope(
                    tweet_id, author, created_at=created[tweet_id], followers=rng.randint(0, 1000)
                )
            elif roll < 0.75:
                tweet_id = rng.choice(sorted(posted))
                author = posted[tweet_id]
                if str(SHARDS.index(shard)) != str(int(author) % 2):
                    continue  # a tweet's copies stay on its author's shard
                env = tweet_envelope(  # a later fetch of the same tweet: profile moved on
                    tweet_id,
                    author,
                    created_at=created[tweet_id],
                    text="another rendering",
                    followers=rng.randint(0, 1000),
                    ingested_at=f"2026-11-24T09:00:0{rng.randint(0, 2)}.000Z",
                )
            else:
                tweet_id = rng.choice([*sorted(posted), str(next_id + 5)])
                if int(tweet_id) % 2 != SHARDS.index(shard):
                    continue  # without an author id, the producer partitions by tweet id
                env = delete_envelope(tweet_id)
            batch.append(record(env, shard, seqs[shard]))
        if batch:
            shard_batches[shard].append(batch)
    return shard_batches


def truth(shard_batches: dict[str, list[Batch]]) -> tuple[dict[str, str], set[str]]:
    posted: dict[str, str] = {}
    deleted: set[str] = set()
    for batches in shard_batches.values():
        for batch in batches:
            for rec in transform(batch, NOW).records:
                env = rec.envelope if hasattr(rec, "envelope") else None
                if env is None:
                    posted[rec.tweet_id] = rec.author_id  # type: ignore[union-attr]
                else:
                    deleted.add(env["tweet_id"])
    return posted, deleted


def in_order(shard_batches: dict[str, list[Batch]]) -> World:
    world = World()
    for shard in SHARDS:
        for batch in shard_batches[shard]:
            world.apply(batch)
    return world


def interleave(rng: random.Random, shard_batches: dict[str, list[Batch]]) -> list[Batch]:
    """A random merge of the shards' batch lists that keeps each shard's order."""
    queues = {s: list(b) for s, b in shard_batches.items()}
    merged: list[Batch] = []
    while any(queues.values()):
        shard = rng.choice([s for s in SHARDS if queues[s]])
        merged.append(queues[shard].pop(0))
    return merged


SEEDS = range(60)


@pytest.mark.parametrize("seed", SEEDS)
def test_interleaving_replays_and_crashes_match_in_order(seed: int) -> None:
    """Lambda's guarantees (per-shard order, retry after a failure), anything else random."""
    rng = random.Random(seed)
    stream = generate_stream(rng)
    expected = in_order(stream)
    posted, deleted = truth(stream)
    assert_ground_truth(expected, posted, deleted)
    world = World()
    for batch in interleave(rng, stream):
        roll = rng.random()
        if roll < 0.3:
            world.crash(batch)  # the invocation dies after the content phase
        world.apply(batch)
        if roll > 0.7:
            world.apply(batch)  # delivered again
    assert world.snapshot() == expected.snapshot()


@pytest.mark.parametrize("seed", SEEDS)
def test_batches_out_of_order_match_in_order(seed: int) -> None:
    """Batches of one shard delivered in any order (no crash) end in the same tables."""
    rng = random.Random(1000 + seed)
    stream = generate_stream(rng)
    expected = in_order(stream)
    batches = [b for s in SHARDS for b in stream[s]]
    rng.shuffle(batches)
    world = World()
    for batch in batches:
        world.apply(batch)
    posted, deleted = truth(stream)
    assert_ground_truth(world, posted, deleted)
    # Everything but the watermark matches. ``applied`` keeps the highest sequence
    # number seen per shard, which a late lower-numbered delete cannot lower again;
    # Lambda never reorders one shard's batches, so only this test sees it differ.
    assert without_watermarks(world) == without_watermarks(expected)


def without_watermarks(world: World) -> tuple[Any, ...]:
    tweets, authors, hours = world.snapshot()
    for item in authors.values():
        item.pop("applied")
    return tweets, authors, hours


def test_a_backfilled_copy_does_not_rewrite_the_stored_tweet() -> None:
    """GIVEN a tweet stored from the stream WHEN the raw-zone backfill replays it under a
    pseudo shard with a small line number THEN nothing is rewritten and nothing recounted."""
    world = World()
    world.apply([record(tweet_envelope(1, 5), SHARDS[0], 10**20)])
    before = world.snapshot()
    counts = world.apply([record(tweet_envelope(1, 5), "shardId-backfill-0123456789ab", 3)])
    assert counts["duplicates"] == 1 and counts["tweets_written"] == 0
    tweets, authors, hours = world.snapshot()
    assert tweets == before[0] and hours == before[2]
    assert authors["5"]["tweet_count"] == 1
