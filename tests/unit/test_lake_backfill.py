"""Backfill feeds the raw zone to a consumer: everything, in order, in Lambda batches."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.retry import Backoff
from tests.support.kinesis_events import RecordingConsumer
from tests.support.sample import envelope_line, sample_envelopes
from tweetlake_local.cli import main
from tweetlake_local.firehose import DirSink, StreamRecord, raw_delivery
from tweetlake_ops.backfill import BackfillError, LocalZone, backfill, open_zone

T0 = datetime(2026, 11, 24, 6, 30, tzinfo=UTC)


def write_raw_zone(root: Path, count: int = 57) -> list[bytes]:
    """Real raw objects: the raw delivery, 3 KiB buffers, arrivals over two hours."""
    datas = [envelope_line(e) for e in sample_envelopes(count, seed=3)]
    delivery = raw_delivery([DirSink(root)], buffer_bytes=3 * 1024, clock=lambda: 0.0)
    delivery.put(
        StreamRecord(d, "shardId-000000000000", str(i), T0 + timedelta(minutes=2 * i))
        for i, d in enumerate(datas)
    )
    delivery.close()
    return datas


def no_sleep_retry(max_attempts: int = 5) -> Backoff:
    return Backoff(max_attempts=max_attempts, sleep=lambda s: None)


def test_feeds_every_record_in_order_in_lambda_shaped_batches(tmp_path: Path) -> None:
    """GIVEN a raw zone of several gzip objects across hours WHEN backfilled with batch
    size 4 THEN the consumer sees every line once, file by file, line by line."""
    datas = write_raw_zone(tmp_path)
    files = sorted(tmp_path.glob("raw/dt=*/hour=*/*.gz"))
    assert len(files) > 3
    assert len({f.parent for f in files}) >= 2
    consumer = RecordingConsumer()
    summary = backfill(
        LocalZone(tmp_path), consumer, batch_size=4, region="us-east-1", retry=no_sleep_retry()
    )
    assert consumer.seen() == datas
    assert summary.records == len(datas)
    assert summary.objects == len(files)
    for event in consumer.events:
        records = event["Records"]
        assert 1 <= len(records) <= 4
        assert len({r["eventID"].split(":")[0] for r in records}) == 1  # one object per batch
        for r in records:
            assert r["eventSource"] == "aws:kinesis"
            assert r["awsRegion"] == "us-east-1"
            assert r["eventID"].endswith(":" + r["kinesis"]["sequenceNumber"])
            arrival = datetime.fromtimestamp(r["kinesis"]["approximateArrivalTimestamp"], UTC)
            assert arrival.minute == 0  # the object's partition hour
            json.loads(base64.b64decode(r["kinesis"]["data"]))


def test_a_second_run_feeds_exactly_the_same_events(tmp_path: Path) -> None:
    write_raw_zone(tmp_path)
    first, second = RecordingConsumer(), RecordingConsumer()
    for consumer in (first, second):
        backfill(LocalZone(tmp_path), consumer, batch_size=10, region="us-east-1")
    assert first.events == second.events


def test_start_after_skips_objects_up_to_that_key(tmp_path: Path) -> None:
    datas = write_raw_zone(tmp_path)
    zone = LocalZone(tmp_path / "raw")
    keys = zone.list_keys()
    consumer = RecordingConsumer()
    backfill(zone, consumer, batch_size=100, region="us-east-1", start_after=keys[1])
    skipped = sum(len(gzip.decompress(zone.read(k)).splitlines()) for k in keys[:2])
    assert consumer.seen() == datas[skipped:]


def test_a_failing_batch_is_retried_then_reported_with_where_to_resume(tmp_path: Path) -> None:
    datas = write_raw_zone(tmp_path)
    flaky = RecordingConsumer(fail=2)
    backfill(LocalZone(tmp_path), flaky, batch_size=500, region="us-east-1", retry=no_sleep_retry())
    assert sorted(set(flaky.seen())) == sorted(datas)
    assert flaky.events[0] == flaky.events[1] == flaky.events[2]

    broken = RecordingConsumer(fail=10**6)
    keys = LocalZone(tmp_path).list_keys()
    with pytest.raises(BackfillError) as err:
        backfill(
            LocalZone(tmp_path),
            broken,
            batch_size=500,
            region="us-east-1",
            start_after=keys[0],
            retry=no_sleep_retry(3),
        )
    assert str(err.value).startswith(f"{keys[1]} lines 1-")
    assert f"rerun with --start-after {keys[0]}" in str(err.value)


def test_unreadable_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BackfillError, match="is not a folder"):
        open_zone(str(tmp_path / "missing"))
    bad = tmp_path / "raw" / "dt=2026-11-24" / "hour=06" / "x.gz"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(BackfillError, match=r"dt=2026-11-24/hour=06/x.gz: corrupt gzip"):
        backfill(LocalZone(tmp_path), RecordingConsumer(), batch_size=10, region="us-east-1")


def test_cli_dry_run_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    datas = write_raw_zone(tmp_path)
    assert main(["backfill", str(tmp_path), "--dry-run", "--batch-size", "7"]) == 0
    out = capsys.readouterr().out
    assert f"backfill: {len(datas)} records from " in out
    assert "batches of up to 7" in out
