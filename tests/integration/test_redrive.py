"""Re-driving the quarantine against the moto server: consumer-origin records to the
consumer, producer-origin lines normalized again and put back on the stream."""

from __future__ import annotations

import base64
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws as aws_clients
from chalicelib.envelope.normalize import normalize_line
from chalicelib.ingest.handler import encode_record
from chalicelib.ingest.producer import KinesisProducer
from chalicelib.quarantine import QuarantineEntry, write_quarantine
from tests.conftest import AwsHarness
from tweetlake_local.cli import main
from tweetlake_ops.redrive import RedriveError, open_quarantine, redrive

pytestmark = pytest.mark.integration

OWN = Path(__file__).resolve().parents[1] / "fixtures" / "twitter"
DAY = "2026-11-24"
READ_AT = "2026-11-24T06:02:00.000Z"


def v2_lines() -> list[str]:
    return [x for x in (OWN / "v2_stream.jsonl").read_text().splitlines() if '"data"' in x]


def tweet_envelopes() -> list[dict[str, Any]]:
    found = []
    for line in v2_lines():
        found += [i.envelope for i in normalize_line(line) if i.kind == "tweet" and i.envelope]
    return found


def stream_records(s3_region: str, stream: str) -> list[bytes]:
    kinesis = aws_clients.client("kinesis", s3_region)
    data = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        data += [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]]
    return data


def seed(aws: AwsHarness) -> tuple[dict[str, Any], str]:
    """GIVEN one consumer object (a good record, a garbage record) and one producer
    object (a v2 line the old normalizer had rejected, a line nothing can read)."""
    s3 = aws_clients.client("s3", aws.settings.region)
    bucket = aws.settings.lake_bucket
    envelope = tweet_envelopes()[0]
    good, _, _ = encode_record(envelope)
    write_quarantine(
        s3,
        bucket,
        "consumer",
        DAY,
        "shardId-000000000000-10-11",
        [
            QuarantineEntry("invalid: a bug since fixed", good, "shardId-000000000000", "10"),
            QuarantineEntry("undecodable", b"\xff not json", "shardId-000000000000", "11"),
        ],
    )
    line = v2_lines()[1]
    write_quarantine(
        s3,
        bucket,
        "producer",
        DAY,
        "run-1",
        [
            QuarantineEntry(
                "invalid: missing includes", line.encode(), approximate_arrival=READ_AT
            ),
            QuarantineEntry("invalid: not JSON", b"<html>rate limited</html>"),
        ],
    )
    return envelope, line


def test_redrive_sends_each_origin_its_own_way(aws: AwsHarness) -> None:
    envelope, line = seed(aws)
    settings = aws.settings
    events: list[dict[str, Any]] = []
    s3 = aws_clients.client("s3", settings.region)
    producer = KinesisProducer(aws_clients.client("kinesis", settings.region), settings.stream_name)
    arn = f"arn:aws:kinesis:{settings.region}:123456789012:stream/{settings.stream_name}"

    summary = redrive(
        open_quarantine(f"s3://{settings.lake_bucket}/quarantine/dt={DAY}/", s3),
        consumer=events.append,
        producer=producer,
        batch_size=500,
        stream_arn=arn,
    )

    # THEN the consumer got the consumer-origin envelope, byte for byte, in one batch
    assert (summary.objects, summary.to_consumer, summary.batches) == (2, 1, 1)
    (event,) = events
    sent = [base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]]
    assert sent == [encode_record(envelope)[0]]
    # AND the record that is not UTF-8 stayed in quarantine, and the report says why
    (kept,) = summary.kept
    assert "consumer-shardId-000000000000-10-11.jsonl:2: not UTF-8" in kept
    assert all(r["eventSourceARN"] == arn for r in event["Records"])
    assert event["Records"][0]["eventID"].startswith("shardId-redrive-")
    # AND the re-normalized line is on the stream (so the lake gets it too)
    renormalized = normalize_line(line, ingested_at=READ_AT)
    expected = [encode_record(i.envelope)[0] for i in renormalized if i.envelope]
    assert stream_records(settings.region, settings.stream_name) == expected
    assert summary.to_stream == len(expected)
    # AND the line nothing can read is reported, not lost (the object stays)
    (bad,) = summary.still_bad
    assert "producer-run-1.jsonl:2: still rejected by the normalizer" in bad
    keys = s3.list_objects_v2(Bucket=settings.lake_bucket, Prefix="quarantine/")["KeyCount"]
    assert keys == 2


