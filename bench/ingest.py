"""Ingest throughput: synthetic source → normalize → Kinesis (moto server), batched vs naive.

Runs the real ingest path (:func:`chalicelib.ingest.handler.run_ingest`, the batching
producer) against a moto server started in its own process on 127.0.0.1, then
a naive producer that calls ``put_record`` once per record on the same lines,
in the same run, and prints both rates and their ratio. Figures are for this
machine and an emulated stream; what carries over to AWS is the number of
calls per 1,000 tweets (each call is a network round trip there too).

    python -m bench.ingest [--lines 10000] [--naive-lines 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from typing import Any

from chalicelib import aws
from chalicelib.config import load_settings
from chalicelib.envelope.normalize import normalize_line
from chalicelib.ingest.handler import IngestDeps, encode_record, run_ingest
from chalicelib.ingest.producer import KinesisProducer
from chalicelib.ingest.sources.synthetic import SyntheticSource, generate_lines
from tweetlake_local.emulator import aws_environment
from tweetlake_local.resources import create_resources
from tweetlake_local.stage import stage_environment

SEED = 2026
START_MS = 1_767_225_600_000


RUNNING_ON = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto's server in its own process, on a port it binds itself (werkzeug prints it).

    Its stderr goes to an unlinked temporary file, read with ``pread`` (which leaves
    the offset the child writes at alone): an unread pipe would fill and stall it.
    """
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            found = RUNNING_ON.search(os.pread(log.fileno(), 65536, 0).decode(errors="replace"))
            if found:
                return proc, found.group(1)
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start")


def reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def tweets_in(lines: list[str]) -> int:
    return sum(1 for line in lines for item in normalize_line(line) if item.kind == "tweet")


def batched(lines: int) -> dict[str, Any]:
    source = SyntheticSource(SEED, rate=0, limit=lines, start_ms=START_MS)
    started = time.perf_counter()
    summary = run_ingest({"id": str(uuid.uuid4())}, None, IngestDeps(source=source))
    summary["wall_s"] = time.perf_counter() - started
    return summary


def encoded(lines: list[str]) -> list[tuple[bytes, str, int | None]]:
    return [
        encode_record(item.envelope)
        for line in lines
        for item in normalize_line(line, source_api="synthetic")
        if item.envelope is not None
    ]


def send_only_batched(
    records: list[tuple[bytes, str, int | None]], stream: str, kinesis: Any
) -> float:
    """The producer alone on records already normalized and encoded."""
    producer = KinesisProducer(kinesis, stream)
    started = time.perf_counter()
    for data, key, tweet_id in records:
        producer.put(data, key, tweet_id=tweet_id)
    producer.close()
    return time.perf_counter() - started


def send_only_naive(
    records: list[tuple[bytes, str, int | None]], stream: str, kinesis: Any
) -> float:
    started = time.perf_counter()
    for data, key, _ in records:
        kinesis.put_record(StreamName=stream, Data=data, PartitionKey=key)
    return time.perf_counter() - started


def naive(lines: list[str], stream: str, kinesis: Any) -> tuple[int, float]:
    """One ``put_record`` per record: what the batching producer replaces."""
    started = time.perf_counter()
    sent = 0
    for line in lines:
        for item in normalize_line(line, source_api="synthetic"):
            if item.envelope is not None:
                data, key, _ = encode_record(item.envelope)
                kinesis.put_record(StreamName=stream, Data=data, PartitionKey=key)
                sent += 1
    return sent, time.perf_counter() - started


def fresh_stream(endpoint: str, settings: Any) -> None:
    reset(endpoint)
    create_resources(settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--naive-lines", type=int, default=1_000)
    args = parser.parse_args(argv)

    proc, endpoint = start_moto()
    try:
        os.environ.update({**stage_environment("dev"), **aws_environment(endpoint)})
        settings = load_settings(os.environ)
        create_resources(settings)
        kinesis = aws.client("kinesis", settings.region)

        started = time.perf_counter()
        all_lines = generate_lines(SEED, args.lines, start_ms=START_MS)
        tweets = tweets_in(all_lines)
        source_s = time.perf_counter() - started

        summary = batched(args.lines)
        assert summary["received"] == args.lines, summary
        batched_rate = tweets / summary["wall_s"]
        calls = summary["put_records_calls"]

        fresh_stream(endpoint, settings)
        naive_lines = all_lines[: args.naive_lines]
        naive_tweets = tweets_in(naive_lines)
        _, naive_s = naive(naive_lines, settings.stream_name, kinesis)
        naive_rate = naive_tweets / naive_s

        fresh_stream(endpoint, settings)
        records = encoded(all_lines)
        send_s = send_only_batched(records, settings.stream_name, kinesis)

        counts = {k: summary[k] for k in ("received", "sent", "control", "quarantined")}
        print(f"synthetic_lines: {args.lines} lines ({tweets} tweets, {summary['sent']} records)")
        print(f"put_records_calls_per_1000_tweets: {calls * 1000 / tweets:.2f} calls")
        print(f"batched_synthetic_to_moto: {batched_rate:.0f} tweets/s")
        print(f"naive_put_record_synthetic_to_moto: {naive_rate:.0f} tweets/s")
        print(f"batched_over_naive: {batched_rate / naive_rate:.1f} x")
        print(f"synthetic_source_and_normalize_alone: {tweets / source_s:.0f} tweets/s")
        print(f"batched_producer_alone_to_moto: {len(records) / send_s:.0f} records/s")
        print(f"run_summary: {json.dumps(counts)} count")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
