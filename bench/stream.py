"""Live-stream throughput: loopback X server → v2 source → normalize → Kinesis producer.

The loopback server (:mod:`tests.support.fake_twitter`) runs in its own
process and sends synthetic v2 stream lines as fast as the socket takes
them, in 64 KiB chunks of the real wire format (chunked HTTP, ``\\r\\n``
lines). This process reads them through :class:`V2StreamSource` (the same
code the Lambda runs) and feeds the ingest path: ``normalize_line``, the
envelope encoding, and the batching :class:`KinesisProducer`. The producer's
Kinesis client is an in-memory stand-in that acknowledges every record, so
the figure is what one core does between the socket and ``PutRecords``;
PutRecords latency against real Kinesis is measured by ``bench.ingest``.

``connect_after_stale_connection_s`` is the time from a run's start to its
first tweet when X holds the app's one stream slot for a stale connection and
the start-up check cannot see it: the stream answers 429 TooManyConnections,
the source clears the slot (``DELETE /2/connections/all``) and reconnects, on
real time and real sockets (loopback), instead of the 60 s rate-limit wait.

    python -m bench.stream [--lines 100000]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import time
from typing import Any

from chalicelib.envelope.normalize import normalize_line
from chalicelib.ingest.handler import encode_record
from chalicelib.ingest.producer import KinesisProducer
from chalicelib.ingest.sources.credentials import Secret
from chalicelib.ingest.sources.synthetic import generate_lines
from chalicelib.ingest.sources.v2_stream import V2StreamSource
from tests.support import fake_twitter as ft

SEED = 2026


class AcceptingKinesis:
    """``put_records`` that acknowledges every entry (no network, no emulator)."""

    def __init__(self) -> None:
        self.records = 0
        self.calls = 0

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        self.records += len(Records)
        entries = [{"SequenceNumber": str(i), "ShardId": "shardId-0"} for i in range(len(Records))]
        return {"FailedRecordCount": 0, "Records": entries}


def v2_block(count: int) -> tuple[bytes, int]:
    """``count`` distinct v2 lines (synthetic, many authors) as one wire block."""
    lines = [x for x in generate_lines(SEED, count * 3) if x.startswith('{"data"')][:count]
    return b"".join(line.encode() + b"\r\n" for line in lines), len(lines)


def serve(block: bytes, times: int, ready: Any, done: Any) -> None:
    with ft.FakeTwitter() as server:
        server.script(ft.V2_SAMPLE, ft.blob(block, times), ft.end())
        ready.put(server.url)
        done.wait(120)


def read(url: str, expected: int, into_producer: bool) -> tuple[int, float, float, int]:
    source = V2StreamSource(Secret("test-bearer"), api_url=url, stream="sample", catch_up_pages=0)
    kinesis = AcceptingKinesis()
    producer = KinesisProducer(kinesis, "bench", linger_s=0.5)
    tweets = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for line in source.lines():
        if not line:
            continue
        if into_producer:
            for item in normalize_line(line, source_api="v2"):
                if item.envelope is not None:
                    data, key, tweet_id = encode_record(item.envelope)
                    producer.put(data, key, tweet_id=tweet_id)
                    tweets += 1
        else:
            tweets += 1
        if tweets >= expected:
            source.stop()
    producer.flush()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if into_producer and kinesis.records != tweets:
        raise SystemExit(f"producer sent {kinesis.records} of {tweets} records")
    return tweets, wall, cpu, source.bytes_read


def run(lines: int, into_producer: bool) -> tuple[int, float, float, int]:
    block, distinct = v2_block(min(lines, 20_000))
    times = max(1, lines // distinct)
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve, args=(block, times, ready, done), daemon=True)
    server.start()
    try:
        return read(ready.get(timeout=60), distinct * times, into_producer)
    finally:
        done.set()
        server.join(10)


def _high_water_mark_kib() -> int:
    """Peak resident set of this process (``VmHWM``; unlike ``ru_maxrss``, not inherited
    from the process that forked it)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def _reader_process(url: str, expected: int, out: Any) -> None:
    """The ingest function's footprint: its imports, its three clients, a full read."""
    import boto3

    from chalicelib.ingest import handler  # noqa: F401  (the function's import graph)

    for service in ("kinesis", "s3", "dynamodb"):
        boto3.client(service, region_name="us-east-1")
    read(url, expected, into_producer=True)
    out.put(_high_water_mark_kib())


def ingest_peak_rss_mib(lines: int) -> float:
    """Peak RSS of a fresh process that reads ``lines`` tweets off the stream into the
    producer: what the ingest function's memory setting must hold (docs/cost.md)."""
    block, distinct = v2_block(min(lines, 20_000))
    times = max(1, lines // distinct)
    ctx = multiprocessing.get_context("spawn")
    ready, done, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    server = ctx.Process(target=serve, args=(block, times, ready, done), daemon=True)
    server.start()
    try:
        reader = ctx.Process(
            target=_reader_process, args=(ready.get(timeout=60), distinct * times, out)
        )
        reader.start()
        peak = out.get(timeout=300)
        reader.join(30)
        return peak / 1024
    finally:
        done.set()
        server.join(10)


def stale_connection_recovery() -> float:
    """Seconds from start to the first tweet through a 429 TooManyConnections."""
    logging.getLogger("chalicelib.ingest.sources.v2_stream").setLevel(logging.ERROR)
    with ft.FakeTwitter(stream_limit=1) as server:
        server.add_stale_connection(ft.V2_SAMPLE)
        server.fail_next(ft.V2_CONNECTIONS, ft.status(503))  # the check misses it
        block, _ = v2_block(1)
        server.script(ft.V2_SAMPLE, ft.blob(block))
        source = V2StreamSource(
            Secret(server.bearer), api_url=server.url, stream="sample", catch_up_pages=0
        )
        started = time.perf_counter()
        for line in source.lines():
            if line:
                source.stop()
        elapsed = time.perf_counter() - started
        if source.failures != {"too_many_connections": 1} or source.stale_cleared != 1:
            raise SystemExit(f"expected one cleared TooManyConnections, got {source.summary()}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    n, wall, cpu, size = run(args.lines, into_producer=False)
    print(f"stream_read_tweets_per_s: {n / wall:,.0f} tweets/s")
    print(f"stream_read_mib_per_s: {size / wall / 2**20:,.1f} MiB/s")
    print(f"mean_line_bytes: {size / n:,.0f} B")
    n, wall, cpu, _ = run(args.lines, into_producer=True)
    print(f"stream_to_producer_tweets_per_s: {n / wall:,.0f} tweets/s")
    print(f"stream_to_producer_tweets_per_cpu_s: {n / cpu:,.0f} tweets/s")
    print(f"stream_to_producer_tweets: {n} tweets")
    print(f"connect_after_stale_connection_s: {stale_connection_recovery():.3f} s")
    print(f"ingest_peak_rss: {ingest_peak_rss_mib(args.lines):.0f} MiB")


if __name__ == "__main__":
    main()
