"""The harness: the moto server holds the dev stage's resources, and the app's
three kinds of function are reachable through ``chalice.test.Client``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import aws
from chalicelib.dynamo.tables import ALL_TABLES
from chalicelib.envelope.normalize import normalize_line
from tests.conftest import HARNESS_SHARDS, AwsHarness
from tests.paths import own_lines

pytestmark = pytest.mark.integration


def test_resources_exist_with_their_indexes(aws: AwsHarness) -> None:
    settings = aws.settings
    dynamodb = aws_client("dynamodb", settings.region)
    names = {settings.tweets_table, settings.authors_table, settings.state_table}
    assert names <= set(dynamodb.list_tables()["TableNames"])
    tweets = dynamodb.describe_table(TableName=settings.tweets_table)["Table"]
    assert {i["IndexName"] for i in tweets["GlobalSecondaryIndexes"]} == {"by_author", "by_time"}
    assert len(ALL_TABLES) == 3
    kinesis = aws_client("kinesis", settings.region)
    summary = kinesis.describe_stream_summary(StreamName=settings.stream_name)
    assert summary["StreamDescriptionSummary"]["OpenShardCount"] == HARNESS_SHARDS
    aws_client("s3", settings.region).head_bucket(Bucket=settings.lake_bucket)


def test_the_emulation_reports_the_dev_stage_s_settings(aws: AwsHarness) -> None:
    """What moto reports after create_resources: Terraform's encryption, retention and
    point-in-time recovery (the unit tests compare the constants with Terraform)."""
    from tweetlake_local import resources

    settings = aws.settings
    kinesis = aws_client("kinesis", settings.region)
    summary = kinesis.describe_stream_summary(StreamName=settings.stream_name)
    stream = summary["StreamDescriptionSummary"]
    assert stream["EncryptionType"] == resources.STREAM_ENCRYPTION == "KMS"
    assert stream["KeyId"] == resources.STREAM_KMS_KEY
    assert stream["RetentionPeriodHours"] == resources.STREAM_RETENTION_HOURS
    dynamodb = aws_client("dynamodb", settings.region)
    for name in resources.table_names(settings):
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["SSEDescription"]["Status"] == "ENABLED", name
        backups = dynamodb.describe_continuous_backups(TableName=name)
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert pitr["PointInTimeRecoveryStatus"] == "ENABLED", name


def aws_client(service: str, region: str) -> Any:
    return aws.client(service, region)


def test_health_route_reaches_the_table(aws: AwsHarness) -> None:
    with Client(app, stage_name="dev") as client:
        response = client.http.get("/health")
    assert response.status_code == 200
    assert response.json_body["status"] == "ok"
    assert response.json_body["tweets_table"] == aws.settings.tweets_table


def test_health_route_reports_a_missing_table(aws: AwsHarness) -> None:
    aws_client("dynamodb", aws.settings.region).delete_table(TableName=aws.settings.tweets_table)
    with Client(app, stage_name="dev") as client:
        response = client.http.get("/health")
    assert response.status_code == 503
    assert response.json_body["error"] == "unavailable"
    assert "ResourceNotFoundException" in response.json_body["message"]


def test_schedule_and_kinesis_handlers_are_wired(aws: AwsHarness) -> None:
    envelope = normalize_line(own_lines("v2_stream.jsonl")[0])[0].envelope
    with Client(app, stage_name="dev") as client:
        summary = client.lambda_.invoke(
            "ingest",
            client.events.generate_cw_event(
                source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
            ),
        ).payload
        assert set(summary) >= {
            "received",
            "sent",
            "control",
            "quarantined",
            "reconnects",
            "duration_s",
        }
        event = client.events.generate_kinesis_event(
            message_bodies=[json.dumps(envelope).encode(), b"not json"],
            stream_name=aws.settings.stream_name,
        )
        counts = client.lambda_.invoke("consume", event).payload
    assert counts["records"] == 2
    assert counts["stored"] == 1
    assert counts["quarantined"] == 1
