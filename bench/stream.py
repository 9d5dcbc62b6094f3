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

``jetstream_events_per_cpu_s`` is the same path for Bluesky: a loopback
Jetstream instance (:mod:`tests.support.fake_jetstream`, its own process)
replays 20,000 events (posts with facets after CJK and emoji text, replies; updates,
deletes, account events) from a cursor over a real websocket; this process reads them
through :class:`JetstreamSource`, normalizes (``chalicelib.envelope.bluesky``),
encodes and hands them to the producer. CPU time (``time.process_time``, the
websocket client's reader thread included) per event.

    python -m bench.stream [--lines 100000] [--events 20000]
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


def jetstream_frames(count: int) -> list[dict[str, Any]]:
    """``count`` Jetstream events: posts by 500 accounts (tags and mentions after CJK and
    emoji text, every tenth a reply), and among them updates, deletes and account events."""
    from tests.support import bluesky as bs

    start = 1_748_779_200_000_000
    authors = [bs.did(n) for n in range(500)]
    frames: list[dict[str, Any]] = []
    for n in range(count):
        time_us = start + n * 1_000
        author = authors[n % 500]
        if n % 50 == 7:
            frames.append(bs.account(author, time_us, n, n % 100 != 7, "deactivated"))
            continue
        if n % 25 == 3 and frames[-1]["kind"] == "commit":
            old = frames[-1]
            op = "delete" if n % 2 else "update"
            record = None if op == "delete" else old["commit"].get("record")
            frames.append(bs.commit(old["did"], time_us, op, old["commit"]["rkey"], record=record))
            continue
        text = f"湖のほとり 🌊 post {n} #lakes with @friend{n % 97}.test"
        encoded = text.encode()
        tag, at = encoded.index(b"#lakes"), encoded.index(b"@")
        mention = {"$type": "app.bsky.richtext.facet#mention", "did": authors[(n + 1) % 500]}
        facets = [
            {"index": {"byteStart": tag, "byteEnd": tag + 6},
             "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "lakes"}]},
            {"index": {"byteStart": at, "byteEnd": len(encoded)}, "features": [mention]},
        ]  # fmt: skip
        record = bs.post_record(text, bs.iso(time_us), facets=facets)
        if n % 10 == 1 and frames and frames[-1]["kind"] == "commit":
            parent = frames[-1]
            uri = f"at://{parent['did']}/app.bsky.feed.post/{parent['commit']['rkey']}"
            record["reply"] = {"root": {"uri": uri, "cid": "c"}, "parent": {"uri": uri, "cid": "c"}}
        frames.append(
            bs.commit(author, time_us, "create", bs.tid(time_us, n % 1024), record=record)
        )
    return frames


def _serve_jetstream(count: int, ready: Any, done: Any) -> None:
    from tests.support.fake_jetstream import FakeJetstream

    frames = jetstream_frames(count)
    with FakeJetstream() as server:
        server.add(frames)
        ready.put((server.url, frames[0]["time_us"], frames[-1]["time_us"]))
        done.wait(300)


def jetstream_events_per_cpu_s(count: int) -> tuple[float, int]:
    """Events per CPU second, loopback Jetstream → source → normalize → producer."""
    from chalicelib.ingest.sources.jetstream import JetstreamSettings, JetstreamSource

    # The frames are dated 2025: the source's "older than the replay window" warning is
    # true, and beside the point here.
    logging.getLogger("chalicelib.ingest.sources.jetstream").setLevel(logging.ERROR)
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve_jetstream, args=(count, ready, done), daemon=True)
    server.start()
    try:
        url, first_us, last_us = ready.get(timeout=120)
        source = JetstreamSource(JetstreamSettings(urls=(url,), rewind_s=0), checkpoint_us=first_us)
        kinesis = AcceptingKinesis()
        producer = KinesisProducer(kinesis, "bench", linger_s=0.5)
        events = sent = 0
        cpu = time.process_time()
        for frame in source.lines():
            if not frame:
                continue
            events += 1
            for item in normalize_line(frame, source_api="jetstream"):
                if item.envelope is not None:
                    data, key, _ = encode_record(item.envelope)
                    producer.put(data, key, tweet_id=item.cursor)
                    sent += 1
                if item.cursor == last_us:
                    source.stop()
        producer.flush()
        cpu = time.process_time() - cpu
    finally:
        done.set()
        server.join(10)
    if events != count or kinesis.records != sent or producer.max_tweet_id_sent != last_us:
        raise SystemExit(f"read {events} of {count} events, sent {kinesis.records} of {sent}")
    return events / cpu, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000)
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
    rate, events = jetstream_events_per_cpu_s(args.events)
    print(f"jetstream_events_per_cpu_s: {rate:,.0f} events")
    print(f"jetstream_events: {events} events")


if __name__ == "__main__":
    main()
