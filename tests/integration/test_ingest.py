"""The scheduled ingest function against the moto server.

Lines go from a source through the handler into the Kinesis stream; the tests
read every shard back with GetRecords and compare with what was read.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest
from chalice.local import LambdaContext
from chalice.test import Client

from app import app
from chalicelib import aws
from chalicelib.config import ConfigError
from chalicelib.envelope.normalize import normalize_line
from chalicelib.ingest.checkpoint import Checkpoint
from chalicelib.ingest.handler import IngestDeps, encode_record, run_ingest
from chalicelib.ingest.sources.synthetic import SyntheticSource, SyntheticStream
from chalicelib.retry import Backoff, RetriesExhaustedError
from tests.conftest import AwsHarness
from tests.paths import OWN_TWITTER, own_lines
from tests.streams import FlakyKinesis, ListSource, by_partition_key, read_stream

pytestmark = pytest.mark.integration


def scheduled_event() -> dict[str, Any]:
    """A complete EventBridge scheduled event, as Lambda receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:10:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/tweetlake-dev-ingest"],
        "detail": {},
    }


class TickingClock:
    """Time that moves ``step_s`` every time someone looks at it."""

    def __init__(self, step_s: float) -> None:
        self.now = 1_767_225_600.0
        self.step_s = step_s

    def time(self) -> float:
        self.now += self.step_s
        return self.now


def shrinking_context(budget_s: float, step_s: float) -> LambdaContext:
    """A Lambda context whose remaining time shrinks by ``step_s`` per look."""
    return LambdaContext(
        "ingest",
        memory_size=512,
        max_runtime_ms=int(budget_s * 1000),
        time_source=TickingClock(step_s),  # type: ignore[arg-type]
    )


def client(aws_h: AwsHarness, service: str) -> Any:
    return aws.client(service, aws_h.settings.region)


def kinesis(aws_h: AwsHarness) -> Any:
    return client(aws_h, "kinesis")


def stream_records(aws_h: AwsHarness) -> list[Any]:
    return read_stream(kinesis(aws_h), aws_h.settings.stream_name)


