"""Helpers for the read-API tests: seeding the tables, metering DynamoDB,
and checking responses against the OpenAPI document.

Seeding writes the shapes the consumer's writer produces (``chalicelib.dynamo.tables``
docstring): tweet items from :func:`chalicelib.dynamo.items.tweet_item` over
normalized fixture envelopes, author items, and the hour directory. Each tweet
item also carries bookkeeping attributes the API must never show.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalice.test import Client
from jsonschema import Draft202012Validator, FormatChecker

from chalicelib import aws
from chalicelib.api.docs import load_openapi
from chalicelib.config import Settings
from chalicelib.dynamo.items import tweet_item
from chalicelib.envelope.normalize import normalize_line
from chalicelib.envelope.schema import validate
from tests.paths import own_lines

PROCESSED_AT = "2026-11-24T12:00:00.000Z"
# Bookkeeping a consumer may keep on items; responses must not show it.
INTERNAL = {"batch_seq": Decimal("7.5"), "applied_batches": {"b1", "b2"}, "ttl": Decimal(1)}


def base_envelopes() -> list[dict[str, Any]]:
    """Valid tweet envelopes from our own v2 and v1.1 fixtures."""
    envelopes = []
    for name in ("v2_stream.jsonl", "v1_statuses.jsonl"):
        for line in own_lines(name):
            for normalized in normalize_line(line):
                envelope = normalized.envelope
                # Only what the consumer would store: invalid envelopes go to quarantine.
                if normalized.kind == "tweet" and envelope is not None and not validate(envelope):
                    envelopes.append(envelope)
    return envelopes


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def synthetic_envelopes(
    count: int,
    start: datetime,
    step: timedelta,
    authors: Iterable[str] = ("1800000000000000001", "1960000000000000008", "42"),
    first_id: int = 1993000000000000000,
    ties: bool = True,
) -> list[dict[str, Any]]:
    """``count`` envelopes cloned from a fixture, one every ``step`` from ``start``.

    Tweets 1 and 2 of every three share a creation time, so the sort key's
    tie-break on the id is exercised (unless ``ties`` is false).
    """
    template = base_envelopes()[0]
    author_ids = list(authors)
    out = []
    for i in range(count):
        envelope = copy.deepcopy(template)
        envelope["tweet_id"] = str(first_id + i)
        envelope["created_at"] = iso(start + step * (i - i % 3 // 2 if ties else i))
        envelope["text"] = f"tweet number {i}"
        envelope["author"]["id"] = author_ids[i % len(author_ids)]
        out.append(envelope)
    return out


def seed(settings: Settings, envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Write tweets, their authors and the hour directory; returns the tweet items."""
    import boto3

    resource = boto3.resource("dynamodb", region_name=settings.region)
    items = [
        {
            **tweet_item(e, processed_at=PROCESSED_AT, author_tweets_in_batch=1),
            **INTERNAL,
        }
        for e in envelopes
    ]
    with resource.Table(settings.tweets_table).batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)
    with resource.Table(settings.state_table).batch_writer() as batch:
        for hour in sorted({item["created_hour"] for item in items}):
            batch.put_item(Item={"pk": "hours", "sk": hour, "first_seen_at": PROCESSED_AT})
    authors: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        if "author_id" in item:  # a tweet without an author has no author item
            authors.setdefault(item["author_id"], []).append(item)
    with resource.Table(settings.authors_table).batch_writer() as batch:
        for author_id, theirs in authors.items():
            newest = max(theirs, key=lambda t: t["created_key"])
            batch.put_item(
                Item={
                    "author_id": author_id,
                    "profile": newest["author"],
                    "profile_at": newest["created_at"],
                    "first_seen": min(t["created_at"] for t in theirs),
                    "last_seen": newest["created_at"],
                    "tweet_count": len(theirs),
                    "counted_keys": {t["hash_line"] for t in theirs},
                }
            )
    return items


def tombstone(settings: Settings, tweet_id: str) -> None:
    """What a delete leaves: status deleted, no index attributes."""
    from chalicelib.dynamo.hashing import hash_line

    aws.client("dynamodb", settings.region).put_item(
        TableName=settings.tweets_table,
        Item={
            "hash_line": {"S": hash_line(tweet_id)},
            "tweet_id": {"S": tweet_id},
            "status": {"S": "deleted"},
            "deleted_at": {"S": PROCESSED_AT},
        },
    )


