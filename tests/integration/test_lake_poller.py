"""The emulated event source mapping and Firehose sources, against the moto stream."""

from __future__ import annotations

import base64
import gzip
import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest

import app
from chalicelib.aws import client as aws_client
from chalicelib.retry import Backoff
from tests.conftest import AwsHarness
from tests.support.clock import ManualClock
from tests.support.kinesis_events import ChaliceAppHandler, RecordingConsumer
from tests.support.sample import envelope_line, sample_envelopes
from tweetlake_local.firehose import DirSink, S3Sink, curated_delivery, raw_delivery
from tweetlake_local.poller import (
    BatchFailedError,
    DirectPutSource,
    EventSourceMapping,
    FileCheckpoints,
    FirehoseSource,
    MemoryCheckpoints,
    Poller,
)

pytestmark = pytest.mark.integration


def put(aws_h: AwsHarness, datas: list[bytes]) -> list[dict[str, Any]]:
    kinesis = aws_client("kinesis", aws_h.settings.region)
    result = kinesis.put_records(
        StreamName=aws_h.settings.stream_name,
        Records=[{"Data": d, "PartitionKey": f"author-{i % 7}"} for i, d in enumerate(datas)],
    )
    assert result["FailedRecordCount"] == 0
    return [dict(r, Data=d) for r, d in zip(result["Records"], datas, strict=True)]


def mapping(aws_h: AwsHarness, handler: Any, **kwargs: Any) -> EventSourceMapping:
    kwargs.setdefault("checkpoints", MemoryCheckpoints())
    kwargs.setdefault("retry", Backoff(max_attempts=None, sleep=lambda s: None))
    return EventSourceMapping(
        aws_client("kinesis", aws_h.settings.region),
        aws_h.settings.stream_name,
        handler,
        region=aws_h.settings.region,
        **kwargs,
    )


def test_batches_are_lambda_shaped_per_shard_in_order_and_complete(aws: AwsHarness) -> None:
    """GIVEN 20 records over both shards WHEN the mapping drains with batch size 3
    THEN every record arrives once, batches hold one shard's records in sequence order,
    and each record has the fields a Lambda Kinesis event carries."""
    datas = [f'{{"n":{i}}}\n'.encode() for i in range(20)]
    put_results = put(aws, datas)
    recorder = RecordingConsumer()
    m = mapping(aws, recorder, batch_size=3, batching_window_s=0)
    m.drain()

    assert sorted(recorder.seen()) == sorted(datas)
    stream_arn = aws_client_arn(aws)
    for event in recorder.events:
        records = event["Records"]
        assert 1 <= len(records) <= 3
        shards = {r["eventID"].split(":")[0] for r in records}
        assert len(shards) == 1
        seqs = [int(r["kinesis"]["sequenceNumber"]) for r in records]
        assert seqs == sorted(seqs)
        for r in records:
            assert r["eventSource"] == "aws:kinesis"
            assert r["eventName"] == "aws:kinesis:record"
            assert r["eventSourceARN"] == stream_arn
            assert r["awsRegion"] == aws.settings.region
            assert r["kinesis"]["kinesisSchemaVersion"] == "1.0"
            assert isinstance(r["kinesis"]["approximateArrivalTimestamp"], float)
    # Sequence numbers are per shard in moto: identify a record by (shard, sequence).
    sent = {(r["ShardId"], r["SequenceNumber"]): r for r in put_results}
    for event in recorder.events:
        for r in event["Records"]:
            shard_id, sequence = r["eventID"].split(":")
            assert sequence == r["kinesis"]["sequenceNumber"]
            original = sent[(shard_id, sequence)]
            assert base64.b64decode(r["kinesis"]["data"]) == original["Data"]
            assert r["kinesis"]["partitionKey"].startswith("author-")
    assert m.stats.records_handled == 20
    assert m.pending() == 0


def aws_client_arn(aws_h: AwsHarness) -> str:
    kinesis = aws_client("kinesis", aws_h.settings.region)
    summary = kinesis.describe_stream_summary(StreamName=aws_h.settings.stream_name)
    return str(summary["StreamDescriptionSummary"]["StreamARN"])


def test_batch_settings_default_to_the_ones_declared_in_app(aws: AwsHarness) -> None:
    m = mapping(aws, RecordingConsumer())
    (trigger,) = [e for e in app.app.event_sources if e.name == "consume"]
    assert m.batch_size == trigger.batch_size
    assert m.batching_window_s == trigger.maximum_batching_window_in_seconds


