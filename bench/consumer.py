"""Consumer benchmark: ``python -m bench.consumer`` (under a minute, offline).

Builds one 10,000-record Lambda batch from the Twitter fixtures (the project's
own, plus the shared real captures when ``../shared`` is present): each record
is a fixture tweet re-keyed with a fresh tweet id and an author drawn from a
seeded Zipf-like long tail, as the synthetic source produces. Then prints:

* ``transform_records_per_s`` — decode + validate + enrich + hash + item build,
  no I/O, one core (CPU time, best of 5), and under it the decode alone with
  the consumer's decoders and with the standard library's, and the transform
  of the same batch with every ``raw`` payload emptied (a yardstick for the
  record contract, not a figure of the pipeline);
* against the moto server: DynamoDB calls per 1,000 tweets, mean items per
  ``BatchWriteItem`` call, keys per ``BatchGetItem`` call, and the same for a
  replay of the batch;
* ``peak_rss`` of the process that ran the consumer (a child process: the moto
  server and its stored items live in the parent and are not counted).
"""

from __future__ import annotations

import base64
import bisect
import gc
import json
import multiprocessing
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OWN = REPO / "tests" / "fixtures" / "twitter"
SHARED = Path(os.environ.get("TWEETLAKE_SHARED_FIXTURES", REPO.parent / "shared/fixtures/twitter"))

BATCH = int(os.environ.get("BENCH_RECORDS", "10000"))
AUTHORS = 20_000
ZIPF_S = 1.1
SEED = 7
STREAM_SHARD = "shardId-000000000000"
REPLAY = 1_000


def fixture_lines() -> tuple[list[str], list[str]]:
    """Lines of every fixture file; returns (lines, names of the directories used)."""
    lines: list[str] = []
    used = []
    for directory in (OWN, SHARED):
        if not directory.is_dir():
            continue
        used.append(str(directory))
        for path in sorted(directory.iterdir()):
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".jsonl":
                lines += text.splitlines()
            elif path.suffix == ".json":
                lines.append(text)
    return lines, used


def templates() -> tuple[list[dict[str, Any]], list[str]]:
    from chalicelib.envelope.normalize import normalize_line
    from chalicelib.envelope.schema import validate

    lines, used = fixture_lines()
    found = []
    for line in lines:
        for item in normalize_line(line, ingested_at="2026-11-24T06:00:05.000Z"):
            env = item.envelope
            if env and env["kind"] == "tweet" and not validate(env):
                found.append(env)
    return found, used


def zipf_authors(rng: random.Random, n: int) -> list[int]:
    """Author ranks drawn from weights 1/rank**s: a few loud accounts, a long tail."""
    cumulative = []
    total = 0.0
    for rank in range(1, AUTHORS + 1):
        total += 1.0 / rank**ZIPF_S
        cumulative.append(total)
    return [bisect.bisect(cumulative, rng.random() * total) + 1 for _ in range(n)]


def build_batch(stream: str, keep_raw: bool = True) -> tuple[dict[str, Any], int, list[str]]:
    """The batch; ``keep_raw=False`` empties every ``raw`` (what the transform would cost
    if the original payload did not travel in the record: not the contract, a yardstick)."""
    from tests.support.kinesis_events import kinesis_event, kinesis_record

    rng = random.Random(SEED)
    found, used = templates()
    ranks = zipf_authors(rng, BATCH)
    records = []
    for i in range(BATCH):
        env = dict(found[i % len(found)])
        author_id = str(1_700_000_000_000_000_000 + ranks[i])
        env["author"] = {**env["author"], "id": author_id, "screen_name": f"acct{ranks[i]}"}
        env["tweet_id"] = str(1_990_000_000_000_000_000 + i)
        minute = i * 180 // BATCH  # three hours of traffic
        env["created_at"] = f"2026-11-24T{6 + minute // 60:02d}:{minute % 60:02d}:00.000Z"
        if not keep_raw:
            env["raw"] = ""
        records.append(kinesis_record(env, sequence=10**20 + i, stream=stream, shard=STREAM_SHARD))
    return kinesis_event(records), len(set(ranks)), used


