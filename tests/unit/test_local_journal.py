"""The local stream's journal and how the lake is completed from it after a crash."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tweetlake_local.journal import (
    JournalEntry,
    JournalError,
    StreamJournal,
    accepted,
    complete_lake,
    replay,
)
from tweetlake_local.pipeline import CountingKinesis
from tweetlake_local.poller import FileCheckpoints


def entry(shard: str, seq: int, text: str) -> JournalEntry:
    return JournalEntry(shard, str(seq), "pk", (text + "\n").encode(), 1_790_000_000.0 + seq)


def test_accepted_keeps_only_records_the_stream_took() -> None:
    """GIVEN a PutRecords answer with one throttled record THEN only the others are kept,
    each with the shard and sequence number the stream gave it."""
    records = [{"Data": b"a\n", "PartitionKey": "1"}, {"Data": b"b\n", "PartitionKey": "2"}]
    response = {
        "FailedRecordCount": 1,
        "Records": [
            {"ShardId": "shardId-000000000001", "SequenceNumber": "7"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow"},
        ],
    }
    assert accepted(records, response, 5.0) == [
        JournalEntry("shardId-000000000001", "7", "1", b"a\n", 5.0)
    ]


def test_counting_kinesis_journals_before_it_counts(tmp_path: Path) -> None:
    """GIVEN the ingest run's Kinesis client WHEN PutRecords returns THEN the accepted
    records are in the journal file by the time they are counted as sent."""
    journal = StreamJournal(tmp_path / "stream")
    seen: list[int] = []

    class Stream:
        def put_records(self, **kwargs: object) -> dict[str, object]:
            return {"FailedRecordCount": 0, "Records": [{"ShardId": "s", "SequenceNumber": "1"}]}

    def on_sent(n: int) -> None:
        seen.append(sum(len(p.read_bytes().splitlines()) for p in journal.segments()))

    CountingKinesis(Stream(), on_sent, journal).put_records(
        StreamName="x", Records=[{"Data": b"{}\n", "PartitionKey": "p"}]
    )
    assert seen == [1]
    assert [e.data for e in journal.entries()] == [b"{}\n"]


def test_a_torn_last_line_is_skipped_a_bad_middle_line_is_an_error(tmp_path: Path) -> None:
    journal = StreamJournal(tmp_path)
    journal.append([entry("s", 1, "a"), entry("s", 2, "b")])
    journal.close()
    [segment] = journal.segments()
    with segment.open("ab") as handle:
        handle.write(b'{"shard":"s","seq":"3","pk')  # killed mid-write
    assert [e.sequence_number for e in journal.entries()] == ["1", "2"]
    segment.write_bytes(b"not json\n" + segment.read_bytes())
    with pytest.raises(JournalError, match="line 1"):
        list(journal.entries())


def raw_lines(lake: Path) -> list[bytes]:
    return [
        line
        for path in sorted(lake.glob("raw/**/*.gz"))
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]


def test_complete_lake_writes_raw_and_keeps_what_curated_lacks(tmp_path: Path) -> None:
    """GIVEN a journal of four records on two shards, raw checkpointed past shard A's
    first record and curated past shard B's first WHEN the lake is completed THEN raw
    gets the three records it lacked, the three curated lacks are kept to publish again
    (in order), curated/ is not written, and the journal and positions are gone."""
    state, lake = tmp_path / "state", tmp_path / "lake"
    journal = StreamJournal(state / "stream")
    tweets = [
        json.dumps({"kind": "tweet", "tweet_id": str(i), "created_at": "2026-01-02T03:04:05.000Z"})
        for i in range(4)
    ]
    journal.append([entry("A", 1, tweets[0]), entry("B", 1, tweets[1])])
    journal.append([entry("A", 2, tweets[2]), entry("B", 2, tweets[3])])
    journal.close()
    checkpoints = FileCheckpoints(state / "checkpoints.json")
    checkpoints.put("tweetlake-dev-raw", "A", "1")
    checkpoints.put("tweetlake-dev-curated", "B", "1")

    done = complete_lake(state, lake, "dev")

    assert done.raw == 3
    assert [(e.shard_id, e.sequence_number) for e in done.replay] == [
        ("A", "1"),
        ("A", "2"),
        ("B", "2"),
    ]
    assert sorted(raw_lines(lake)) == sorted(t.encode() for t in tweets[1:])
    assert not (lake / "curated").exists()
    assert journal.segments() == [] and not (state / "checkpoints.json").exists()
    again = complete_lake(state, lake, "dev")  # nothing left to do
    assert (again.raw, again.replay) == (0, [])


def test_replay_hands_each_shard_in_order_in_batches() -> None:
    """GIVEN five kept records on two shards WHEN replayed with batches of two THEN the
    consumer gets Lambda events per shard, in sequence order, none larger than two."""
    entries = [entry("A", 1, "a1"), entry("B", 1, "b1"), entry("A", 2, "a2"), entry("A", 3, "a3")]
    entries.append(entry("B", 2, "b2"))
    events: list[dict[str, Any]] = []

    handed = replay(
        entries,
        events.append,
        batch_size=2,
        stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/s",
    )

    assert handed == 5
    seen = [
        (r["eventID"].split(":")[0], base64.b64decode(r["kinesis"]["data"]))
        for event in events
        for r in event["Records"]
    ]
    assert seen == [("A", b"a1\n"), ("A", b"a2\n"), ("A", b"a3\n"), ("B", b"b1\n"), ("B", b"b2\n")]
    assert [len(e["Records"]) for e in events] == [2, 1, 2]


def test_full_segments_the_deliveries_wrote_are_deleted(tmp_path: Path) -> None:
    """GIVEN segments of two records WHEN a segment fills THEN the closed segments whose
    every record is covered (written by every delivery) are deleted, the others kept,
    and the records still in flight are all read back."""
    written = {"A": 2}
    journal = StreamJournal(
        tmp_path, segment_records=2, covered=lambda shard, seq: seq <= written.get(shard, 0)
    )
    journal.append([entry("A", 1, "a"), entry("A", 2, "b")])  # full: covered, deleted
    journal.append([entry("A", 3, "c"), entry("B", 1, "d")])  # full: not covered, kept
    journal.append([entry("A", 4, "e")])
    assert [p.name for p in journal.segments()] == ["journal-000002.jsonl", "journal-000003.jsonl"]
    assert [e.data for e in journal.entries()] == [b"c\n", b"d\n", b"e\n"]
    written.update(A=4, B=1)
    journal.append([entry("A", 5, "f")])  # fills the third: the second goes, not it
    assert [p.name for p in journal.segments()] == ["journal-000003.jsonl"]
    journal.remove()
