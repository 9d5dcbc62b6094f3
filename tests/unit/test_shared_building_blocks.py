"""Item keys, quarantine layout and backoff: the pieces producer, consumer and API share."""

from __future__ import annotations

import base64
import json
import random

import pytest

from chalicelib.dynamo.items import created_hour, created_key, tweet_item
from chalicelib.envelope.normalize import normalize_line
from chalicelib.quarantine import QuarantineEntry, quarantine_key
from chalicelib.retry import Backoff
from tests.paths import own_lines


def test_created_key_sorts_by_time_then_numeric_id() -> None:
    keys = [
        created_key("2026-11-24T06:00:00.000Z", "99"),
        created_key("2026-11-24T06:00:00.000Z", "1000"),
        created_key("2026-11-24T05:59:59.999Z", "1992345678901234567"),
    ]
    assert sorted(keys) == [keys[2], keys[0], keys[1]]
    assert created_hour("2026-11-24T06:00:00.000Z") == "2026-11-24T06"


def test_tweet_item_has_index_attributes_and_no_raw() -> None:
    envelope = normalize_line(own_lines("v2_stream.jsonl")[0])[0].envelope
    assert envelope is not None
    item = tweet_item(envelope, processed_at="2026-11-24T10:00:00.000Z")
    assert item["author_id"] == "1800000000000000001"
    assert item["created_hour"] == "2026-11-24T06"
    assert item["created_key"].startswith("2026-11-24T06:00:01.000Z#")
    assert item["status"] == "live"
    assert item["processed_at"] == "2026-11-24T10:00:00.000Z"
    assert "raw" not in item
    assert None not in item.values()


def test_quarantine_line_and_key() -> None:
    entry = QuarantineEntry(
        reason="not JSON", data=b"\xff{", shard_id="shardId-000", sequence_number="7"
    )
    line = json.loads(entry.to_line())
    assert base64.b64decode(line["data_b64"]) == b"\xff{"
    assert (line["reason"], line["shard_id"], line["sequence_number"]) == (
        "not JSON",
        "shardId-000",
        "7",
    )
    key = quarantine_key("consumer", "2026-11-24", "shardId-000/1-9")
    assert key == "quarantine/dt=2026-11-24/consumer-shardId-000_1-9.jsonl"
    with pytest.raises(ValueError):
        quarantine_key("consumer", "24/11/2026", "x")


def test_backoff_is_bounded_and_jittered() -> None:
    slept: list[float] = []
    backoff = Backoff(
        base_s=0.1, cap_s=0.5, max_attempts=6, sleep=slept.append, rng=random.Random(1)
    )
    delays = list(backoff.delays())
    assert len(delays) == 5
    assert all(0 <= d <= min(0.5, 0.1 * 2**i) for i, d in enumerate(delays))
    backoff.wait(10)
    assert 0 <= slept[0] <= 0.5