def test_redrive_reason_filter_and_real_consumer(aws: AwsHarness) -> None:
    """GIVEN the same quarantine WHEN only 'bug since fixed' records are re-driven through
    the real consumer THEN it accepts the batch and the garbage record is skipped."""
    seed(aws)
    settings = aws.settings
    from chalicelib.consume.handler import handle_batch

    summary = redrive(
        open_quarantine(
            f"s3://{settings.lake_bucket}/quarantine/", aws_clients.client("s3", settings.region)
        ),
        consumer=handle_batch,
        producer=None,
        batch_size=500,
        stream_arn=f"arn:aws:kinesis:{settings.region}:123456789012:stream/{settings.stream_name}",
        reason="since fixed",
    )
    assert (summary.to_consumer, summary.skipped) == (1, 3)
    assert summary.consumer["stored"] == 1 and summary.clean


CP1252 = (OWN / "v1_status_cp1252.txt").read_bytes()


def seed_cp1252(aws: AwsHarness) -> None:
    """GIVEN a replayed v1.1 status in cp1252 that the ingest run quarantined as not UTF-8."""
    (item,) = normalize_line(CP1252, source_api="replay")
    write_quarantine(
        aws_clients.client("s3", aws.settings.region),
        aws.settings.lake_bucket,
        "producer",
        DAY,
        "run-2",
        [
            QuarantineEntry(
                str(item.reason), CP1252, approximate_arrival=READ_AT, source_api="replay"
            )
        ],
    )


def test_redrive_never_repairs_bytes(aws: AwsHarness) -> None:
    """WHEN a non-UTF-8 line is re-driven without a named codec THEN it stays, with why."""
    seed_cp1252(aws)
    settings = aws.settings
    producer = KinesisProducer(aws_clients.client("kinesis", settings.region), settings.stream_name)
    zone = open_quarantine(
        f"s3://{settings.lake_bucket}/quarantine/", aws_clients.client("s3", settings.region)
    )

    summary = redrive(zone, consumer=None, producer=producer, batch_size=10, stream_arn="arn")

    assert summary.to_stream == 0 and not summary.clean
    (kept,) = summary.kept
    assert "producer-run-2.jsonl:1: not UTF-8 (invalid continuation byte at byte" in kept
    assert "--decode-non-utf8" in kept
    assert stream_records(settings.region, settings.stream_name) == []

    # WHEN the operator names the encoding THEN the text is read in it, exactly,
    # and the envelope keeps the run's source_api
    summary = redrive(
        zone, consumer=None, producer=producer, batch_size=10, stream_arn="arn", decode="cp1252"
    )
    assert (summary.to_stream, summary.decoded, summary.kept) == (1, 1, [])
    (data,) = stream_records(settings.region, settings.stream_name)
    sent = json.loads(data)
    assert sent["text"] == "caf\u00e9 ferm\u00e9 demain \u00ab\u00bb"
    assert sent["source_api"] == "replay" and "\ufffd" not in sent["raw"]


def schema_failures(aws: AwsHarness) -> str:
    """GIVEN a consumer object of two envelopes the consumer refuses (no created_at)."""
    bad = []
    for envelope in tweet_envelopes()[:2]:
        del envelope["created_at"]
        bad.append(encode_record(envelope)[0])
    return str(
        write_quarantine(
            aws_clients.client("s3", aws.settings.region),
            aws.settings.lake_bucket,
            "consumer",
            DAY,
            "shardId-000000000000-20-21",
            [
                QuarantineEntry(
                    "schema: created_at: required",
                    data,
                    "shardId-000000000000",
                    str(20 + n),
                    f"{DAY}T05:00:0{n}.000Z",
                )
                for n, data in enumerate(bad)
            ],
        )
    )


