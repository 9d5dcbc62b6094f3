"""The purge against moto: S3 bucket and lake folder rewritten, the request log updated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws as aws_clients
from chalicelib.dynamo.attributes import to_item
from chalicelib.purge.engine import S3Store, run_purge
from chalicelib.purge.match import id_pattern, ids_in
from chalicelib.purge.request_log import read_requests
from chalicelib.purge.requests import request_item
from chalicelib.timeutil import iso_utc, parse_iso
from tests.support.purge_lake import DELETED_TEXT, Scenario, build, decoded_records, record_bytes
from tests.support.purge_lake import tweet_payload as payload
from tweetlake_local.firehose import DirSink, S3Sink, StreamRecord, raw_delivery
from tweetlake_local.purge import DirStore, PurgeSchedule

pytestmark = pytest.mark.integration

REQUESTED_AT = "2026-11-24T10:00:00.000Z"


def _clients(aws: Any) -> tuple[Any, Any]:
    region = aws.settings.region
    return aws_clients.client("s3", region), aws_clients.client("dynamodb", region)


def _request(dynamodb: Any, aws: Any, scenario: Scenario, requested_at: str) -> None:
    item = request_item(scenario.deleted, requested_at, scenario.created_at)
    dynamodb.put_item(TableName=aws.settings.state_table, Item=to_item(item))


def _objects(s3: Any, bucket: str, folder: Path) -> dict[str, bytes]:
    """Every object of the bucket and every file of the folder, by where it is."""
    found: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
            found[f"s3:{entry['Key']}"] = body
    for path in folder.rglob("*"):
        if path.is_file():
            found[f"folder:{path.relative_to(folder).as_posix()}"] = path.read_bytes()
    return found


def _traces(objects: dict[str, bytes], scenario: Scenario) -> list[str]:
    """Where the deleted tweet's id (as a token) or text is still found."""
    token = id_pattern([scenario.deleted])
    left = []
    for where, body in objects.items():
        key = where.split(":", 1)[1].split("#")[0]
        for record in decoded_records(key, body):
            if ids_in(record, token) or DELETED_TEXT.encode() in record:
                left.append(where)
    return left


def _lake(aws: Any, tmp_path: Path) -> tuple[Scenario, Any, Any, Path]:
    s3, dynamodb = _clients(aws)
    folder = tmp_path / "lake"
    scenario = build([S3Sink(s3, aws.settings.lake_bucket), DirSink(folder)])
    return scenario, s3, dynamodb, folder


def test_purge_cleans_bucket_and_folder_and_logs_the_request(aws: Any, tmp_path: Path) -> None:
    scenario, s3, dynamodb, folder = _lake(aws, tmp_path)
    _request(dynamodb, aws, scenario, REQUESTED_AT)
    before = _objects(s3, aws.settings.lake_bucket, folder)
    assert len(set(_traces(before, scenario))) >= 10  # 5+ objects in each store hold it
    lines: list[str] = []
    now = parse_iso(REQUESTED_AT) + timedelta(hours=1)
    summary = run_purge(
        dynamodb,
        aws.settings.state_table,
        [S3Store(s3, aws.settings.lake_bucket), DirStore(folder)],
        now=lambda: now,
        settle_s=1200,
        dimensions={"stage": "dev"},
        sink=lines.append,
    )
    after = _objects(s3, aws.settings.lake_bucket, folder)
    assert _traces(after, scenario) == []
    everything = b"\n".join(
        r for w, b in after.items() for r in decoded_records(w.split(":")[1], b)
    )
    for kept in scenario.kept:
        assert kept.encode() in everything
    assert summary.purged == 1 and summary.pending == 0
    (request,) = read_requests(dynamodb, aws.settings.state_table, pending_only=False)
    assert request.purged_at == iso_utc(now)
    assert request.objects_rewritten == summary.work.objects_rewritten >= 10
    (line,) = lines
    metrics = json.loads(line)
    assert metrics["PurgeRequestsPending"] == 0
    assert metrics["ObjectsRewritten"] == summary.work.objects_rewritten
    assert metrics["BytesScanned"] == summary.work.bytes_scanned > 0
    assert metrics["OldestPendingPurgeAgeSeconds"] == 0
    names = {m["Name"] for m in metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"PurgeRequestsPending", "OldestPendingPurgeAgeSeconds", "ObjectsRewritten"} <= names

    again = run_purge(
        dynamodb,
        aws.settings.state_table,
        [S3Store(s3, aws.settings.lake_bucket), DirStore(folder)],
        now=lambda: now,
        settle_s=1200,
        sink=lines.append,
    )
    assert again.requests == 0 and again.work.objects_scanned == 0
    assert _objects(s3, aws.settings.lake_bucket, folder) == after