# --- metering ---------------------------------------------------------------------


@dataclass
class Call:
    operation: str
    params: dict[str, Any]
    items_read: int = 0


@dataclass
class Meter:
    """DynamoDB calls the app made, in order, with their parameters and items read."""

    calls: list[Call] = field(default_factory=list)

    @property
    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    def items_read(self, table: str) -> int:
        return sum(c.items_read for c in self.calls if c.params.get("TableName") == table)

    def on(self, table: str) -> list[Call]:
        return [c for c in self.calls if c.params.get("TableName") == table]


@contextmanager
def metered(settings: Settings) -> Iterator[Meter]:
    """Count every call on the app's cached DynamoDB client (botocore event hooks).

    Calls are sequential, so each result belongs to the last call recorded.
    """
    client = aws.client("dynamodb", settings.region)
    meter = Meter()

    def on_params(params: dict[str, Any], model: Any, **_: Any) -> None:
        meter.calls.append(Call(model.name, dict(params)))

    def on_result(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        call = meter.calls[-1]
        if model.name in ("Query", "Scan"):
            call.items_read = int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        elif model.name == "GetItem":
            call.items_read = 1 if "Item" in parsed else 0

    events = client.meta.events
    events.register("provide-client-params.dynamodb", on_params, unique_id="meter-params")
    events.register("after-call.dynamodb", on_result, unique_id="meter-result")
    try:
        yield meter
    finally:
        events.unregister("provide-client-params.dynamodb", unique_id="meter-params")
        events.unregister("after-call.dynamodb", unique_id="meter-result")


# --- OpenAPI conformance ------------------------------------------------------------


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


@dataclass
class Conformance:
    """Validates responses against the document; records (template, method, status) seen."""

    document: dict[str, Any] = field(default_factory=load_openapi)
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def template_for(self, path: str) -> str:
        matches = [t for t in self.document["paths"] if _template_regex(t).match(path)]
        # /tweets/{tweet_id} and /users/{user_id}/tweets never overlap; a literal wins.
        assert matches, f"{path} matches no documented path"
        return min(matches, key=lambda t: t.count("{"))

    def check(
        self, method: str, url: str, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        path = url.split("?", 1)[0]
        template = self.template_for(path)
        operation = self.document["paths"][template].get(method.lower())
        assert operation is not None, f"{method} {template} is not documented"
        responses = operation["responses"]
        assert str(status) in responses, f"{method} {url}: status {status} is not documented"
        response = self._resolve(responses[str(status)])
        lowered = {k.lower(): v for k, v in headers.items()}
        for name in response.get("headers", {}):
            assert name.lower() in lowered, f"{method} {url}: header {name} missing"
        media = lowered.get("content-type", "").split(";")[0].strip()
        assert media in response["content"], f"{method} {url}: content type {media!r}"
        schema = response["content"][media]["schema"]
        if media == "application/json":
            instance = json.loads(body)
            validator = Draft202012Validator(
                {**schema, "components": self.document["components"]},
                format_checker=FormatChecker(),
            )
            errors = sorted(validator.iter_errors(instance), key=str)
            assert not errors, f"{method} {url}: {errors[0].message} at {list(errors[0].path)}"
        self.seen.add((template, method.lower(), str(status)))

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref")
        if not ref:
            return node
        target: Any = self.document
        for part in ref[2:].split("/"):
            target = target[part]
        return dict(target)

    def documented(self) -> set[tuple[str, str, str]]:
        return {
            (template, method, status)
            for template, item in self.document["paths"].items()
            for method, operation in item.items()
            for status in operation["responses"]
        }


class ApiClient:
    """``chalice.test.Client`` whose every GET is checked against the OpenAPI document."""

    def __init__(self, client: Client, conformance: Conformance) -> None:
        self.client = client
        self.conformance = conformance

    def get(self, url: str) -> Any:
        response = self.client.http.get(url)
        self.conformance.check("GET", url, response.status_code, response.headers, response.body)
        return response