def quarantine_keys(aws: AwsHarness) -> list[str]:
    listing = aws_clients.client("s3", aws.settings.region).list_objects_v2(
        Bucket=aws.settings.lake_bucket, Prefix="quarantine/"
    )
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_redrive_reports_what_the_consumer_did(aws: AwsHarness) -> None:
    """WHEN the consumer refuses the re-driven records again THEN the report says so, the
    exit code is 1, and the copies sit under their original day, one copy however often."""
    original = schema_failures(aws)
    args = ["redrive", f"s3://{aws.settings.lake_bucket}/quarantine/", "--reason", "schema:"]
    out = io.StringIO()
    with redirect_stdout(out):
        code = main([*args, "--aws-endpoint", aws.server.endpoint])
    text = out.getvalue()
    assert code == 1, text
    assert '"_aws"' not in text  # the consumer's metric lines are logged, not the report
    assert "the consumer: 0 stored, 0 duplicates, 0 deleted, 0 suppressed, 2 quarantined" in text
    keys = quarantine_keys(aws)
    assert len(keys) == 2 and all(k.startswith(f"quarantine/dt={DAY}/") for k in keys), keys
    (copy,) = [k for k in keys if k != original]
    assert f"quarantined again in: {copy}" in text

    with redirect_stdout(io.StringIO()):
        assert main([*args, "--aws-endpoint", aws.server.endpoint]) == 1
    assert quarantine_keys(aws) == keys  # the copy was overwritten, not copied again


def test_redrive_command_dry_run_counts(aws: AwsHarness) -> None:
    seed(aws)
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(
            [
                "redrive",
                f"s3://{aws.settings.lake_bucket}/quarantine/dt={DAY}/",
                "--dry-run",
                "--aws-endpoint",
                aws.server.endpoint,
            ]
        )
    text = out.getvalue()
    assert "redrive: 2 objects; would re-drive 1 records to the consumer (1 batches)" in text
    assert "kept: quarantine/dt=2026-11-24/consumer-shardId-000000000000-10-11.jsonl:2" in text
    assert "still bad: quarantine/dt=2026-11-24/producer-run-1.jsonl:2" in text
    assert code == 1  # something is still bad: a script can tell


def test_redrive_refuses_a_prefix_outside_the_quarantine(aws: AwsHarness) -> None:
    s3 = aws_clients.client("s3", aws.settings.region)
    with pytest.raises(RedriveError, match="expected s3://bucket/quarantine/"):
        open_quarantine(f"s3://{aws.settings.lake_bucket}/raw/", s3)
    s3.put_object(
        Bucket=aws.settings.lake_bucket, Key="quarantine/dt=x/consumer-a.jsonl", Body=b"{"
    )
    with pytest.raises(RedriveError, match="not a quarantine line"):
        redrive(
            open_quarantine(f"s3://{aws.settings.lake_bucket}/quarantine/", s3),
            consumer=None,
            producer=None,
            batch_size=10,
            stream_arn="arn",
        )


def test_redrive_refuses_a_stream_nobody_reads(aws: AwsHarness) -> None:
    """GIVEN a local run that drained and stopped its readers (--until-drained --serve)
    WHEN producer records would go back on the stream THEN redrive refuses, sends
    nothing, and says what to run instead; consumer records alone still go through."""
    from tweetlake_local.pipeline import mark_readers_stopped

    seed(aws)
    settings = aws.settings
    mark_readers_stopped(aws_clients.client("kinesis", settings.region), settings.stream_name)
    out = io.StringIO()
    base = f"s3://{settings.lake_bucket}/quarantine/dt={DAY}/"
    with redirect_stdout(out):
        code = main(["redrive", base, "--aws-endpoint", aws.server.endpoint])
    text = out.getvalue()
    assert code == 1
    assert "error: nothing reads the stream" in text
    assert 'make run ARGS="--replay FILE"' in text and f"{base}consumer-" in text
    assert stream_records(settings.region, settings.stream_name) == []

    out = io.StringIO()
    with redirect_stdout(out):
        main(["redrive", f"{base}consumer-", "--aws-endpoint", aws.server.endpoint])
    assert "re-drove 1 records to the consumer" in out.getvalue()
    assert "the consumer: 1 stored" in out.getvalue()