def test_batching_window_holds_a_small_batch_until_it_expires(aws: AwsHarness) -> None:
    put(aws, [b'{"n":1}\n', b'{"n":2}\n', b'{"n":3}\n'])
    clock, recorder = ManualClock(), RecordingConsumer()
    m = mapping(aws, recorder, batch_size=100, batching_window_s=5, clock=clock)
    m.poll()
    clock.now = 4.9
    m.poll()
    assert recorder.events == []
    assert m.pending() == 3
    clock.now = 5.0
    m.poll()
    assert len(recorder.seen()) == 3
    assert m.pending() == 0


def test_a_failing_batch_is_retried_whole_with_capped_backoff(aws: AwsHarness) -> None:
    """GIVEN a handler failing twice WHEN the mapping drains THEN the same batch is
    delivered three times, nothing is skipped, and every wait stays under the cap."""
    datas = [f'{{"n":{i}}}\n'.encode() for i in range(6)]
    put(aws, datas)
    waits: list[float] = []
    recorder = RecordingConsumer(fail=2)
    m = mapping(
        aws,
        recorder,
        batch_size=100,
        batching_window_s=0,
        retry=Backoff(
            base_s=1, cap_s=1.5, max_attempts=None, sleep=waits.append, rng=random.Random(1)
        ),
    )
    m.drain()
    first = recorder.events[0]
    assert recorder.events[1] == first
    assert recorder.events[2] == first
    assert sorted(set(recorder.seen())) == sorted(datas)
    assert len(waits) == 2
    assert all(0 <= w <= 1.5 for w in waits)
    assert m.stats.failed_attempts == 2
    assert "throttled" in (m.stats.last_error or "")


def test_retries_can_be_bounded_and_then_nothing_is_checkpointed(aws: AwsHarness) -> None:
    put(aws, [b'{"n":1}\n'])
    checkpoints = MemoryCheckpoints()
    m = mapping(
        aws,
        RecordingConsumer(fail=99),
        batch_size=10,
        batching_window_s=0,
        checkpoints=checkpoints,
        retry=Backoff(max_attempts=3, sleep=lambda s: None),
    )
    with pytest.raises(BatchFailedError, match="failed 3 times"):
        m.drain()
    assert checkpoints.positions == {}


def test_a_restart_resumes_after_the_checkpoint(aws: AwsHarness, tmp_path: Path) -> None:
    """GIVEN a mapping that handled 5 records and stopped WHEN a new mapping starts
    with the same checkpoint file THEN it handles only records put afterwards."""
    path = tmp_path / "checkpoints.json"
    first = RecordingConsumer()
    put(aws, [f'{{"a":{i}}}\n'.encode() for i in range(5)])
    mapping(
        aws, first, batch_size=10, batching_window_s=0, checkpoints=FileCheckpoints(path)
    ).drain()
    assert len(first.seen()) == 5
    later = [f'{{"b":{i}}}\n'.encode() for i in range(4)]
    put(aws, later)
    second = RecordingConsumer()
    mapping(
        aws, second, batch_size=10, batching_window_s=0, checkpoints=FileCheckpoints(path)
    ).drain()
    assert sorted(second.seen()) == sorted(later)
    assert set(json.loads(path.read_text())["consume"]) <= {
        "shardId-000000000000",
        "shardId-000000000001",
    }


