"""Fault injection for DynamoDB batch calls through botocore's event hooks.

moto never returns ``UnprocessedItems`` / ``UnprocessedKeys`` and never
throttles. These hooks sit on the very client the consumer uses (the cached
``chalicelib.aws`` client), so a test can drive the real handler through
``chalice.test.Client``: every ``every``-th batch call either fails with a
throttling error (nothing sent) or sends only half its entries to moto and
reports the other half back as unprocessed, like DynamoDB under load.
"""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse

OPERATIONS = {"BatchWriteItem": "UnprocessedItems", "BatchGetItem": "UnprocessedKeys"}


class DynamoFaults:
    def __init__(self, client: Any, every: int = 3) -> None:
        self.client = client
        self.every = every
        self.calls = 0
        self.throttled = 0
        self.held_back = 0
        self._hooks: list[tuple[str, Any, str]] = []
        for op in OPERATIONS:
            self._hook(f"before-parameter-build.dynamodb.{op}", self._before_params)
            self._hook(f"before-call.dynamodb.{op}", self._before_call)
            self._hook(f"after-call.dynamodb.{op}", self._after_call)

    def _hook(self, event: str, handler: Any) -> None:
        unique = f"tweetlake-faults-{event}"
        self.client.meta.events.register(event, handler, unique_id=unique)
        self._hooks.append((event, handler, unique))

    def remove(self) -> None:
        for event, handler, unique in self._hooks:
            self.client.meta.events.unregister(event, handler, unique_id=unique)

    def _before_params(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        self.calls += 1
        if self.calls % self.every:
            return
        if (self.calls // self.every) % 2:
            context["inject"] = "throttle"
            return
        kept: dict[str, Any] = {}
        held: dict[str, Any] = {}
        for table, entry in params["RequestItems"].items():
            if model.name == "BatchWriteItem":
                kept[table], dropped = entry[::2], entry[1::2]
                if dropped:
                    held[table] = dropped
                    self.held_back += len(dropped)
            else:
                keys = entry["Keys"]
                kept[table] = {**entry, "Keys": keys[::2]}
                if keys[1::2]:
                    held[table] = {**entry, "Keys": keys[1::2]}
                    self.held_back += len(keys[1::2])
        params["RequestItems"] = kept  # a new dict: the caller's request stays intact
        context["held"] = (OPERATIONS[model.name], held)

    def _before_call(self, context: dict[str, Any], **_: Any) -> Any:
        if context.get("inject") != "throttle":
            return None
        self.throttled += 1
        response = AWSResponse("http://127.0.0.1/injected", 400, {}, None)
        parsed = {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return response, parsed

    def _after_call(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        leftover = context.pop("held", None)
        if not leftover:
            return
        name, held = leftover
        target = parsed.setdefault(name, {})
        for table, entry in held.items():
            if name == "UnprocessedItems":
                target.setdefault(table, []).extend(entry)
            else:
                target.setdefault(table, {**entry, "Keys": []})["Keys"].extend(entry["Keys"])