def test_stops_before_the_deadline_with_everything_read_in_the_stream(
    aws: AwsHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a 100 s budget that shrinks 0.05 s per look and a 30 s margin
    WHEN the scheduled function runs on the synthetic source
    THEN it stops at the margin and every tweet and delete it read is in the stream."""
    monkeypatch.setenv("TWEETLAKE_SYNTHETIC_RATE", "0")
    monkeypatch.setenv("TWEETLAKE_PRODUCER_LINGER_S", "60")  # calls fill by count, not time
    context = shrinking_context(budget_s=100, step_s=0.05)
    summary = app.handler_map["ingest"](scheduled_event(), context)
    assert summary["received"] > 1000
    assert summary["stopped_by"] == "deadline"
    assert 29 <= context.get_remaining_time_in_millis() / 1000 < 30
    records = stream_records(aws)
    assert len(records) == summary["sent"]
    assert summary["received"] == summary["sent"] + summary["control"] + summary["quarantined"]
    assert summary["quarantined"] == 0
    assert summary["put_records_calls"] <= summary["sent"] / 500 + 2
    kinds = Counter(json.loads(r.data)["kind"] for r in records)
    assert kinds["tweet"] > 0 and kinds["delete"] > 0
    assert all(r.data.endswith(b"\n") for r in records)
    stored = Checkpoint(client(aws, "dynamodb"), aws.settings.state_table).read()
    tweet_ids = [
        int(json.loads(r.data)["tweet_id"]) for r in records if b'"kind":"tweet"' in r.data
    ]
    assert stored == max(tweet_ids)
    assert summary["checkpoint"] == str(stored)


def test_runs_through_the_chalice_test_client(
    aws: AwsHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN the test client's context, 3 s of real time, under the default 30 s safety
    margin WHEN the function is invoked through Chalice's test client (the stage's
    environment, Chalice's context) THEN the run reads its time left from that context
    and stops before reading a line: nothing sent, no checkpoint.

    The outcome is the same however busy the machine: the time left starts below the
    margin. Reading up to the margin, with everything read in the stream, is the test
    above, on a context whose time moves per look rather than with the machine's speed.
    """
    monkeypatch.setenv("TWEETLAKE_SYNTHETIC_RATE", "0")
    # Were the context not honoured, a bounded run that fails the test, not an endless one.
    monkeypatch.setenv("TWEETLAKE_SYNTHETIC_LIMIT", "1000")
    monkeypatch.delenv("TWEETLAKE_SAFETY_MARGIN_S", raising=False)
    with Client(app, stage_name="dev") as chalice_client:
        summary = chalice_client.lambda_.invoke("ingest", scheduled_event()).payload
    assert summary["stopped_by"] == "deadline"
    assert (summary["received"], summary["sent"], summary["checkpoint"]) == (0, 0, None)
    assert stream_records(aws) == []
    assert Checkpoint(client(aws, "dynamodb"), aws.settings.state_table).read() is None


def test_partial_failures_lose_nothing_and_reorder_nothing(aws: AwsHarness) -> None:
    """GIVEN 30% of PutRecords entries failing and a few hot authors
    WHEN 1,500 synthetic lines are ingested
    THEN each record is in the stream exactly once, in order within its partition key."""
    count, seed, start_ms = 1500, 5, 1_767_225_600_000
    flaky = FlakyKinesis(kinesis(aws), rate=0.3, seed=1)
    sleeps: list[float] = []
    summary = run_ingest(
        scheduled_event(),
        shrinking_context(budget_s=600, step_s=0.0),
        IngestDeps(
            kinesis=flaky,
            source=SyntheticSource(seed, limit=count, start_ms=start_ms, authors=8),
            backoff=Backoff(base_s=0.01, cap_s=0.1, max_attempts=12, sleep=sleeps.append),
        ),
    )
    assert flaky.failed_entries > 300 and sleeps
    # What was sent, in order, recomputed from the same deterministic stream.
    stream = SyntheticStream(seed, start_ms=start_ms, authors=8)
    expected: dict[str, list[tuple[str, str]]] = {}
    for _ in range(count):
        for item in normalize_line(next(stream), source_api="synthetic"):
            if item.envelope is not None:
                _, key, _ = encode_record(item.envelope)
                expected.setdefault(key, []).append((item.kind, item.envelope["tweet_id"]))
    got = {
        key: [(json.loads(d)["kind"], json.loads(d)["tweet_id"]) for d in datas]
        for key, datas in by_partition_key(stream_records(aws)).items()
    }
    assert max(len(v) for v in expected.values()) > 100  # hot keys, records queue per key
    assert got == expected
    assert summary["sent"] == sum(len(v) for v in expected.values())
    assert summary["received"] == count


def test_oversize_and_invalid_lines_are_quarantined(aws: AwsHarness) -> None:
    status = json.loads(own_lines("v1_statuses.jsonl")[0])
    status["extended_tweet"]["full_text"] = "🌊" * 300_000  # 1.2 MB of text
    lines: list[str | bytes] = [
        own_lines("v1_statuses.jsonl")[2],
        json.dumps(status, ensure_ascii=False),
        b"{not json",
        "",
    ]
    event = scheduled_event()
    summary = run_ingest(event, shrinking_context(600, 0.0), IngestDeps(source=ListSource(lines)))
    assert (summary["received"], summary["sent"], summary["control"]) == (4, 1, 1)
    assert summary["quarantined"] == 2
    assert len(stream_records(aws)) == 1
    s3 = client(aws, "s3")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=aws.settings.lake_bucket, Prefix="quarantine/")[
            "Contents"
        ]
    ]
    assert len(keys) == 1 and keys[0].endswith(f"/producer-{event['id']}-0000.jsonl")
    body = s3.get_object(Bucket=aws.settings.lake_bucket, Key=keys[0])["Body"].read()
    entries = [json.loads(line) for line in body.decode().splitlines()]
    assert "exceeds the 1048576-byte limit" in entries[0]["reason"]
    assert entries[1]["reason"].startswith("not JSON")


def test_an_empty_source_returns_zeros(aws: AwsHarness) -> None:
    summary = run_ingest(
        scheduled_event(), shrinking_context(600, 0.0), IngestDeps(source=ListSource([]))
    )
    counts = {k: summary[k] for k in ("received", "sent", "control", "quarantined", "reconnects")}
    assert counts == dict.fromkeys(counts, 0)
    assert summary["put_records_calls"] == 0 and summary["checkpoint"] is None
    assert stream_records(aws) == []


