"""DynamoDB: Terraform declares exactly the tables and indexes chalicelib/dynamo/tables.py defines.

The test harness and the local mode create tables from chalicelib.dynamo.tables
(create_table_request); translating Terraform's resources into the same request
shape and comparing the two keeps AWS, the emulation and the code in step.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.dynamo.tables import (
    ALL_TABLES,
    POINT_IN_TIME_RECOVERY,
    TableDef,
    create_table_request,
)
from tests.terraform.model import load_module, tfvars


def _tables() -> dict[str, dict[str, Any]]:
    module = load_module()
    return {
        name: module.resource_dict(rtype, name)
        for rtype, name in module.resources
        if rtype == "aws_dynamodb_table"
    }


def _as_request(resource: dict[str, Any], name: str) -> dict[str, Any]:
    """Terraform's table in the shape of dynamodb.create_table's arguments."""

    def key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
        schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        if range_key:
            schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        return schema

    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": resource["billing_mode"],
        "AttributeDefinitions": sorted(
            (
                {"AttributeName": a["name"], "AttributeType": a["type"]}
                for a in resource["attribute"]
            ),
            key=lambda a: a["AttributeName"],
        ),
        "KeySchema": key_schema(resource["hash_key"], resource.get("range_key")),
        "SSESpecification": {"Enabled": resource["server_side_encryption"][0]["enabled"]},
    }
    if resource.get("global_secondary_index"):
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": gsi["name"],
                "KeySchema": key_schema(gsi["hash_key"], gsi.get("range_key")),
                "Projection": {"ProjectionType": gsi["projection_type"]},
            }
            for gsi in resource["global_secondary_index"]
        ]
    return request


def test_terraform_declares_one_table_per_definition() -> None:
    assert set(_tables()) == {t.logical for t in ALL_TABLES}


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.logical)
def test_each_table_matches_its_definition(table: TableDef) -> None:
    resource = _tables()[table.logical]
    evaluator = load_module().evaluator(tfvars("prod"))
    name = evaluator.eval_text(f'"{resource["name"]}"')
    assert name == f"tweetlake-prod-{table.logical}"
    assert _as_request(resource, name) == create_table_request(table, name)


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda t: t.logical)
def test_each_table_is_on_demand_recoverable_and_encrypted(table: TableDef) -> None:
    resource = _tables()[table.logical]
    assert resource["billing_mode"] == "PAY_PER_REQUEST"
    # The emulation turns on what Terraform does (tweetlake_local.resources).
    assert resource["point_in_time_recovery"] == [{"enabled": POINT_IN_TIME_RECOVERY}]
    assert resource["server_side_encryption"] == [{"enabled": True}]
    assert "read_capacity" not in resource and "write_capacity" not in resource


def test_the_names_agree_with_the_dev_stage_of_the_chalice_config() -> None:
    """The dev stage in .chalice/config.json follows the same convention Terraform does."""
    from tweetlake_local.stage import stage_environment

    env = stage_environment("dev")
    evaluator = load_module().evaluator(tfvars("dev"))
    tables = _tables()
    for variable, logical in (
        ("TWEETLAKE_TWEETS_TABLE", "tweets"),
        ("TWEETLAKE_AUTHORS_TABLE", "authors"),
        ("TWEETLAKE_STATE_TABLE", "state"),
    ):
        assert evaluator.eval_text(f'"{tables[logical]["name"]}"') == env[variable]
    assert evaluator.local("stream_name") == env["TWEETLAKE_STREAM"]


def test_the_emulated_stream_is_the_dev_stage_s() -> None:
    """Shards, retention and encryption of the local stream are the dev stage's."""
    from tweetlake_local import resources

    dev = tfvars("dev")
    assert dev["stream_mode"] == "PROVISIONED"
    assert dev["stream_shard_count"] == resources.STREAM_SHARDS
    assert dev["stream_retention_hours"] == resources.STREAM_RETENTION_HOURS
    stream = load_module().resource_dict("aws_kinesis_stream", "tweets")
    assert stream["encryption_type"] == resources.STREAM_ENCRYPTION
    assert stream["kms_key_id"] == resources.STREAM_KMS_KEY