def test_a_young_request_is_cleaned_but_stays_pending_until_firehose_settles(
    aws: Any, tmp_path: Path
) -> None:
    scenario, s3, dynamodb, folder = _lake(aws, tmp_path)
    _request(dynamodb, aws, scenario, REQUESTED_AT)
    stores = [S3Store(s3, aws.settings.lake_bucket), DirStore(folder)]
    now = parse_iso(REQUESTED_AT) + timedelta(seconds=60)
    lines: list[str] = []
    summary = run_purge(
        dynamodb,
        aws.settings.state_table,
        stores,
        now=lambda: now,
        settle_s=1200,
        sink=lines.append,
    )
    assert summary.purged == 0 and summary.pending == 1
    assert json.loads(lines[0])["OldestPendingPurgeAgeSeconds"] == 60
    assert _traces(_objects(s3, aws.settings.lake_bucket, folder), scenario) == []

    # A late copy lands in raw/ (Firehose's buffer) before the next run: found, purged.
    late = raw_delivery([S3Sink(s3, aws.settings.lake_bucket), DirSink(folder)])
    copy = record_bytes(payload(scenario.deleted, scenario.created_at, DELETED_TEXT))
    late.put([StreamRecord(copy, "shardId-000000000000", "9000", now)])
    late.close()
    assert _traces(_objects(s3, aws.settings.lake_bucket, folder), scenario)
    later = now + timedelta(hours=1)
    summary = run_purge(
        dynamodb,
        aws.settings.state_table,
        stores,
        now=lambda: later,
        settle_s=1200,
        sink=lines.append,
    )
    assert summary.purged == 1 and summary.work.objects_rewritten == 2  # bucket + folder
    assert _traces(_objects(s3, aws.settings.lake_bucket, folder), scenario) == []


def test_a_renewed_request_is_pending_again_and_purged_again(aws: Any, tmp_path: Path) -> None:
    """The consumer puts the item again when a copy of a deleted tweet arrives later."""
    scenario, _s3, dynamodb, folder = _lake(aws, tmp_path)
    _request(dynamodb, aws, scenario, REQUESTED_AT)
    schedule = PurgeSchedule(aws.settings, folder, interval_s=60, settle_s=0)
    schedule.run_once(settle_s=0)
    assert not list(read_requests(dynamodb, aws.settings.state_table, pending_only=True))
    renewed = iso_utc(parse_iso(REQUESTED_AT) + timedelta(days=1))
    _request(dynamodb, aws, scenario, renewed)
    (pending,) = read_requests(dynamodb, aws.settings.state_table, pending_only=True)
    assert pending.requested_at == renewed and pending.purged_at is None
    schedule.run_once(settle_s=0)
    (done,) = read_requests(dynamodb, aws.settings.state_table, pending_only=False)
    assert done.purged_at is not None and done.objects_rewritten == 0
    assert schedule.runs == 2


