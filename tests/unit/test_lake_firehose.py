"""Emulated Firehose deliveries: buffering, partitions, conversion errors, names."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tests.support.clock import ManualClock
from tests.support.sample import envelope_line, sample_envelopes
from tweetlake_local.firehose import (
    UNKNOWN_TIME_PARTITION,
    DirSink,
    StreamRecord,
    curated_delivery,
    partition,
    quarantine_mirror,
    raw_delivery,
)

T0 = datetime(2026, 11, 24, 6, 59, 58, tzinfo=UTC)


@dataclass
class MemorySink:
    objects: dict[str, bytes] = field(default_factory=dict)

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body


def records(count: int, start: datetime = T0, step_s: float = 1.0) -> list[StreamRecord]:
    return [
        StreamRecord(
            data=envelope_line(env),
            shard_id=f"shardId-00000000000{i % 2}",
            sequence_number=str(100 + i),
            arrival=start + timedelta(seconds=i * step_s),
        )
        for i, env in enumerate(sample_envelopes(count))
    ]


def test_partition_matches_the_terraform_prefix_expression() -> None:
    assert partition(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)) == "dt=2026-01-02/hour=03/"


def test_raw_delivery_flushes_by_size_and_keeps_every_byte_in_order() -> None:
    """GIVEN a 4 KiB size threshold WHEN 30 envelopes arrive
    THEN several gzip objects hold, concatenated, exactly the records' bytes."""
    sink = MemorySink()
    delivery = raw_delivery([sink], buffer_bytes=4096, buffer_seconds=3600, clock=ManualClock())
    recs = records(30)
    delivery.put(recs)
    delivery.close()
    assert len(sink.objects) > 2
    joined = b"".join(gzip.decompress(sink.objects[k]) for k in sorted(sink.objects))
    assert joined == b"".join(r.data for r in recs)
    assert [json.loads(line)["tweet_id"] for line in joined.splitlines()] == [
        json.loads(r.data)["tweet_id"] for r in recs
    ]
    assert delivery.stats.records_delivered == 30


def test_time_threshold_flushes_on_tick_and_not_before() -> None:
    clock, sink = ManualClock(), MemorySink()
    delivery = raw_delivery([sink], buffer_seconds=5, clock=clock)
    delivery.put(records(3))
    clock.now = 4.9
    delivery.tick()
    assert sink.objects == {}
    clock.now = 5.0
    delivery.tick()
    assert len(sink.objects) == 1
    assert delivery.buffered == 0


def test_object_lands_in_the_partition_of_its_oldest_record() -> None:
    """Records straddling 07:00 go into one object under hour=06, as Firehose does."""
    sink = MemorySink()
    delivery = raw_delivery([sink], clock=ManualClock())
    delivery.put(records(5))  # 06:59:58 … 07:00:02
    delivery.close()
    (key,) = sink.objects
    assert key.startswith("raw/dt=2026-11-24/hour=06/tweetlake-dev-raw-1-2026-11-24-06-59-58-")
    assert key.endswith(".gz")


def test_names_are_deterministic_so_redelivery_overwrites() -> None:
    first, second = MemorySink(), MemorySink()
    for sink in (first, second):
        delivery = curated_delivery([sink], buffer_bytes=8000, clock=ManualClock())
        delivery.put(records(20))
        delivery.close()
    assert first.objects.keys() == second.objects.keys()
    assert first.objects == second.objects


def test_curated_delivery_converts_and_sets_bad_records_aside(tmp_path: Path) -> None:
    """GIVEN good envelopes, a non-JSON record and one with a v1.1-format time
    WHEN the curated delivery flushes THEN the good ones are Parquet without `raw`
    and the two bad ones are in the error prefix with their bytes and reasons."""
    good = records(10)
    bad_json = StreamRecord(b"{not json\n", "shardId-000000000000", "900", T0)
    bad_time_env = json.loads(good[0].data) | {"created_at": "Wed Oct 10 20:19:24 +0000 2018"}
    bad_time = StreamRecord(envelope_line(bad_time_env), "shardId-000000000001", "901", T0)
    flushed: list[dict[str, str]] = []
    delivery = curated_delivery([DirSink(tmp_path)], clock=ManualClock(), on_flush=flushed.append)
    delivery.put([*good[:5], bad_json, *good[5:], bad_time])
    delivery.close()

    parquets = [str(p) for p in tmp_path.glob("curated/dt=*/hour=*/*.parquet")]
    assert parquets and all("raw" not in pq.read_schema(p).names for p in parquets)
    con = duckdb.connect()
    ids = [r[0] for r in con.execute("SELECT tweet_id FROM read_parquet(?)", [parquets]).fetchall()]
    assert sorted(ids) == sorted(json.loads(r.data)["tweet_id"] for r in good)

    (errors,) = tmp_path.glob(
        "firehose-errors/tweetlake-dev-curated/format-conversion-failed/dt=*/hour=*/*.jsonl"
    )
    failed = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [base64.b64decode(f["rawData"]) for f in failed] == [bad_json.data, bad_time.data]
    assert failed[0]["errorCode"] == "DataFormatConversion.MalformedData"
    assert failed[1]["errorCode"] == "DataFormatConversion.InvalidSchema"
    assert "created_at" in failed[1]["errorMessage"]
    assert delivery.stats.records_failed == 2
    assert delivery.stats.records_delivered == 10
    assert flushed == [{"shardId-000000000000": "108", "shardId-000000000001": "901"}]


