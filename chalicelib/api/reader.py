"""Reads from the tweets, authors and state tables: GetItem and Query only.

Every page reads at most ``limit + 1`` tweet items: each Query asks for the
remaining budget, and the one item past the page only proves that another
page exists. The global feed walks the hour directory (state table,
``pk = "hours"``) newest first and queries ``by_time`` one non-empty hour at a
time, visiting at most ``max_buckets`` hours per request; when that bound is
hit before the page fills, the page ends early with a cursor that resumes
below the last hour visited.

Items come back in DynamoDB's attribute-value form (low-level client, no
``Decimal``); :mod:`chalicelib.api.shape` picks the fields a client sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib.api.errors import unavailable
from chalicelib.api.keys import key_before, key_before_hour
from chalicelib.config import Settings
from chalicelib.dynamo.hashing import hash_line
from chalicelib.dynamo.items import HOURS_PK

Item = dict[str, Any]
MAX_BUCKETS = 24
_HOUR_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")


@dataclass(frozen=True, slots=True)
class Page:
    """Items of one page and the inclusive upper key of the next (None: no more)."""

    items: list[Item]
    next_high: str | None


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key_of(item: Item) -> str:
    key: str = item["created_key"]["S"]
    return key


class Reader:
    """The API's view of the tables; ``dynamodb`` is a low-level boto3 client."""

    def __init__(self, dynamodb: Any, settings: Settings, max_buckets: int = MAX_BUCKETS) -> None:
        self.dynamodb = dynamodb
        self.tweets_table = settings.tweets_table
        self.authors_table = settings.authors_table
        self.state_table = settings.state_table
        self.max_buckets = max_buckets

    # --- single items ---------------------------------------------------------

    def tweet(self, tweet_id: str) -> Item | None:
        """A live tweet by id (one GetItem); a tombstone counts as absent."""
        item: Item | None = self.dynamodb.get_item(
            TableName=self.tweets_table, Key={"hash_line": _s(hash_line(tweet_id))}
        ).get("Item")
        if item is None or item.get("status", {}).get("S") != "live":
            return None
        return item

    def author(self, user_id: str) -> Item | None:
        item: Item | None = self.dynamodb.get_item(
            TableName=self.authors_table, Key={"author_id": _s(user_id)}
        ).get("Item")
        return item

    def authors(self, user_ids: set[str]) -> dict[str, Item]:
        """Author items by id (``BatchGetItem``, 100 keys a call; a page names fewer)."""
        found: dict[str, Item] = {}
        ids = sorted(user_ids)
        for start in range(0, len(ids), 100):
            request: dict[str, Any] = {
                self.authors_table: {
                    "Keys": [{"author_id": _s(i)} for i in ids[start : start + 100]]
                }
            }
            for _ in range(5):  # unprocessed keys come back under throttling: ask again
                response = self.dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.authors_table, []):
                    found[item["author_id"]["S"]] = item
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            if request:  # never serve a page whose authors' status is unknown
                raise unavailable("the authors table is throttled; retry", 1)
        return found

    # --- listings -------------------------------------------------------------

    def timeline(self, user_id: str, low: str | None, high: str, limit: int) -> Page:
        """A user's tweets with ``low <= created_key <= high``, newest first."""
        if low is not None and low > high:
            return Page([], None)
        items = self._query_index("by_author", "author_id", user_id, low, high, limit + 1)
        return _page(items, limit)

    def feed(self, low: str | None, high: str, limit: int) -> Page:
        """All tweets with ``low <= created_key <= high``, newest first."""
        if low is not None and low > high:
            return Page([], None)
        hours = self._hours(low, high)
        items: list[Item] = []
        for hour in hours[: self.max_buckets]:
            items += self._query_index(
                "by_time", "created_hour", hour, low, high, limit + 1 - len(items)
            )
            if len(items) > limit:
                return _page(items, limit)
        if len(hours) > self.max_buckets:
            return Page(items, key_before_hour(hours[self.max_buckets - 1]))
        return Page(items, None)

    def _hours(self, low: str | None, high: str) -> list[str]:
        """Non-empty hour buckets from ``high`` down to ``low``, one past the bound."""
        values = {":pk": _s(HOURS_PK), ":hi": _s(high[:13])}
        condition = "pk = :pk AND sk <= :hi"
        if low is not None:
            values[":lo"] = _s(low[:13])
            condition = "pk = :pk AND sk BETWEEN :lo AND :hi"
        response = self.dynamodb.query(
            TableName=self.state_table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            ProjectionExpression="sk",
            ScanIndexForward=False,
            Limit=self.max_buckets + 1,
        )
        hours = [item["sk"]["S"] for item in response.get("Items", [])]
        return [hour for hour in hours if _HOUR_RE.fullmatch(hour)]

    def _query_index(
        self, index: str, hash_name: str, hash_value: str, low: str | None, high: str, budget: int
    ) -> list[Item]:
        """Up to ``budget`` items of one index partition, newest first.

        Follows ``LastEvaluatedKey`` only when a response stopped short of the
        budget (DynamoDB's 1 MB page), never reading past the budget.
        """
        values = {":h": _s(hash_value), ":hi": _s(high)}
        condition = "#h = :h AND created_key <= :hi"
        if low is not None:
            values[":lo"] = _s(low)
            condition = "#h = :h AND created_key BETWEEN :lo AND :hi"
        request: dict[str, Any] = {
            "TableName": self.tweets_table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#h": hash_name},
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        items: list[Item] = []
        while budget > len(items):
            response = self.dynamodb.query(**request, Limit=budget - len(items))
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items


def _page(items: list[Item], limit: int) -> Page:
    if len(items) > limit:
        return Page(items[:limit], key_before(_key_of(items[limit - 1])))
    return Page(items, None)