def test_the_purge_command_against_the_local_mode(
    aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tweetlake_local.cli import main

    scenario, s3, dynamodb, folder = _lake(aws, tmp_path)
    requested = iso_utc(datetime.now(UTC) - timedelta(hours=1))  # settled on the real clock
    _request(dynamodb, aws, scenario, requested)
    endpoint = aws.server.endpoint
    assert main(["purge", "--aws-endpoint", endpoint, "--lake", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("purge: 1 pending requests; 1 purged, 0 still pending; read ")
    assert f"of s3://{aws.settings.lake_bucket} and {folder}/" in out
    assert _traces(_objects(s3, aws.settings.lake_bucket, folder), scenario) == []
    assert main(["purge", "--aws-endpoint", endpoint, "--list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith(f"{scenario.deleted}  requested {requested}  purged ")
    assert main(["purge", "--aws-endpoint", endpoint, "--lake", str(tmp_path / "nope")]) == 2


def test_a_versioned_bucket_keeps_no_old_version_of_a_rewritten_object(
    aws: Any, tmp_path: Path
) -> None:
    """The deployed bucket is versioned (terraform/s3.tf): an overwrite alone would keep
    the deleted tweet in the previous version for 30 days."""
    s3, dynamodb = _clients(aws)
    bucket = aws.settings.lake_bucket
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    scenario = build([S3Sink(s3, bucket)])
    _request(dynamodb, aws, scenario, REQUESTED_AT)
    now = parse_iso(REQUESTED_AT) + timedelta(hours=1)
    summary = run_purge(
        dynamodb,
        aws.settings.state_table,
        [S3Store(s3, bucket)],
        now=lambda: now,
        settle_s=1200,
        sink=lambda _line: None,
    )
    assert summary.purged == 1 and summary.work.objects_deleted >= 1
    versions: dict[str, bytes] = {}
    markers = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        markers += page.get("DeleteMarkers", [])
        for entry in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])
            versions[f"v:{entry['Key']}#{entry['VersionId']}"] = body["Body"].read()
    assert markers == []
    assert len(versions) == len({k.split("#")[0] for k in versions})  # one version per key
    assert _traces(versions, scenario) == []


def test_the_local_mode_purges_bucket_and_folder_when_it_drains(aws: Any, tmp_path: Path) -> None:
    """`make run` ends every run with a purge, after the last records were delivered."""
    from chalicelib.consume.handler import handle_batch
    from tweetlake_local.pipeline import Pipeline

    folder = tmp_path / "lake"
    pipeline = Pipeline(
        aws.settings,
        lake_dir=folder,
        state_dir=tmp_path,
        interval_s=60,
        bounded=True,
        batching_window_s=None,
        poll_interval_s=0.05,
        buffer_seconds=None,
        consumer=handle_batch,
        log_line=lambda _line: None,
    )
    s3, dynamodb = _clients(aws)
    scenario = build([S3Sink(s3, aws.settings.lake_bucket), DirSink(folder)])
    _request(dynamodb, aws, scenario, REQUESTED_AT)
    assert _traces(_objects(s3, aws.settings.lake_bucket, folder), scenario)
    assert pipeline.drain()
    assert _traces(_objects(s3, aws.settings.lake_bucket, folder), scenario) == []
    (request,) = read_requests(dynamodb, aws.settings.state_table, pending_only=False)
    assert request.purged_at is not None and pipeline.purge.runs == 1


def test_the_scheduled_function_purges_the_stage_bucket(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``app.purge_lake`` as Lambda invokes it: the stage's bucket, one EMF line. With
    less time left than its safety margin it reads nothing and marks nothing."""
    from chalice.local import LambdaContext
    from chalice.test import Client

    from app import app
    from chalicelib.config import PURGE_SAFETY_S
    from chalicelib.purge.handler import run_purge_lake

    s3, dynamodb = _clients(aws)
    bucket = aws.settings.lake_bucket
    scenario = build([S3Sink(s3, bucket)])
    requested = iso_utc(datetime.now(UTC) - timedelta(hours=1))  # settled on the real clock
    _request(dynamodb, aws, scenario, requested)
    event = {
        "version": "0",
        "id": "purge-test",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": iso_utc(datetime.now(UTC)),
        "region": aws.settings.region,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/tweetlake-dev-purge"],
        "detail": {},
    }
    with Client(app, stage_name="dev") as chalice_client:  # its context: 3 s to run
        short = chalice_client.lambda_.invoke("purge", event).payload
    assert short["complete"] is False and short["objects_scanned"] == 0
    assert short["purged"] == 0 and short["pending"] == 1

    context = LambdaContext("tweetlake-dev-purge", 2048, max_runtime_ms=900_000)
    assert context.get_remaining_time_in_millis() > PURGE_SAFETY_S * 1000
    summary = run_purge_lake(event, context)
    assert summary["purged"] == 1 and summary["complete"] is True
    assert summary["objects_rewritten"] >= 5
    metrics = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert [m["stage"] for m in metrics] == ["dev", "dev"]
    assert metrics[-1]["PurgeRequestsPending"] == 0
    assert _traces(_objects(s3, bucket, Path("/nonexistent")), scenario) == []