def test_a_buffer_of_only_bad_records_writes_only_an_error_object() -> None:
    sink = MemorySink()
    delivery = curated_delivery([sink], clock=ManualClock())
    delivery.put([StreamRecord(b"[]\n", "shardId-000000000000", "1", T0)])
    delivery.close()
    assert [k.split("/")[0] for k in sink.objects] == ["firehose-errors"]


def test_dir_sink_leaves_no_temporary_files(tmp_path: Path) -> None:
    DirSink(tmp_path).put("raw/dt=2026-11-24/hour=06/a.gz", b"x")
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["a.gz"]


@dataclass
class RecordingS3:
    """The S3 calls the wrapped client receives (put_object, and any other by name)."""

    puts: list[dict[str, object]] = field(default_factory=list)

    def put_object(self, **kwargs: object) -> dict[str, str]:
        self.puts.append(kwargs)
        return {"ETag": "x"}

    def head_bucket(self, **kwargs: object) -> dict[str, object]:
        return {"asked": kwargs}


def test_quarantine_mirror_copies_quarantine_objects_only(tmp_path: Path) -> None:
    """GIVEN the S3 client the local mode hands the ingest run and the consumer WHEN they put
    a quarantine object and another object THEN both reach the bucket, only the quarantine
    object is copied under the lake folder, byte for byte, and other calls pass through."""
    inner = RecordingS3()
    s3 = quarantine_mirror(inner, tmp_path)
    body = b'{"reason":"not JSON","data_b64":"/w=="}\n'
    key = "quarantine/dt=2026-11-24/consumer-shardId-0-1.jsonl"
    assert s3.put_object(Bucket="b", Key=key, Body=body) == {"ETag": "x"}
    s3.put_object(Bucket="b", Key="replay/input.jsonl", Body=b"x")
    assert [p["Key"] for p in inner.puts] == [key, "replay/input.jsonl"]
    assert (tmp_path / key).read_bytes() == body
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == [key]
    assert s3.head_bucket(Bucket="b") == {"asked": {"Bucket": "b"}}


def posted_at(created_at: object, arrival: datetime, seq: str = "1") -> StreamRecord:
    """One sample tweet with ``created_at`` replaced (or removed, for None)."""
    envelope = dict(sample_envelopes(1)[0])
    envelope.pop("created_at")
    if created_at is not None:
        envelope["created_at"] = created_at
    data = json.dumps(envelope).encode() + b"\n"
    return StreamRecord(data, "shardId-000000000000", seq, arrival)


def test_curated_partition_is_the_creation_time_raw_the_arrival(tmp_path: Path) -> None:
    """GIVEN a tweet posted 2018-12-31T23:59:59Z replayed now WHEN both zones deliver it
    THEN the curated object is in dt=2018-12-31/hour=23 and the raw copy in the arrival hour."""
    now = datetime.now(UTC)
    record = posted_at("2018-12-31T23:59:59.000Z", now)
    sink = MemorySink()
    for delivery in (curated_delivery([sink]), raw_delivery([sink])):
        delivery.put([record])
        delivery.close()
    curated = [k for k in sink.objects if k.startswith("curated/")]
    raw = [k for k in sink.objects if k.startswith("raw/")]
    assert [k.rsplit("/", 1)[0] for k in curated] == ["curated/dt=2018-12-31/hour=23"]
    assert [k.rsplit("/", 1)[0] + "/" for k in raw] == [f"raw/{partition(now)}"]


def test_a_tweet_without_a_plausible_time_goes_to_the_unknown_partition() -> None:
    """GIVEN tweets with no time, a time before X existed, one two days after arrival, one
    in a non-canonical form, and one an hour after arrival (a fast clock) WHEN delivered in
    one flush THEN the first four share dt=unknown/hour=unknown, the last keeps its hour."""
    sink = MemorySink()
    delivery = curated_delivery([sink])
    delivery.put(
        [
            posted_at(None, T0, "1"),
            posted_at("2006-03-20T23:59:59.000Z", T0, "2"),
            posted_at((T0 + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z"), T0, "3"),
            posted_at("2026-11-24 06:00:00Z", T0, "4"),
            posted_at("2026-11-24T07:30:00.000Z", T0, "5"),
        ]
    )
    delivery.close()
    counts = {
        key.split("/", 1)[1].rsplit("/", 1)[0] + "/": pq.read_metadata(
            pa.BufferReader(body)
        ).num_rows
        for key, body in sink.objects.items()
    }
    assert counts == {UNKNOWN_TIME_PARTITION: 4, "dt=2026-11-24/hour=07/": 1}
    assert delivery.stats.records_delivered == 5
