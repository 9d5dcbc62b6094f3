"""The batching producer: call limits, linger, oversize, and order under partial failure."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.ingest.producer import (
    MAX_RECORD_BYTES,
    KinesisProducer,
    OversizeRecordError,
)
from chalicelib.retry import Backoff, RetriesExhaustedError
from tests.streams import FlakyKinesis, MemoryKinesis, by_partition_key
from tests.support.clock import ManualClock


def producer(client: Any, **kwargs: Any) -> tuple[KinesisProducer, list[float]]:
    sleeps: list[float] = []
    kwargs.setdefault(
        "backoff", Backoff(base_s=0.1, cap_s=1.0, max_attempts=8, sleep=sleeps.append)
    )
    kwargs.setdefault("clock", ManualClock(1000.0))
    return KinesisProducer(client, "s", **kwargs), sleeps


def test_a_thousand_records_for_distinct_keys_take_two_calls() -> None:
    kinesis = MemoryKinesis()
    p, _ = producer(kinesis)
    for i in range(1000):
        p.put(b'{"n":%d}\n' % i, f"author-{i}")
    assert len(kinesis.calls) == 2  # sent as the buffer filled, before any flush
    p.close()
    assert [len(c) for c in kinesis.calls] == [500, 500]
    assert p.stats.sent == 1000


def test_calls_stay_under_five_mebibytes() -> None:
    kinesis = MemoryKinesis()
    p, _ = producer(kinesis)
    big = b"x" * (900 * 1024)
    for i in range(12):
        p.put(big, f"k{i}")
    p.close()
    assert len(kinesis.records) == 12
    assert all(sum(len(r["Data"]) for r in call) <= 5 << 20 for call in kinesis.calls)
    assert [len(c) for c in kinesis.calls] == [5, 5, 2]


def test_linger_sends_a_small_batch_once_it_has_waited_long_enough() -> None:
    kinesis = MemoryKinesis()
    clock = ManualClock(1000.0)
    p, _ = producer(kinesis, clock=clock, linger_s=0.5)
    p.put(b"a\n", "k1")
    clock.now += 0.4
    p.poll()
    assert kinesis.calls == []
    clock.now += 0.1
    p.poll()
    assert len(kinesis.calls) == 1 and p.pending == []


def test_oversize_record_is_refused_and_nothing_is_buffered() -> None:
    kinesis = MemoryKinesis()
    p, _ = producer(kinesis)
    key = "1234"
    limit_data = b"y" * (MAX_RECORD_BYTES - len(key))
    p.put(limit_data, key)  # exactly at the limit: accepted
    with pytest.raises(OversizeRecordError) as info:
        p.put(limit_data + b"y", key)
    assert info.value.size == MAX_RECORD_BYTES + 1
    p.close()
    assert len(kinesis.records) == 1


def test_one_record_per_key_per_call_keeps_a_hot_key_in_order() -> None:
    """GIVEN one hot key among many WHEN flushed THEN no call carries the key twice."""
    kinesis = MemoryKinesis()
    p, _ = producer(kinesis)
    sent = []
    for i in range(300):
        key = "hot" if i % 3 == 0 else f"cold-{i}"
        data = f"{key}:{i}\n".encode()
        sent.append((key, data))
        p.put(data, key)
    p.close()
    for call in kinesis.calls:
        keys = [r["PartitionKey"] for r in call]
        assert len(keys) == len(set(keys))
    expected: dict[str, list[bytes]] = {}
    for key, data in sent:
        expected.setdefault(key, []).append(data)
    assert by_partition_key(kinesis.records) == expected


def test_partial_failures_are_resent_in_order_exactly_once() -> None:
    """GIVEN 30% of entries failing WHEN 2,000 records over 20 keys are sent
    THEN every record lands once and each key's records keep their order."""
    memory = MemoryKinesis()
    flaky = FlakyKinesis(memory, rate=0.3, seed=4)
    p, sleeps = producer(flaky)
    expected: dict[str, list[bytes]] = {}
    for i in range(2000):
        key = f"author-{(i * 7919) % 20}"
        data = f"{key}:{i}\n".encode()
        expected.setdefault(key, []).append(data)
        p.put(data, key)
    p.close()
    assert flaky.failed_entries > 500
    assert by_partition_key(memory.records) == expected
    assert p.stats.sent == 2000
    assert p.stats.resent == flaky.failed_entries
    assert sleeps and max(sleeps) <= 1.0


def test_failures_that_never_clear_raise_and_keep_the_records() -> None:
    memory = MemoryKinesis()
    p, sleeps = producer(FlakyKinesis(memory, rate=1.0))
    for i in range(10):
        p.put(b"%d\n" % i, f"k{i % 3}")
    with pytest.raises(RetriesExhaustedError, match="after 8 attempts"):
        p.close()
    assert memory.records == []
    assert len(p.pending) == 10  # nothing silently dropped
    assert len(sleeps) == 7  # backoff between the 8 attempts of the first call
    assert p.stats.errors == Counter({"ProvisionedThroughputExceededException": 8 * 3})


class ThrottledThenOk:
    """A client whose first call fails as a whole with a retryable error code."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.inner = MemoryKinesis()
        self.failures = 1

    def put_records(self, **kwargs: Any) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "PutRecords")
        return self.inner.put_records(**kwargs)


def test_a_throttled_call_is_retried_whole() -> None:
    client = ThrottledThenOk("ProvisionedThroughputExceededException")
    p, sleeps = producer(client)
    p.put(b"a\n", "k")
    p.close()
    assert len(client.inner.records) == 1 and len(sleeps) == 1


def test_a_non_retryable_error_raises_at_once() -> None:
    p, _ = producer(ThrottledThenOk("ResourceNotFoundException"))
    p.put(b"a\n", "k")
    with pytest.raises(ClientError):
        p.close()
    assert len(p.pending) == 1


def test_the_checkpoint_id_is_the_largest_sent_not_the_last() -> None:
    p, _ = producer(MemoryKinesis())
    for tweet_id in (5, 90, 7):
        p.put(b"t\n", "k", tweet_id=tweet_id)
    p.put(b"d\n", "k")  # a delete carries no checkpoint id
    p.close()
    assert p.max_tweet_id_sent == 90


def test_a_backlog_of_one_key_is_drained_when_the_buffer_is_too_long() -> None:
    kinesis = MemoryKinesis()
    p, _ = producer(kinesis, max_pending=600, linger_s=60)
    for i in range(700):
        p.put(b"%d\n" % i, "hot")
    assert 0 < len(p.pending) <= 600  # sent one at a time, order kept
    p.close()
    assert [r.data for r in kinesis.records] == [b"%d\n" % i for i in range(700)]


def test_a_held_back_record_lingers_from_when_its_key_is_free() -> None:
    """GIVEN two records of one key WHEN the first goes out on linger
    THEN the second waits its own linger from that call, not from its arrival."""
    kinesis = MemoryKinesis()
    clock = ManualClock(1000.0)
    p, _ = producer(kinesis, clock=clock, linger_s=0.5)
    p.put(b"1\n", "k")
    p.put(b"2\n", "k")
    clock.now += 0.5
    p.poll()
    assert [len(c) for c in kinesis.calls] == [1]
    clock.now += 0.4
    p.poll()
    assert len(kinesis.calls) == 1
    clock.now += 0.1
    p.poll()
    assert [r.data for r in kinesis.records] == [b"1\n", b"2\n"]