def child(endpoint: str, queue: Any) -> None:
    """Runs in its own process so peak RSS is the consumer's alone."""
    from chalicelib.config import get_settings
    from tweetlake_local.emulator import aws_environment
    from tweetlake_local.stage import stage_environment

    os.environ.update({**stage_environment("dev"), **aws_environment(endpoint)})
    settings = get_settings()
    import chalicelib.consume.handler  # noqa: F401  (imports counted before the batch exists)

    rss_imports = peak_rss_mb()
    event, authors, used = build_batch(settings.stream_name)
    gc.collect()
    rss_event = peak_rss_mb()
    raw_bytes = sum(len(r["kinesis"]["data"]) * 3 // 4 for r in event["Records"])
    figures: dict[str, Any] = {
        "fixture_dirs": used,
        "batch_records": len(event["Records"]),
        "distinct_authors": authors,
        "mean_record_bytes": raw_bytes // len(event["Records"]),
        "rss_after_imports_mb": rss_imports,
        "rss_with_event_mb": rss_event,
    }

    # CPU time of this process, not wall time: the figure is "per core" even when
    # other work shares the machine. Best of 5.
    seconds = transform_seconds(event)
    figures["transform_records_per_s"] = len(event["Records"]) / seconds
    figures["transform_mb_per_s"] = raw_bytes / seconds / 1e6
    # The floor under the transform: base64 + JSON alone, with the consumer's
    # decoders (pybase64, then msgspec into the schema's structs) and with the
    # standard library's.
    import pybase64

    from chalicelib.envelope.codec import codec

    typed = codec().decode
    decoders = {
        "decode_only": lambda data: typed(pybase64.b64decode(data, validate=True)),
        "decode_only_stdlib": lambda data: json.loads(base64.b64decode(data, validate=True)),
    }
    for name, decode in decoders.items():
        floor = float("inf")
        for _ in range(3):
            started = time.process_time()
            for record in event["Records"]:
                decode(record["kinesis"]["data"])
            floor = min(floor, time.process_time() - started)
        figures[f"{name}_records_per_s"] = len(event["Records"]) / floor
    from chalicelib import aws
    from chalicelib.consume.handler import handle_batch

    # No S3 client up front: handle_batch creates one only for a batch with
    # quarantined records, as in Lambda (a botocore client costs ~5-30 MB of RSS).
    # The whole batch once (the figures), then a replay of its first 1,000 records:
    # a replay only reads, and moto's reads of stored items are slow (~0.4 s a call).
    replay = {"Records": event["Records"][:REPLAY]}
    for label, batch in (("first", event), ("replay", replay)):
        dynamodb = aws.client("dynamodb", settings.region)
        calls = CountingClient(dynamodb)
        started = time.perf_counter()
        result = handle_batch(batch, dynamodb=calls, sink=lambda _: None)
        figures[f"{label}_seconds"] = time.perf_counter() - started
        figures[f"{label}_result"] = result
        figures[f"{label}_calls"] = dict(calls.calls)
        figures[f"{label}_items"] = dict(calls.items)
        figures[f"{label}_seconds_in_moto"] = sum(calls.seconds.values())
    figures["peak_rss_mb"] = peak_rss_mb()
    queue.put(figures)


def yardstick(queue: Any) -> None:
    """The batch with and without its raw payloads, timed in alternation in a process of
    its own (its memory is not the consumer's peak). Alternating runs share the same
    moments of machine load, so their ratio is steadier than either rate."""
    sys.path.insert(0, str(REPO))
    full, _, _ = build_batch("tweetlake-dev-tweets")
    lean, _, _ = build_batch("tweetlake-dev-tweets", keep_raw=False)
    full_best = lean_best = float("inf")
    for _ in range(5):
        full_best = min(full_best, transform_seconds(full, runs=1))
        lean_best = min(lean_best, transform_seconds(lean, runs=1))
    queue.put((len(lean["Records"]) / lean_best, full_best / lean_best))


def transform_seconds(event: dict[str, Any], runs: int = 5) -> float:
    """CPU seconds of the pure transform over the batch, best of ``runs``."""
    from chalicelib.consume.transform import transform

    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        out = transform(event["Records"], "2026-11-24T10:00:00.000Z")
        best = min(best, time.process_time() - started)
        assert not out.quarantine, out.quarantine[:1]
        del out
        gc.collect()
    return best


def peak_rss_mb() -> float:
    """This process's peak RSS. ``VmHWM`` belongs to the address space exec created;
    ``ru_maxrss`` survives exec on Linux, so a spawned child would report its parent's."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CountingClient:
    """Counts the batch calls and the entries they carry (retries included)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: dict[str, int] = {}
        self.items: dict[str, int] = {}
        self.seconds: dict[str, float] = {"BatchWriteItem": 0.0, "BatchGetItem": 0.0}

    def batch_write_item(self, **kwargs: Any) -> Any:
        self._count("BatchWriteItem", sum(len(v) for v in kwargs["RequestItems"].values()))
        started = time.perf_counter()
        try:
            return self._client.batch_write_item(**kwargs)
        finally:
            self.seconds["BatchWriteItem"] += time.perf_counter() - started

    def batch_get_item(self, **kwargs: Any) -> Any:
        keys = sum(len(v["Keys"]) for v in kwargs["RequestItems"].values())
        self._count("BatchGetItem", keys)
        started = time.perf_counter()
        try:
            return self._client.batch_get_item(**kwargs)
        finally:
            self.seconds["BatchGetItem"] += time.perf_counter() - started

    def _count(self, op: str, n: int) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1
        self.items[op] = self.items.get(op, 0) + n


def main() -> int:
    sys.path.insert(0, str(REPO))
    from chalicelib.config import load_settings
    from tweetlake_local.emulator import MotoServer, aws_environment
    from tweetlake_local.resources import create_resources
    from tweetlake_local.stage import stage_environment

    server = MotoServer().start()
    try:
        env = {**os.environ, **stage_environment("dev"), **aws_environment(server.endpoint)}
        os.environ.update(env)
        create_resources(load_settings(env))
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        process = context.Process(target=child, args=(server.endpoint, queue))
        process.start()
        figures = queue.get(timeout=300)
        process.join(timeout=60)
        process = context.Process(target=yardstick, args=(queue,))
        process.start()
        lean, ratio = queue.get(timeout=300)
        figures["transform_without_raw_records_per_s"] = lean
        figures["raw_cost_ratio"] = ratio
        process.join(timeout=60)
    finally:
        server.stop()
    report(figures)
    return 0


def report(f: dict[str, Any]) -> None:
    first = f["first_result"]
    print(f"fixture_dirs: {', '.join(f['fixture_dirs'])}")
    print(f"batch_records: {f['batch_records']} records")
    print(f"distinct_authors: {f['distinct_authors']} authors")
    print(f"mean_record_bytes: {f['mean_record_bytes']} bytes")
    print(f"transform_records_per_s: {f['transform_records_per_s']:.0f} records/s")
    print(f"transform_mb_per_s: {f['transform_mb_per_s']:.1f} MB/s")
    print(f"decode_only_records_per_s: {f['decode_only_records_per_s']:.0f} records/s")
    lean = f["transform_without_raw_records_per_s"]
    print(f"transform_without_raw_records_per_s: {lean:.0f} records/s")
    print(f"transform_time_with_raw_over_without: {f['raw_cost_ratio']:.2f} x")
    stdlib = f["decode_only_stdlib_records_per_s"]
    print(f"decode_only_stdlib_records_per_s: {stdlib:.0f} records/s")
    for label in ("first", "replay"):
        result = f[f"{label}_result"]
        tweets = result["stored"] + result["duplicates"]
        print(f"{label}_records: {result['records']} records")
        calls, items = f[f"{label}_calls"], f[f"{label}_items"]
        total = sum(calls.values())
        writes = calls.get("BatchWriteItem", 0)
        gets = calls.get("BatchGetItem", 0)
        print(f"{label}_batch_get_calls: {gets} calls")
        print(f"{label}_batch_write_calls: {writes} calls")
        print(f"{label}_dynamodb_calls_per_1000_tweets: {total * 1000 / tweets:.1f} calls")
        if writes:
            mean = items["BatchWriteItem"] / writes
            print(f"{label}_items_per_batch_write: {mean:.2f} items")
        if gets:
            print(f"{label}_keys_per_batch_get: {items['BatchGetItem'] / gets:.2f} keys")
        print(f"{label}_batch_seconds: {f[f'{label}_seconds']:.2f} s")
        print(f"{label}_seconds_inside_moto_calls: {f[f'{label}_seconds_in_moto']:.2f} s")
    print(f"first_stored: {first['stored']} tweets")
    print(f"first_authors_written: {first['authors_written']} items")
    print(f"replay_stored: {f['replay_result']['stored']} tweets")
    print(f"rss_after_imports: {f['rss_after_imports_mb']:.0f} MB")
    print(f"rss_with_event_built: {f['rss_with_event_mb']:.0f} MB")
    print(f"peak_rss: {f['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    raise SystemExit(main())
