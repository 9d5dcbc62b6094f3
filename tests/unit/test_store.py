"""DynamoDB repository: codec, item size, batching to the API maxima, bounded retries."""

from __future__ import annotations

import random
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.dynamo.attributes import attr_size, from_item, item_size, to_item
from chalicelib.dynamo.repository import DynamoRepository
from chalicelib.retry import Backoff, RetriesExhaustedError


def throttle(op: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, op
    )


class FakeDynamo:
    """Holds items per table; every ``fault_every``-th call throttles or leaves work unprocessed."""

    def __init__(self, fault_every: int = 0, always_fail: bool = False) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.calls: list[tuple[str, int]] = []
        self.fault_every = fault_every
        self.always_fail = always_fail

    def _fault(self) -> int:
        """0: fine, 1: throttling error, 2: half the entries left unprocessed."""
        n = len(self.calls)
        if self.always_fail:
            return 1
        if not self.fault_every or n % self.fault_every:
            return 0
        return 1 + (n // self.fault_every) % 2

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        size = sum(len(v) for v in RequestItems.values())
        assert size <= 25
        self.calls.append(("write", size))
        fault = self._fault()
        if fault == 1:
            raise throttle("BatchWriteItem")
        unprocessed: dict[str, list[Any]] = {}
        for table, requests in RequestItems.items():
            for i, request in enumerate(requests):
                if fault == 2 and i % 2 == 0:
                    unprocessed.setdefault(table, []).append(request)
                    continue
                item = request["PutRequest"]["Item"]
                self.tables.setdefault(table, {})[repr(sorted(item.items()))[:60]] = item
        return {"UnprocessedItems": unprocessed}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        size = sum(len(v["Keys"]) for v in RequestItems.values())
        assert size <= 100
        assert all(v["ConsistentRead"] for v in RequestItems.values())
        self.calls.append(("get", size))
        fault = self._fault()
        if fault == 1:
            raise throttle("BatchGetItem")
        responses: dict[str, list[Any]] = {}
        unprocessed: dict[str, Any] = {}
        for table, request in RequestItems.items():
            for i, key in enumerate(request["Keys"]):
                if fault == 2 and i % 2 == 0:
                    unprocessed.setdefault(table, {**request, "Keys": []})["Keys"].append(key)
                    continue
                responses.setdefault(table, []).append({**key, "found": {"BOOL": True}})
        return {"Responses": responses, "UnprocessedKeys": unprocessed}


def backoff(sleeps: list[float], attempts: int = 8) -> Backoff:
    return Backoff(max_attempts=attempts, sleep=sleeps.append, rng=random.Random(1))


def test_codec_round_trip_and_types() -> None:
    item = {"s": "x", "n": 12345678901234567890, "b": True, "l": [1, "a"], "m": {"k": [False]}}
    assert from_item(to_item(item)) == item
    assert to_item({"b": True})["b"] == {"BOOL": True}
    with pytest.raises(TypeError):
        to_item({"f": 1.5})


def test_item_size_follows_dynamodb_rules() -> None:
    assert item_size({"ab": "cd"}) == 4
    assert item_size({"a": "é"}) == 3
    assert item_size({"a": [1, 2]}) == 1 + 3 + 2 * (2 + 1)
    assert item_size({"a": True}) == 2


def test_writes_pack_25_per_call_across_tables_and_survive_faults() -> None:
    fake = FakeDynamo(fault_every=3)
    sleeps: list[float] = []
    repo = DynamoRepository(fake, backoff(sleeps))
    puts = [("t1" if i % 3 else "t2", {"k": f"id{i}", "v": i}) for i in range(110)]
    repo.put_many(puts)
    stored = [from_item(i) for t in fake.tables.values() for i in t.values()]
    assert sorted(i["v"] for i in stored) == list(range(110))  # nothing lost, nothing doubled
    assert repo.stats.items_written == 110
    assert repo.stats.retries > 0 and sleeps
    first_sizes = [size for op, size in fake.calls if op == "write"][:1]
    assert first_sizes == [25]


def test_reads_100_keys_per_call_and_retry_unprocessed() -> None:
    fake = FakeDynamo(fault_every=3)
    repo = DynamoRepository(fake, backoff([]))
    found = repo.get_many({"t": [{"k": str(i)} for i in range(250)] + [{"k": "0"}]})
    assert sorted(int(i["k"]) for i in found["t"]) == list(range(250))
    assert [size for op, size in fake.calls][:1] == [100]


def test_persistent_throttling_raises_after_bounded_attempts() -> None:
    fake = FakeDynamo(always_fail=True)
    sleeps: list[float] = []
    repo = DynamoRepository(fake, backoff(sleeps, attempts=4))
    with pytest.raises(RetriesExhaustedError):
        repo.put_many([("t", {"k": "1"})])
    assert len(fake.calls) == 4
    assert len(sleeps) == 3
    assert all(0 <= s <= 2.0 for s in sleeps)


def test_a_request_error_is_not_retried() -> None:
    class Broken:
        calls = 0

        def batch_write_item(self, **_: Any) -> dict[str, Any]:
            Broken.calls += 1
            raise ClientError({"Error": {"Code": "ValidationException"}}, "BatchWriteItem")

    with pytest.raises(ClientError):
        DynamoRepository(Broken(), backoff([])).put_many([("t", {"k": "1"})])
    assert Broken.calls == 1


def test_item_size_follows_dynamodbs_published_rules() -> None:
    """Strings by UTF-8 bytes, numbers 1 byte per 2 significant digits + 1, lists and
    maps 3 + 1 per element, names counted, booleans and null 1; the cost model sizes
    stored items with the same function (through ``from_item``)."""
    assert attr_size("héllo") == 6
    assert attr_size(123) == 3  # ceil(3/2) + 1
    assert attr_size(1200) == 2  # trailing zeros trimmed: "12"
    assert attr_size(-15) == 2
    assert attr_size(True) == 1
    assert attr_size(None) == 1
    assert attr_size([]) == 3
    assert attr_size(["ab", 7]) == 3 + (1 + 2) + (1 + 2)
    assert attr_size({"k": "v"}) == 3 + 1 + 1 + 1
    assert item_size({"id": "abc", "n": 10}) == 2 + 3 + 1 + 2
    assert item_size(from_item({"id": {"S": "abc"}, "n": {"N": "10"}})) == 8
    with pytest.raises(TypeError):
        attr_size(1.5)
