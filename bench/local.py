"""The local mode end to end: freshness, throughput, and the lake's scan ratio.

``python -m bench.local`` starts what ``make run`` starts (a moto server on
127.0.0.1, the dev resources, ``chalice local`` in its own process, and the
local pipeline: the real ingest function, the Kinesis event source mapping
into the real consumer, both Firehose deliveries; the moto servers in processes
of their own, each reader in a thread of its own) and measures:

* ``freshness_*``: from the moment the source emits a tweet's line to the first
  ``GET /tweets/{id}`` on ``chalice local`` that answers 200 (polled every
  50 ms by a few prober threads, each following the newest tweet emitted when
  it is free; a tweet deleted before it was seen is not a sample). Measured twice at
  the same paced rate: with the consumer's batching window from ``app.py``
  (what AWS would do) and with no window (``run --batching-window 0``).
* ``pipeline_tweets_per_s``: an unpaced synthetic load from the first line
  emitted until every stage has drained (stored in DynamoDB, both lake zones
  written): the sustained rate through the whole local pipeline;
  ``first_store_after_start_s``: in that load, from the pipeline's start to the
  consumer's first stored tweet (does an unpaced ingest starve the consumer?).
* ``scan_ratio_local_*``: :func:`bench.lake.scan_ratios` over the tweets that
  load put in the lake (``bench.lake`` has the full lake figures).

Everything runs on this machine against emulated AWS, sharing its cores: the
figures say what the local mode does, not what Lambda would.

    python -m bench.local [--seconds 10] [--rate 50] [--lines 3000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.config import Settings, load_settings
from chalicelib.consume.handler import handle_batch
from chalicelib.ingest.sources.synthetic import SyntheticSource
from tweetlake_local.api_server import ChaliceLocal
from tweetlake_local.emulator import LOCAL_APART, MotoServer
from tweetlake_local.pipeline import Pipeline
from tweetlake_local.resources import create_resources
from tweetlake_local.stage import stage_environment

SEED = 2026
PROBERS = 4
PROBE_EVERY_S = 0.05
PROBE_GIVE_UP_S = 20.0


class TimedSource:
    """A source that notes when it emitted each tweet (by tweet id)."""

    source_api = "synthetic"

    def __init__(self, inner: SyntheticSource) -> None:
        self._inner = inner
        self.emitted: list[tuple[str, float]] = []  # (tweet id, monotonic time)
        self.deleted: set[str] = set()  # a deleted tweet may never become visible
        self.lines_emitted = 0
        self.first_at: float | None = None
        self.done = threading.Event()

    @property
    def reconnects(self) -> int:
        return 0

    def stop(self) -> None:
        self._inner.stop()

    def lines(self) -> Iterator[str]:
        try:
            for line in self._inner.lines():
                now = time.monotonic()
                if self.first_at is None:
                    self.first_at = now
                kind, tweet_id = tweet_id_of(line)
                if kind == "tweet":
                    self.emitted.append((tweet_id, now))
                elif kind == "delete":
                    self.deleted.add(tweet_id)
                self.lines_emitted += 1
                yield line
        finally:
            self.done.set()


def tweet_id_of(line: str) -> tuple[str, str]:
    """``("tweet" | "delete" | "other", tweet id)`` of a synthetic stream line."""
    if not line.strip():
        return "other", ""
    doc = json.loads(line)
    if isinstance(doc.get("data"), dict):
        return "tweet", str(doc["data"]["id"])
    if "id_str" in doc and "user" in doc:
        return "tweet", str(doc["id_str"])
    if "delete" in doc:
        return "delete", str(doc["delete"]["status"]["id_str"])
    if doc.get("action") == "delete":
        return "delete", str(doc["id"])
    return "other", ""


@dataclass
class Prober:
    """Polls for the newest emitted tweet until it is visible, then the next one."""

    source: TimedSource
    visible: Callable[[str], bool]
    stop: threading.Event
    latencies: list[float] = field(default_factory=list)
    given_up: int = 0
    claimed: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self) -> tuple[str, float] | None:
        with self.lock:
            for tweet_id, at in reversed(self.source.emitted[-50:]):
                if tweet_id not in self.claimed:
                    self.claimed.add(tweet_id)
                    return tweet_id, at
        return None

    def run(self) -> None:
        while not self.stop.is_set():
            claimed = self.claim()
            if claimed is None:
                time.sleep(PROBE_EVERY_S)
                continue
            tweet_id, emitted_at = claimed
            while not self.visible(tweet_id):
                if tweet_id in self.source.deleted:
                    break  # deleted before it was seen: not a freshness sample
                if time.monotonic() - emitted_at > PROBE_GIVE_UP_S:
                    self.given_up += 1
                    break
                time.sleep(PROBE_EVERY_S)
            else:
                self.latencies.append(time.monotonic() - emitted_at)


def api_visible(api: str) -> Callable[[str], bool]:
    def visible(tweet_id: str) -> bool:
        try:
            with urllib.request.urlopen(f"{api}/tweets/{tweet_id}", timeout=5) as r:  # noqa: S310
                return bool(r.status == 200)
        except urllib.error.HTTPError:
            return False

    return visible


@dataclass
class Stack:
    server: MotoServer
    api: ChaliceLocal
    settings: Settings
    workdir: Path

    def reset(self) -> None:
        """A fresh emulated account (the stream's positions start over) for each phase."""
        self.server.reset()
        create_resources(self.settings)


def start_stack(workdir: Path) -> Stack:
    server = MotoServer(process=True, apart=LOCAL_APART).start()
    env = {
        **os.environ,
        **stage_environment("dev"),
        **server.environment(),
        "TWEETLAKE_SOURCE": "synthetic",
    }
    os.environ.update(env)  # once, before any thread starts (as the run command does)
    settings = load_settings(env)
    create_resources(settings)
    api = ChaliceLocal(0, "dev", env, workdir / "api.log").start()  # a port it picks
    if not api.wait_ready(60):
        server.stop()
        raise SystemExit(f"chalice local did not start: {api.log_tail()}")
    return Stack(server, api, settings, workdir)


def pipeline_for(stack: Stack, name: str, source: TimedSource, window: float | None) -> Pipeline:
    log = logging.getLogger("bench.local.consumer")
    return Pipeline(
        stack.settings,
        lake_dir=stack.workdir / name / "lake",
        state_dir=stack.workdir / name,
        interval_s=3600,
        bounded=True,
        batching_window_s=window,
        poll_interval_s=0.25,
        buffer_seconds=None,
        consumer=handle_batch,
        log_line=log.debug,
        source=source,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def freshness(stack: Stack, name: str, window: float | None, rate: float, seconds: float) -> None:
    stack.reset()
    source = TimedSource(SyntheticSource(SEED, rate=rate, limit=int(rate * seconds)))
    pipeline = pipeline_for(stack, name, source, window)
    visible = api_visible(stack.api.url)
    stop, claimed, lock = threading.Event(), set[str](), threading.Lock()
    probers = [Prober(source, visible, stop, claimed=claimed, lock=lock) for _ in range(PROBERS)]
    threads = [threading.Thread(target=p.run, daemon=True) for p in probers]
    pipeline.start()
    for t in threads:
        t.start()
    source.done.wait(seconds * 3 + 30)
    stop.set()  # no new claims; probes under way finish
    for t in threads:
        t.join(PROBE_GIVE_UP_S + 5)
    pipeline.stop_ingest()
    pipeline.drain()
    latencies = [x for p in probers for x in p.latencies]
    given_up = sum(p.given_up for p in probers)
    window_used = pipeline.mapping.batching_window_s
    label = f"freshness_{name}"
    if not latencies:
        print(f"{label}: no samples")
        return
    missed = f"{given_up} not visible in {PROBE_GIVE_UP_S:g} s"
    print(f"{label}_samples: {len(latencies)} tweets ({missed})")
    print(f"{label}_p50: {statistics.median(latencies):.2f} s")
    print(f"{label}_p99: {percentile(latencies, 99):.2f} s (batching window {window_used:g} s)")


def first_store(pipeline: Pipeline, started: float, found: list[float]) -> threading.Thread:
    """A thread noting when the consumer first stored a tweet (seconds after ``started``)."""

    def watch() -> None:
        while not pipeline.drained and pipeline.tap.stored == 0:
            time.sleep(0.01)
        if pipeline.tap.stored:
            found.append(time.monotonic() - started)

    thread = threading.Thread(target=watch, name="bench-first-store", daemon=True)
    thread.start()
    return thread


def throughput(stack: Stack, lines: int) -> list[dict[str, Any]]:
    stack.reset()
    source = TimedSource(SyntheticSource(SEED, rate=0, limit=lines))
    pipeline = pipeline_for(stack, "load", source, None)
    first: list[float] = []
    started = time.monotonic()
    watcher = first_store(pipeline, started, first)
    pipeline.start()
    source.done.wait(300)
    pipeline.stop_ingest()
    ingest_done = time.monotonic()
    pipeline.drain()
    drained = time.monotonic()
    watcher.join(5)
    first_line = source.first_at or drained
    snap = pipeline.snapshot()
    print(f"pipeline_lines: {source.lines_emitted} lines ({len(source.emitted)} tweets)")
    print(
        "pipeline_ingest_lines_per_s:"
        f" {source.lines_emitted / (ingest_done - first_line):.0f} lines/s"
    )
    print(f"pipeline_tweets_per_s: {len(source.emitted) / (drained - first_line):.0f} tweets/s")
    if first:
        print(f"first_store_after_start_s: {first[0]:.2f} s (unpaced, from the pipeline's start)")
    else:
        print("first_store_after_start_s: none stored")
    print(f"pipeline_stored: {snap.stored} tweets")
    print(f"pipeline_files: {snap.raw_files} raw + {snap.curated_files} Parquet")
    lake = stack.workdir / "load" / "lake"
    envelopes = []
    for path in sorted(lake.glob("raw/dt=*/hour=*/*.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            envelope = json.loads(line)
            if envelope.get("kind") == "tweet":
                envelopes.append(envelope)
    return envelopes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of each freshness run")
    parser.add_argument("--rate", type=float, default=50, help="paced lines/s for freshness")
    parser.add_argument("--lines", type=int, default=3000, help="lines of the unpaced load")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-local-") as tmp:
        stack = start_stack(Path(tmp))
        try:
            print(f"startup_s: {time.monotonic() - started:.1f} s (moto, resources, chalice local)")
            freshness(stack, "app_window", None, args.rate, args.seconds)
            freshness(stack, "window_1s", 1.0, args.rate, args.seconds)  # the trade-off
            envelopes = throughput(stack, args.lines)
        finally:
            stack.api.stop()
            stack.server.stop()
    from bench.lake import scan_ratios

    scan_ratios(envelopes, "local")
    print(f"bench_wall_s: {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
