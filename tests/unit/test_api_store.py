"""``Reader`` budget logic with botocore's Stubber (no network): DynamoDB's 1 MB
page cut, and the hour-bucket walk, never read past ``limit + 1`` items."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from chalicelib.api.reader import Reader
from chalicelib.config import load_settings
from tweetlake_local.stage import stage_environment

SETTINGS = load_settings({**stage_environment("dev"), "AWS_REGION": "us-east-1"})


def _client() -> Any:
    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _items(*keys: str) -> list[dict[str, Any]]:
    return [{"created_key": {"S": f"{k}#{'0' * 19}1"}, "status": {"S": "live"}} for k in keys]


def _query(limit: int) -> dict[str, Any]:
    return {
        "TableName": ANY,
        "IndexName": ANY,
        "KeyConditionExpression": ANY,
        "ExpressionAttributeNames": ANY,
        "ExpressionAttributeValues": ANY,
        "ScanIndexForward": False,
        "Limit": limit,
    }


def test_a_short_page_continues_with_the_remaining_budget() -> None:
    """GIVEN DynamoDB stops at 1 MB after 2 items WHEN asking for limit 4 THEN the reader
    asks again for exactly 3 more from LastEvaluatedKey and returns a cursor."""
    client = _client()
    times = [f"2026-11-24T06:00:0{s}.000Z" for s in (9, 8, 7, 6, 5)]
    last = {"author_id": {"S": "42"}}
    with Stubber(client) as stub:
        stub.add_response(
            "query", {"Items": _items(*times[:2]), "LastEvaluatedKey": last}, _query(5)
        )
        stub.add_response(
            "query", {"Items": _items(*times[2:5])}, {**_query(3), "ExclusiveStartKey": last}
        )
        page = Reader(client, SETTINGS).timeline("42", None, "9", limit=4)
        stub.assert_no_pending_responses()
    assert len(page.items) == 4
    assert page.next_high is not None and page.next_high.startswith(times[3])


def test_feed_spends_one_budget_across_hour_buckets() -> None:
    """GIVEN three non-empty hours WHEN asking for limit 3 THEN the bucket Queries ask for
    4, then what is left, and stop as soon as the extra item is read."""
    client = _client()
    hours = {
        "Items": [{"sk": {"S": h}} for h in ("2026-11-24T08", "2026-11-24T07", "2026-11-24T06")]
    }
    with Stubber(client) as stub:
        stub.add_response("query", hours)
        stub.add_response("query", {"Items": _items("2026-11-24T08:00:00.000Z")}, _query(4))
        stub.add_response(
            "query",
            {"Items": _items("2026-11-24T07:00:02.000Z", "2026-11-24T07:00:01.000Z")},
            _query(3),
        )
        stub.add_response("query", {"Items": _items("2026-11-24T06:00:00.000Z")}, _query(1))
        page = Reader(client, SETTINGS).feed(None, "9", limit=3)
        stub.assert_no_pending_responses()
    assert len(page.items) == 3
    assert page.next_high == f"2026-11-24T07:00:01.000Z#{'0' * 20}"
