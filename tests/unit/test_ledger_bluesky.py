"""The exactly-once rules on Bluesky records: versions by ``rev``, deletes, account events.

Driven through the real consume handler against the tables' twin, like
``test_ledger``: every permutation of one post's create, update and delete,
replays included, ends in the tables one in-order delivery produces, and the
author's count is the live posts whatever happened.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from chalicelib.envelope.normalize import normalize_line
from tests.paths import bluesky_lines
from tests.support import bluesky as bs
from tests.unit.test_ledger import SHARDS, World, record

T0 = 1_748_779_200_000_000
A = bs.did(7)


def envelope(frame: dict[str, Any]) -> dict[str, Any]:
    [item] = normalize_line(json.dumps(frame), ingested_at="2025-06-01T12:01:00.000Z")
    assert item.envelope is not None, item
    return item.envelope


def post(seconds: int, text: str, rkey: str, operation: str = "create") -> dict[str, Any]:
    time_us = T0 + seconds * 1_000_000
    created = bs.iso(T0)
    return envelope(bs.commit(A, time_us, operation, rkey, record=bs.post_record(text, created)))


def deliver(world: World, envelopes: list[dict[str, Any]], start: int) -> None:
    for offset, item in enumerate(envelopes):
        world.apply([record(item, SHARDS[0], start + offset)])


def test_the_highest_rev_wins_in_any_arrival_order() -> None:
    rkey = bs.tid(T0)
    create, edit1, edit2 = (
        post(0, "v1", rkey),
        post(1, "v2", rkey, "update"),
        post(2, "v3", rkey, "update"),
    )
    outcomes = set()
    for order in itertools.permutations([create, edit1, edit2]):
        world = World()
        deliver(world, [*order, create], 1)  # and a replayed old frame last
        [item] = world.tweets.values()
        outcomes.add((item["text"], item["rev"], world.authors[A]["tweet_count"]))
    assert outcomes == {("v3", edit2["rev"], 1)}


def test_update_then_replay_of_the_creating_batch_changes_nothing() -> None:
    rkey = bs.tid(T0)
    create, edit = post(0, "v1", rkey), post(1, "v2", rkey, "update")
    world = World()
    first = [record(create, SHARDS[0], 1)]
    world.apply(first)
    counts = world.apply([record(edit, SHARDS[0], 2)])
    assert counts["updated"] == 1
    before = world.snapshot()
    world.apply(first)  # Lambda re-delivers an old batch
    assert world.snapshot() == before
    assert world.authors[A]["tweet_count"] == 1


def test_a_crash_between_phases_then_retry_counts_the_post_once() -> None:
    rkey = bs.tid(T0)
    batch = [
        record(post(0, "v1", rkey), SHARDS[0], 1),
        record(post(1, "v2", rkey, "update"), SHARDS[0], 2),
    ]
    world = World()
    world.crash(batch)
    world.apply(batch)
    [item] = world.tweets.values()
    assert item["text"] == "v2" and world.authors[A]["tweet_count"] == 1


def test_delete_in_any_order_leaves_a_tombstone_and_no_count() -> None:
    rkey = bs.tid(T0)
    create = post(0, "v1", rkey)
    delete = envelope(bs.commit(A, T0 + 5_000_000, "delete", rkey))
    for order in ([create, delete], [delete, create]):
        world = World()
        deliver(world, order, 1)
        [item] = world.tweets.values()
        assert item["status"] == "deleted"
        assert world.authors[A]["tweet_count"] == 0


def test_account_events_keep_the_newest_by_seq() -> None:
    down = envelope(bs.account(A, T0, 10, False, "takendown"))
    back = envelope(bs.account(A, T0 + 1, 11, True))
    handle = envelope(bs.identity(A, T0 + 2, 12, "lake.test"))
    for order in itertools.permutations([down, back, handle]):
        world = World()
        deliver(world, list(order), 1)
        author = world.authors[A]
        assert author["account"]["active"] is True and author["account"]["seq"] == 11
        assert author["identity"]["handle"] == "lake.test"
        assert author["tweet_count"] == 0


def test_the_fixture_file_consumes_with_its_malformed_frame_left_out() -> None:
    """Every envelope of the fixture in one batch: stored, updated, deleted, accounts kept."""
    envelopes = [n.envelope for line in bluesky_lines() for n in normalize_line(line) if n.envelope]
    world = World()
    counts = world.apply([record(e, SHARDS[1], i + 1) for i, e in enumerate(envelopes)])
    assert (counts["stored"], counts["updated"], counts["deleted"], counts["accounts"]) == (
        5,
        1,
        1,
        3,
    )
    live = [i for i in world.tweets.values() if i["status"] == "live"]
    assert len(live) == 4 and any(i["text"] == "" for i in live)
