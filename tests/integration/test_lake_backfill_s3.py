"""Backfill from the emulated bucket, and through the real consumer from the CLI."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.aws import client as aws_client
from tests.conftest import AwsHarness
from tests.support.sample import envelope_line, sample_envelopes
from tweetlake_local.cli import main
from tweetlake_local.firehose import DirSink, S3Sink, StreamRecord, raw_delivery
from tweetlake_ops.backfill import backfill, open_zone

pytestmark = pytest.mark.integration


def fill_raw_zone(aws: AwsHarness, folder: Path) -> list[bytes]:
    datas = [envelope_line(e) for e in sample_envelopes(30, seed=5)]
    s3 = aws_client("s3", aws.settings.region)
    delivery = raw_delivery(
        [S3Sink(s3, aws.settings.lake_bucket), DirSink(folder)],
        buffer_bytes=4096,
        clock=lambda: 0.0,
    )
    start = datetime(2026, 11, 24, 5, 50, tzinfo=UTC)
    delivery.put(
        StreamRecord(d, "shardId-000000000001", str(i), start + timedelta(minutes=i))
        for i, d in enumerate(datas)
    )
    delivery.close()
    return datas


def test_s3_and_folder_sources_feed_the_same_records(aws: AwsHarness, tmp_path: Path) -> None:
    datas = fill_raw_zone(aws, tmp_path)
    fed: dict[str, list[bytes]] = {"s3": [], "dir": []}

    def recorder(name: str) -> Any:
        def consume(event: dict[str, Any]) -> None:
            fed[name] += [base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]]

        return consume

    s3 = aws_client("s3", aws.settings.region)
    zone = open_zone(f"s3://{aws.settings.lake_bucket}/raw/", s3_client=s3)
    backfill(zone, recorder("s3"), batch_size=8, region=aws.settings.region)
    backfill(open_zone(str(tmp_path)), recorder("dir"), batch_size=8, region=aws.settings.region)
    assert fed["s3"] == datas
    assert fed["dir"] == datas


def test_cli_backfill_runs_the_real_consumer(
    aws: AwsHarness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    datas = fill_raw_zone(aws, tmp_path)
    source = f"s3://{aws.settings.lake_bucket}"
    assert main(["backfill", source, "--aws-endpoint", aws.server.endpoint]) == 0
    out = capsys.readouterr().out
    assert '"_aws"' not in out  # the consumer's metric lines are logged, not the report
    assert f"backfill: {len(datas)} records from" in out
    assert aws.settings.tweets_table in out
