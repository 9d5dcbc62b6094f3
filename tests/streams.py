"""Kinesis test helpers: read a whole stream back, and inject partial failures.

``FlakyKinesis`` wraps a real client (the moto server's, or an in-memory
twin) and fails a seeded fraction of ``PutRecords`` entries the way Kinesis
does: the failed entries are not written, the rest are, and the response
reports each entry's outcome in request order.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StreamRecord:
    shard_id: str
    sequence_number: int
    partition_key: str
    data: bytes


def read_stream(kinesis: Any, stream_name: str) -> list[StreamRecord]:
    """Every record in every shard, from TRIM_HORIZON, in shard then sequence order."""
    records: list[StreamRecord] = []
    shards = kinesis.list_shards(StreamName=stream_name)["Shards"]
    for shard in shards:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            for record in page["Records"]:
                records.append(
                    StreamRecord(
                        shard_id=shard["ShardId"],
                        # moto's sequence numbers are short integers: compare as ints.
                        sequence_number=int(record["SequenceNumber"]),
                        partition_key=record["PartitionKey"],
                        data=record["Data"],
                    )
                )
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return records


def by_partition_key(records: list[StreamRecord]) -> dict[str, list[bytes]]:
    """Each partition key's record data in stream (sequence number) order."""
    ordered = sorted(records, key=lambda r: (r.shard_id, r.sequence_number))
    out: dict[str, list[bytes]] = defaultdict(list)
    for record in ordered:
        out[record.partition_key].append(record.data)
    return dict(out)


class FlakyKinesis:
    """A Kinesis client whose ``put_records`` fails ``rate`` of the entries (seeded)."""

    def __init__(self, inner: Any, rate: float, seed: int = 0) -> None:
        self.inner = inner
        self.rate = rate
        self.rng = random.Random(seed)
        self.calls: list[list[dict[str, Any]]] = []
        self.failed_entries = 0

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Records)
        fail = [self.rng.random() < self.rate for _ in Records]
        forward = [r for r, f in zip(Records, fail, strict=True) if not f]
        written = iter(
            self.inner.put_records(StreamName=StreamName, Records=forward)["Records"]
            if forward
            else []
        )
        results = [
            {
                "ErrorCode": "ProvisionedThroughputExceededException",
                "ErrorMessage": "Rate exceeded for shard (injected)",
            }
            if f
            else next(written)
            for f in fail
        ]
        self.failed_entries += sum(fail)
        return {"FailedRecordCount": sum(fail), "Records": results}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class MemoryKinesis:
    """An in-memory twin of ``put_records`` for unit tests (no socket): one shard."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.records: list[StreamRecord] = []

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        assert 1 <= len(Records) <= 500
        assert sum(len(r["Data"]) + len(r["PartitionKey"].encode()) for r in Records) <= 5 << 20
        self.calls.append(Records)
        results = []
        for entry in Records:
            seq = len(self.records)
            self.records.append(
                StreamRecord("shardId-000000000000", seq, entry["PartitionKey"], entry["Data"])
            )
            results.append({"SequenceNumber": str(seq), "ShardId": "shardId-000000000000"})
        return {"FailedRecordCount": 0, "Records": results}


class ListSource:
    """A source over fixed lines; ``fail_after`` makes it raise like a dropped connection."""

    source_api = "replay"

    def __init__(self, lines: list[str | bytes], fail_after: int | None = None) -> None:
        self._lines = lines
        self._fail_after = fail_after
        self.stopped = False

    @property
    def reconnects(self) -> int:
        return 0

    def stop(self) -> None:
        self.stopped = True

    def lines(self) -> Iterator[str | bytes]:
        for index, line in enumerate(self._lines):
            if index == self._fail_after:
                raise ConnectionError("stream dropped (injected)")
            yield line
