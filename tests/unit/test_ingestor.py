"""The ingest loop with in-memory twins: what it reads ends up sent, quarantined or counted."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from chalicelib.ingest.handler import Ingestor, QuarantineBuffer, encode_record
from chalicelib.ingest.producer import KinesisProducer
from tests.paths import own_lines
from tests.streams import ListSource, MemoryKinesis


class MemoryS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Key: str, Body: bytes, **_: Any) -> None:
        self.objects[Key] = Body


def ingestor(
    lines: list[str | bytes], source: type[ListSource] = ListSource, **kwargs: Any
) -> tuple[Ingestor, MemoryKinesis, MemoryS3]:
    kinesis, s3 = MemoryKinesis(), MemoryS3()
    source_ = source(lines, **kwargs)
    quarantine = QuarantineBuffer(s3, "lake", "run-1", "2026-01-01", chunk=2)
    run = Ingestor(
        source_,
        KinesisProducer(kinesis, "s"),
        quarantine,
        time_is_up=lambda: False,
        now=lambda: "2026-01-01T00:00:00.000Z",
    )
    return run, kinesis, s3


def test_counts_add_up_and_controls_are_typed() -> None:
    lines: list[str | bytes] = [*own_lines("v1_statuses.jsonl"), *own_lines("v1_control.jsonl")]
    run, kinesis, _s3 = ingestor(lines)
    summary = run.run()
    assert summary.received == len(lines)
    assert summary.received == summary.sent + summary.control + summary.quarantined
    assert summary.sent == len(kinesis.records)
    assert summary.control_types["limit"] == 1 and summary.control_types["keep_alive"] >= 1


def test_unsendable_records_are_quarantined_not_fatal() -> None:
    no_ids = json.dumps({"user": {}, "id": None, "text": "x", "created_at": None})
    lines: list[str | bytes] = [no_ids, b"\xff\xfe", own_lines("v1_statuses.jsonl")[0]]
    run, _kinesis, s3 = ingestor(lines)
    summary = run.run()
    assert (summary.sent, summary.quarantined) == (1, 2)
    assert sorted(s3.objects) == [
        "quarantine/dt=2026-01-01/producer-run-1-0000.jsonl",  # chunks of two entries
    ]
    reasons = [json.loads(x)["reason"] for x in s3.objects[sorted(s3.objects)[0]].splitlines()]
    assert "partition key" in reasons[0] and reasons[1].startswith("not UTF-8")


def test_a_broken_source_still_flushes_what_it_gave() -> None:
    run, kinesis, _ = ingestor(list(own_lines("v1_statuses.jsonl")), fail_after=3)
    summary = run.run()
    assert summary.stopped_by == "source_error"
    assert isinstance(run.source_error, ConnectionError)
    assert summary.received == 3 and len(kinesis.records) == summary.sent == 3


def test_a_malformed_tweet_id_never_becomes_the_checkpoint() -> None:
    envelope = {"kind": "tweet", "tweet_id": "12a", "author": {"id": "7"}}
    assert encode_record(envelope)[1:] == ("7", None)
    assert encode_record({**envelope, "tweet_id": "١٢"})[2] is None  # non-ASCII digits


def test_only_ids_the_envelope_accepts_move_the_checkpoint() -> None:
    """GIVEN a replayed status whose id is 25 digits (no Snowflake) after a real one
    WHEN both are sent THEN the garbage travels (the consumer quarantines it) but the
    checkpoint stays at the real tweet's id."""
    real = own_lines("v1_statuses.jsonl")[0]
    garbage = json.loads(real)
    garbage["id"] = 1234567890123456789012345
    garbage["id_str"] = "1234567890123456789012345"
    kinesis = MemoryKinesis()
    producer = KinesisProducer(kinesis, "s")
    run = Ingestor(
        ListSource([real, json.dumps(garbage, ensure_ascii=False)]),
        producer,
        QuarantineBuffer(MemoryS3(), "lake", "run-1", "2026-01-01"),
        time_is_up=lambda: False,
    )
    assert run.run().sent == len(kinesis.records) == 2
    assert producer.max_tweet_id_sent == 1992345678901234567


def test_partial_errors_are_logged_counted_and_mark_the_reference(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """GIVEN a v2 quote whose quoted tweet X could not expand (``errors`` beside ``data``)
    WHEN ingested THEN the tweet is sent with the reference marked unresolved, the run
    counts the error and logs a line naming it."""
    lines: list[str | bytes] = list(own_lines("v2_partial_errors.jsonl"))
    run, kinesis, _s3 = ingestor(lines)
    with caplog.at_level(logging.WARNING, logger="chalicelib.ingest.handler"):
        summary = run.run()
    assert (summary.sent, summary.partial_errors) == (1, 1)
    (record,) = kinesis.records
    sent = json.loads(record.data)
    assert sent["quoted_tweet_id"] == "1992399999999999999"
    assert sent["unresolved_tweet_ids"] == ["1992399999999999999"]
    (message,) = [r.getMessage() for r in caplog.records if "partial errors" in r.getMessage()]
    assert '"unresolved_tweet_ids": ["1992399999999999999"]' in message
    assert "Could not find tweet" in message


def test_jetstream_frames_checkpoint_their_cursor_only_from_a_cursor_source() -> None:
    """GIVEN the own Jetstream fixture WHEN read by a cursor source THEN the largest
    ``time_us`` sent is the checkpoint, the like is counted, the malformed post is
    quarantined; read as a replayed file THEN the same records travel and no checkpoint."""
    from tests.paths import bluesky_lines

    lines: list[str | bytes] = list(bluesky_lines())
    sent_times = [
        json.loads(line)["time_us"]
        for line in bluesky_lines()
        if '"app.bsky.feed.like"' not in line and '"text":42' not in line
    ]

    class CursorSource(ListSource):
        checkpoints_cursor = True  # as JetstreamSource declares

    for source, checkpoint in ((CursorSource, max(sent_times)), (ListSource, None)):
        run, kinesis, s3 = ingestor(lines, source=source)
        summary = run.run()
        assert (summary.sent, summary.control, summary.quarantined) == (10, 1, 1)
        assert summary.control_types == {"other_collection": 1}
        assert run._producer.max_tweet_id_sent == checkpoint
        keys = {r.partition_key for r in kinesis.records}
        assert keys == {json.loads(line)["did"] for line in bluesky_lines()}
        assert len(s3.objects) == 1