def test_firehose_deliveries_write_both_zones_to_bucket_and_folder(
    aws: AwsHarness, tmp_path: Path
) -> None:
    """GIVEN envelopes on the stream and rows published to the curated delivery WHEN the
    poller drains THEN raw (gzip JSON lines, read from the stream) and curated (Parquet,
    Direct PUT) objects exist in the bucket and, byte for byte, in the folder; the raw
    reader's checkpoints follow what was written."""
    envelopes = sample_envelopes(25)
    put(aws, [envelope_line(e) for e in envelopes])
    s3 = aws_client("s3", aws.settings.region)
    sinks = [S3Sink(s3, aws.settings.lake_bucket), DirSink(tmp_path)]
    checkpoints = MemoryCheckpoints()
    kinesis = aws_client("kinesis", aws.settings.region)
    raw = FirehoseSource(kinesis, aws.settings.stream_name, raw_delivery(sinks), checkpoints)
    curated = DirectPutSource(curated_delivery(sinks))
    poller = Poller([raw, curated], sleep=lambda s: None)
    curated.publish([envelope_line(e) for e in envelopes])
    poller.run_once()
    assert checkpoints.positions == {}  # buffered, not yet written
    assert [lag.pending_records for lag in poller.lag()] == [25, 25]
    poller.drain()

    listed = s3.list_objects_v2(Bucket=aws.settings.lake_bucket)["Contents"]
    keys = sorted(o["Key"] for o in listed)
    assert sorted({k.split("/")[0] for k in keys}) == ["curated", "raw"]
    for key in keys:
        body = s3.get_object(Bucket=aws.settings.lake_bucket, Key=key)["Body"].read()
        assert (tmp_path / key).read_bytes() == body
    raw_key = next(k for k in keys if k.startswith("raw/"))
    lines = gzip.decompress((tmp_path / raw_key).read_bytes()).splitlines()
    assert sorted(json.loads(x)["tweet_id"] for x in lines) == sorted(
        e["tweet_id"] for e in envelopes
    )
    assert set(checkpoints.positions) == {"tweetlake-dev-raw"}
    assert [lag.pending_records for lag in poller.lag()] == [0, 0]


def test_the_real_app_function_through_chalice_test_client(aws: AwsHarness) -> None:
    """The mapping drives ``app.consume_tweets`` the way Lambda would."""
    put(aws, [envelope_line(e) for e in sample_envelopes(8)])
    handler = ChaliceAppHandler(stage="dev")
    try:
        m = mapping(aws, handler, batch_size=5, batching_window_s=0)
        m.drain()
    finally:
        handler.close()
    assert m.stats.records_handled == 8
    assert m.stats.failed_attempts == 0


def test_parallel_shards_run_side_by_side_each_in_order(aws: AwsHarness) -> None:
    """GIVEN records on both shards and a mapping with ``parallel_shards`` WHEN it drains
    THEN a batch of each shard is in the handler at the same time (a barrier of two
    passes, which one-at-a-time invocations never could), each shard's batches stay in
    sequence order, and every record is handled once and counted once."""
    datas = [f'{{"n":{i}}}\n'.encode() for i in range(40)]
    put(aws, datas)
    both_in = threading.Barrier(2, timeout=10)
    lock = threading.Lock()
    seen: dict[str, list[int]] = {}

    def handler(event: dict[str, Any]) -> None:
        records = event["Records"]
        shard = records[0]["eventID"].split(":")[0]
        first_of_shard = shard not in seen
        with lock:
            seen.setdefault(shard, []).extend(int(r["kinesis"]["sequenceNumber"]) for r in records)
        if first_of_shard:
            both_in.wait()  # BrokenBarrierError (a failed batch) if the shards took turns

    once = Backoff(max_attempts=1, sleep=lambda s: None)  # a broken barrier fails the test
    m = mapping(aws, handler, batch_size=5, batching_window_s=0, parallel_shards=True, retry=once)
    m.drain()
    assert len(seen) == 2
    assert all(seqs == sorted(seqs) for seqs in seen.values())
    assert sum(len(seqs) for seqs in seen.values()) == 40
    assert m.stats.records_handled == 40 and m.stats.failed_attempts == 0


def test_the_curated_delivery_checkpoints_the_consumer_positions_it_wrote(
    aws: AwsHarness, tmp_path: Path
) -> None:
    """GIVEN a consumer publishing one row per record to a curated delivery that follows
    the mapping WHEN the mapping has handled a batch THEN curated has no position yet
    (its rows are buffered); once the delivery flushes, its position per shard is the
    mapping's: every record up to it has its row on disk."""
    put(aws, [f'{{"n":{i}}}\n'.encode() for i in range(12)])
    checkpoints = MemoryCheckpoints()
    curated = DirectPutSource(curated_delivery([DirSink(tmp_path)]))

    def consumer(event: dict[str, Any]) -> None:
        curated.publish([base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]])

    m = mapping(aws, consumer, batch_size=100, batching_window_s=0, checkpoints=checkpoints)
    curated.follow(m.name, checkpoints)
    m.drain()
    assert checkpoints.of(m.name) and checkpoints.of(curated.name) == {}
    curated.drain()
    assert checkpoints.of(curated.name) == checkpoints.of(m.name)
