"""The synthetic source: real Twitter shapes, deterministic, long-tailed, bounded."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest

from chalicelib.envelope.normalize import normalize_line
from chalicelib.envelope.schema import validate
from chalicelib.ingest.sources.base import Source
from chalicelib.ingest.sources.synthetic import (
    TWITTER_EPOCH_MS,
    SyntheticSource,
    generate_lines,
    snowflake,
)
from tests.support.clock import ManualClock

LINES = generate_lines(11, 3000)


def test_same_seed_same_lines_other_seed_other_lines() -> None:
    assert generate_lines(11, 3000) == LINES
    assert generate_lines(12, 50) != LINES[:50]


def test_every_line_normalizes_to_a_valid_envelope_or_a_control_message() -> None:
    kinds: Counter[str] = Counter()
    controls: Counter[str] = Counter()
    for line in LINES:
        (item,) = normalize_line(line, source_api="synthetic")
        kinds[item.kind] += 1
        if item.envelope is not None:
            assert validate(item.envelope) == [], line[:300]
            assert item.envelope["source_api"] == "synthetic"
        if item.control:
            controls[item.control] += 1
    assert kinds["invalid"] == 0
    assert kinds["tweet"] > 2700 and kinds["delete"] > 10
    assert controls["keep_alive"] > 10 and controls["limit"] >= 1


def tweets() -> list[dict[str, object]]:
    out = []
    for line in LINES:
        (item,) = normalize_line(line, source_api="synthetic")
        if item.kind == "tweet" and item.envelope is not None:
            out.append(item.envelope)
    return out


def test_both_formats_and_every_kind_of_tweet_appear() -> None:
    envelopes = tweets()
    formats = Counter(e["payload_format"] for e in envelopes)
    assert formats["v1.1"] > 1000 and formats["v2"] > 1000
    for field in ("retweeted_tweet_id", "quoted_tweet_id", "in_reply_to_tweet_id"):
        assert sum(1 for e in envelopes if e[field]) > 100, field
    assert sum(1 for e in envelopes if e["hashtags"]) > 500
    assert sum(1 for e in envelopes if e["mentions"]) > 500
    langs = Counter(e["lang"] for e in envelopes)
    assert {"en", "ja", "ar", "ru", "hi", "ko", "zh"} <= set(langs)
    texts = "".join(str(e["text"]) for e in envelopes)
    assert "👩‍💻" in texts and "🇯🇵" in texts and "القاهرة" in texts
    assert any(e["payload_format"] == "v1.1" and len(str(e["text"])) > 140 for e in envelopes)


def test_ids_are_snowflakes_beyond_2_53_and_arrive_slightly_out_of_order() -> None:
    ids = [int(str(e["tweet_id"])) for e in tweets()]
    assert min(ids) > 2**53
    assert len(set(ids)) == len(ids)
    late = sum(1 for a, b in itertools.pairwise(ids) if b < a)
    assert 0.02 * len(ids) < late < 0.3 * len(ids)
    assert (ids[0] >> 22) + TWITTER_EPOCH_MS >= 1_767_225_600_000 - 3000
    assert snowflake(TWITTER_EPOCH_MS + 1, 5) == (1 << 22) | 5


def test_authors_follow_a_long_tail() -> None:
    authors = Counter(str(e["author"]["id"]) for e in tweets())  # type: ignore[index]
    assert len(authors) > 0.7 * sum(authors.values())  # most authors appear once
    assert authors.most_common(1)[0][1] >= 2  # but some return
    assert max(authors.values()) < 0.01 * sum(authors.values())  # no one dominates


def test_entity_offsets_point_at_the_text() -> None:
    checked = 0
    for line in LINES:
        if not line:
            continue
        doc = json.loads(line)
        if "data" in doc:
            text = doc["data"].get("note_tweet", {}).get("text") or doc["data"]["text"]
            entities = doc["data"].get("note_tweet", {}).get("entities") or doc["data"].get(
                "entities", {}
            )
            for tag in entities.get("hashtags", []):
                assert text[tag["start"] : tag["end"]] == "#" + tag["tag"]
                checked += 1
        elif "user" in doc:
            ext = doc.get("extended_tweet")
            text = ext["full_text"] if ext else doc["text"]
            entities = ext["entities"] if ext else doc["entities"]
            for tag in entities["hashtags"]:
                start, end = tag["indices"]
                assert text[start:end] == "#" + tag["text"]
                checked += 1
            for mention in entities["user_mentions"]:
                start, end = mention["indices"]
                assert text[start:end] == "@" + mention["screen_name"]
    assert checked > 500


def test_deletes_refer_to_tweets_generated_earlier() -> None:
    seen: set[str] = set()
    deletes = 0
    for line in LINES:
        (item,) = normalize_line(line)
        if item.kind == "tweet" and item.envelope:
            seen.add(str(item.envelope["tweet_id"]))
        elif item.kind == "delete" and item.envelope:
            assert item.envelope["tweet_id"] in seen
            deletes += 1
    assert deletes > 10


def test_source_honours_limit_and_rate() -> None:
    fake = ManualClock()
    source = SyntheticSource(3, rate=10, limit=25, start_ms=0, clock=fake, sleep=fake.sleep)
    assert isinstance(source, Source)
    lines = list(source.lines())
    assert len(lines) == 25
    assert fake.now == pytest.approx(2.4)  # line n is not before n/rate seconds
    assert source.reconnects == 0


def test_stop_ends_the_lines_promptly() -> None:
    source = SyntheticSource(3, start_ms=1_767_225_600_000)
    got = []
    for line in source.lines():
        got.append(line)
        if len(got) == 5:
            source.stop()
    assert len(got) == 5
    assert got == generate_lines(3, 5)


def test_unpaced_bounded_load_lies_in_the_past() -> None:
    """GIVEN an unpaced load of N lines WHEN generated "now" THEN no tweet is dated later."""
    import json
    import time

    from chalicelib.envelope.normalize import normalize_line
    from chalicelib.ingest.sources.synthetic import SyntheticSource

    now_iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
    source = SyntheticSource(7, limit=2000)
    created = [
        r.envelope["created_at"]
        for line in source.lines()
        for r in normalize_line(line)
        if r.kind == "tweet" and r.envelope and r.envelope.get("created_at")
    ]
    assert created and max(created) < now_iso, json.dumps(max(created))
