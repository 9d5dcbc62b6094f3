"""The purge's side of the request log: read the pending requests, mark them purged.

The item shape is :mod:`chalicelib.purge.requests`' (the consumer writes it there).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.aws import error_code
from chalicelib.purge.requests import (
    CREATED_AT,
    OBJECTS_REWRITTEN,
    PURGE_PK,
    PURGED_AT,
    REQUESTED_AT,
    TWEET_ID,
)
from chalicelib.timeutil import parse_iso, snowflake_time


@dataclass(frozen=True, slots=True)
class PurgeRequest:
    tweet_id: str
    requested_at: str
    created_at: str | None = None
    purged_at: str | None = None
    objects_rewritten: int | None = None

    def creation_day(self) -> date | None:
        """The day the tweet was posted (UTC): its ``created_at``, else its Snowflake id's
        time; None when neither says (the purge then reads every partition)."""
        if self.created_at:
            try:
                return parse_iso(self.created_at).date()
            except ValueError:
                pass
        if self.tweet_id.isdigit():
            minted = snowflake_time(self.tweet_id)
            if minted is not None:
                return parse_iso(minted).date()
        return None


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {})
    return value.get("S") if isinstance(value, dict) else None


def _from_item(item: dict[str, Any]) -> PurgeRequest:
    rewritten = item.get(OBJECTS_REWRITTEN, {}).get("N")
    return PurgeRequest(
        tweet_id=_text(item, TWEET_ID) or _text(item, "sk") or "",
        requested_at=_text(item, REQUESTED_AT) or "",
        created_at=_text(item, CREATED_AT),
        purged_at=_text(item, PURGED_AT),
        objects_rewritten=int(rewritten) if rewritten is not None else None,
    )


def read_requests(dynamodb: Any, table: str, *, pending_only: bool) -> Iterator[PurgeRequest]:
    """Every request (or only the pending ones), strongly consistent, in tweet-id order."""
    query: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": PURGE_PK}},
        "ConsistentRead": True,
    }
    if pending_only:
        query["FilterExpression"] = "attribute_not_exists(purged_at)"
    for page in dynamodb.get_paginator("query").paginate(**query):
        for item in page.get("Items", []):
            yield _from_item(item)


def mark_purged(
    dynamodb: Any, table: str, request: PurgeRequest, purged_at: str, objects_rewritten: int
) -> bool:
    """Record the purge of ``request``; False (nothing written) when the request was
    renewed since it was read, or is gone: the next run takes it up again."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": PURGE_PK}, "sk": {"S": request.tweet_id}},
            UpdateExpression="SET purged_at = :at, objects_rewritten = :n",
            ConditionExpression="requested_at = :req AND attribute_not_exists(purged_at)",
            ExpressionAttributeValues={
                ":at": {"S": purged_at},
                ":n": {"N": str(objects_rewritten)},
                ":req": {"S": request.requested_at},
            },
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        return False
    return True
