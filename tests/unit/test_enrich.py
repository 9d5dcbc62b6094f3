"""The pure transform: each bad-input class quarantined with its reason, good records enriched."""

from __future__ import annotations

import base64
import json

from chalicelib.consume.records import Origin, TweetRecord
from chalicelib.consume.transform import transform
from chalicelib.dynamo.hashing import hash_line
from chalicelib.envelope.normalize import normalize_line
from tests.envelopes import delete_envelope, tweet_envelope
from tests.paths import own_lines
from tests.support.kinesis_events import kinesis_record

STREAM = "s"
NOW = "2026-11-24T08:00:00.000Z"


def rec(data: object, seq: int, **kw: object) -> dict[str, object]:
    return kinesis_record(data, sequence=seq, stream=STREAM, **kw)  # type: ignore[arg-type]


def test_each_bad_class_is_quarantined_with_its_reason_and_the_rest_kept() -> None:
    big = tweet_envelope(3, 1, text="x" * 420_000)
    not_object = rec("[1, 2]", 4)
    batch = transform(
        [
            rec(tweet_envelope(1, 1), 1),
            rec(b"", 2, encoded="@@not base64@@"),
            rec(b"\xff\xfe{}", 3),
            rec("{not json", 5),
            not_object,
            rec({**tweet_envelope(6, 1), "tweet_id": 6, "lang": None, "extra": 1}, 6),
            rec(big, 7),
            rec(delete_envelope(1), 8),
        ],
        NOW,
    )
    reasons = [e.reason for e in batch.quarantine]
    assert [r.split(":")[0] for r in reasons] == [
        "not base64",
        "not UTF-8",
        "not JSON",
        "not an object",
        "schema",
        "item too large",
    ]
    schema_reason = reasons[4]
    assert "tweet_id: expected a string" in schema_reason
    assert "unexpected field(s) ['extra']" in schema_reason
    assert batch.quarantine[1].data == b"\xff\xfe{}"
    assert batch.quarantine[2].sequence_number == "5"
    assert batch.quarantine[2].approximate_arrival == "2025-11-24T16:00:00.000Z"
    assert [type(r).__name__ for r in batch.records] == ["TweetRecord", "DeleteRecord"]
    assert batch.reason_counts()["schema"] == 1
    assert (batch.total, batch.first_seq, batch.last_seq) == (8, "1", "8")


def test_enrichment_fields() -> None:
    lines = own_lines("v2_stream.jsonl")
    envelopes = [n.envelope for line in lines for n in normalize_line(line) if n.envelope]
    records = [rec(e, 100 + i) for i, e in enumerate(envelopes)]
    batch = transform(records, NOW)
    tweets = [r for r in batch.records if isinstance(r, TweetRecord)]
    assert tweets
    for tweet in tweets:
        item = tweet.item
        assert item["hash_line"] == hash_line(item["tweet_id"]) == tweet.hash_line
        assert item["processed_at"] == NOW
        assert item["created_at"] == tweet.created_at
        assert item["origin"] == {"shard": "shardId-000000000000", "seq": str(tweet.origin.seq)}
        assert "raw" not in item
        if tweet.author_id is None:  # the default-fields line: no author, nothing by author
            assert not {"author", "author_id", "author_tweets_in_batch"} & item.keys()
            assert item["created_at_derived"] is True
            continue
        assert item["author"]["id"] == item["author_id"] == tweet.author_id
        same_author = {t.tweet_id for t in tweets if t.author_id == tweet.author_id}
        assert item["author_tweets_in_batch"] == len(same_author)
        assert "created_at_derived" not in item
    assert [t.author_id for t in tweets].count(None) == 1


def test_author_tweets_in_batch_counts_distinct_tweets() -> None:
    batch = transform(
        [
            rec(tweet_envelope(1, 9), 1),
            rec(tweet_envelope(1, 9, text="again"), 2),
            rec(tweet_envelope(2, 9), 3),
            rec(tweet_envelope(3, 8), 4),
        ],
        NOW,
    )
    counts = [r.item["author_tweets_in_batch"] for r in batch.records if isinstance(r, TweetRecord)]
    assert counts == [2, 2, 2, 1]


def test_sequence_numbers_compare_as_integers() -> None:
    """Real sequence numbers have ~56 digits; '9' > '10' as text, not as numbers."""
    assert Origin(9, "a") < Origin(10, "a")
    long = 49590338271490256608559692538361571095921575989136588898
    batch = transform([rec(tweet_envelope(1, 1), long)], NOW)
    assert batch.records[0].origin.seq == long
    assert batch.records[0].item["origin"]["seq"] == str(long)  # type: ignore[union-attr]


def test_event_record_without_data_is_quarantined_not_raised() -> None:
    batch = transform([{"eventID": "shardId-1:5", "kinesis": {}}], NOW)
    assert batch.quarantine[0].reason.startswith("malformed event record")
    assert json.loads(batch.quarantine[0].data)["eventID"] == "shardId-1:5"


def test_quarantine_line_holds_the_raw_bytes() -> None:
    batch = transform([rec(b"\xff", 1)], NOW)
    line = json.loads(batch.quarantine[0].to_line())
    assert base64.b64decode(line["data_b64"]) == b"\xff"
    assert line["shard_id"] == "shardId-000000000000"