def test_retries_exhausted_fails_the_run_and_keeps_the_checkpoint(aws: AwsHarness) -> None:
    checkpoint = Checkpoint(client(aws, "dynamodb"), aws.settings.state_table)
    checkpoint.advance(100, source="replay", sent=1)
    with pytest.raises(RetriesExhaustedError):
        run_ingest(
            scheduled_event(),
            shrinking_context(600, 0.0),
            IngestDeps(
                kinesis=FlakyKinesis(kinesis(aws), rate=1.0),
                source=ListSource(list(own_lines("v1_statuses.jsonl"))),
                backoff=Backoff(max_attempts=3, sleep=lambda s: None),
            ),
        )
    assert checkpoint.read() == 100
    assert stream_records(aws) == []


def test_checkpoint_only_moves_forward(aws: AwsHarness) -> None:
    checkpoint = Checkpoint(client(aws, "dynamodb"), aws.settings.state_table)
    assert checkpoint.read() is None
    big = 18_446_744_073_709_551_615  # 2^64 - 1: exact as a DynamoDB number
    assert checkpoint.advance(big - 1, source="synthetic", sent=5).advanced
    late = checkpoint.advance(1992345678901234567, source="synthetic", sent=5)
    assert (late.advanced, late.tweet_id) == (False, big - 1)
    assert checkpoint.advance(big, source="synthetic", sent=5).advanced
    assert checkpoint.read() == big


def test_replays_an_s3_object(aws: AwsHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    body = (OWN_TWITTER / "v2_stream.jsonl").read_bytes()
    client(aws, "s3").put_object(Bucket=aws.settings.lake_bucket, Key="replay/v2.jsonl", Body=body)
    monkeypatch.setenv("TWEETLAKE_SOURCE", "replay")
    monkeypatch.setenv("TWEETLAKE_REPLAY_URI", f"s3://{aws.settings.lake_bucket}/replay/v2.jsonl")
    summary = app.handler_map["ingest"](scheduled_event(), shrinking_context(600, 0.0))
    expected = [
        item
        for line in own_lines("v2_stream.jsonl")
        for item in normalize_line(line)
        if item.kind in ("tweet", "delete")
    ]
    records = stream_records(aws)
    assert summary["sent"] == len(records) == len(expected)
    assert all(json.loads(r.data)["source_api"] == "replay" for r in records)
    assert summary["stopped_by"] == "source"


def test_a_live_source_without_its_settings_is_a_clear_config_error(
    aws: AwsHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWEETLAKE_SOURCE", "v2")
    monkeypatch.delenv("TWEETLAKE_V2_RULES", raising=False)
    with pytest.raises(ConfigError, match=r"TWEETLAKE_V2_RULES is not set"):
        app.handler_map["ingest"](scheduled_event(), shrinking_context(600, 0.0))


def test_a_dropped_source_sends_what_it_read_then_fails_the_run(aws: AwsHarness) -> None:
    lines: list[str | bytes] = list(own_lines("v1_statuses.jsonl"))
    with pytest.raises(ConnectionError):
        run_ingest(
            scheduled_event(),
            shrinking_context(600, 0.0),
            IngestDeps(source=ListSource(lines, fail_after=2)),
        )
    records = stream_records(aws)
    assert len(records) == 2
    sent_ids = [int(json.loads(r.data)["tweet_id"]) for r in records]
    stored = Checkpoint(client(aws, "dynamodb"), aws.settings.state_table).read()
    assert stored == max(sent_ids)


def test_a_cut_gzip_replay_says_where_and_keeps_the_counts_true(
    aws: AwsHarness, tmp_path: Any
) -> None:
    """GIVEN a .gz replay of our statuses cut in the middle of its compressed bytes
    WHEN replayed THEN every complete line before the cut is sent, the error names the
    file and where it stops, and the run's counts travel with the error."""
    import gzip

    from chalicelib.ingest.sources.replay import ReplayFileError, ReplaySource

    text = (OWN_TWITTER / "v1_statuses.jsonl").read_bytes() * 200  # ~1 MB, > one chunk
    whole = gzip.compress(text)
    path = tmp_path / "capture.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ReplayFileError) as err:
        run_ingest(
            scheduled_event(),
            shrinking_context(600, 0.0),
            IngestDeps(source=ReplaySource(str(path))),
        )
    message = str(err.value)
    assert f"{path} is cut or corrupt (EOFError" in message
    assert f"stops after {len(whole) // 2} compressed bytes" in message
    summary = err.value.run_summary  # type: ignore[attr-defined]
    assert summary["received"] > 0 and f"its {summary['received']} complete lines" in message
    assert summary["sent"] == len(stream_records(aws)) > 0
    assert summary["stopped_by"] == "source_error"
