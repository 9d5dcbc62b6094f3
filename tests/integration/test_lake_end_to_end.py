"""Stream → consumer (→ curated) and the raw Firehose → lake on disk → named query."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.aws import client as aws_client
from chalicelib.consume.handler import handle_batch
from tests.conftest import AwsHarness
from tests.support.sample import envelope_line, posted, sample_envelopes
from tweetlake_local.poller import FileCheckpoints, local_readers
from tweetlake_ops.sql import run

pytestmark = pytest.mark.integration


def test_poller_thread_fills_the_lake_and_sql_answers(aws: AwsHarness, tmp_path: Path) -> None:
    """GIVEN 60 envelopes on the stream and the local readers polling in a thread
    WHEN the poller is stopped (flush on close) THEN the consumer saw every record,
    the lake holds them as Parquet, and top_hashtags counts them like Python does."""
    envelopes = posted(sample_envelopes(60, seed=9), datetime.now(UTC))
    kinesis = aws_client("kinesis", aws.settings.region)
    kinesis.put_records(
        StreamName=aws.settings.stream_name,
        Records=[{"Data": envelope_line(e), "PartitionKey": e["author"]["id"]} for e in envelopes],
    )
    seen: list[int] = []

    def handler(event: dict[str, Any], **options: Any) -> None:
        seen.append(len(event["Records"]))
        handle_batch(event, sink=lambda line: None, **options)

    poller = local_readers(
        aws.settings,
        handler,
        lake_dir=tmp_path / "lake",
        checkpoints=FileCheckpoints(tmp_path / "checkpoints.json"),
        buffer_seconds=3600,  # only the close flushes: proves flush on close
        batching_window_s=0,
        interval_s=0.05,
    )
    thread = threading.Thread(target=poller.run)
    thread.start()
    deadline = time.monotonic() + 20
    while sum(seen) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list((tmp_path / "lake").glob("curated/**/*.parquet"))
    poller.stop()
    thread.join(timeout=20)
    assert not thread.is_alive()

    assert sum(seen) == 60
    assert list((tmp_path / "lake").glob("raw/dt=*/hour=*/*.gz"))
    expected = Counter(t.lower() for e in envelopes for t in set(e["hashtags"]))
    rows = run("top_hashtags", tmp_path / "lake").rows
    assert dict(rows) == dict(expected.most_common(20))
    keys = [
        o["Key"]
        for o in aws_client("s3", aws.settings.region).list_objects_v2(
            Bucket=aws.settings.lake_bucket
        )["Contents"]
    ]
    assert sorted(keys) == sorted(
        p.relative_to(tmp_path / "lake").as_posix()
        for p in (tmp_path / "lake").rglob("*")
        if p.is_file()
    )
    assert [lag.pending_records for lag in poller.lag()] == [0, 0, 0]
