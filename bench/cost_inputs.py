"""The measured inputs of the cost model: ``python -m bench.cost_inputs`` (under a minute).

Runs the real code and writes ``docs/measured_inputs.json``, which
``python -m tweetlake_local cost`` reads:

* **Kinesis record bytes per tweet**: seeded sample tweets (v1.1 and v2 shapes,
  ``tests.support.sample``) through ``chalicelib.ingest.handler.encode_record``, the
  ingest function's own encoding; with the per-record roundings Kinesis (1 KB,
  25 KB units) and Firehose (5 KB) bill.
* **The consumer**: ``chalicelib.consume.handler.handle_batch`` on Lambda-shaped batches
  of 500, 50 and 5 records against a moto server in its own process: handler ms
  per batch (median; the first batch of each size is a warm-up), DynamoDB keys read
  and items written (from the consumer's own batch log line). moto answers from
  Python on this machine, so its latency overstates DynamoDB's on AWS.
* **DynamoDB item bytes**: the items the consumer wrote, scanned back and sized by
  DynamoDB's published rules (``chalicelib.dynamo.attributes.item_size``).
* **Curated rows**: the row the consumer publishes to the curated Firehose for each
  sample tweet (``chalicelib.consume.lake``: the lake columns as one JSON line), with
  Firehose's 5 KB rounding per record.
* **The lake**: raw gzip and Parquet bytes per tweet from the local Firehose
  encoders (one buffer of 20,000 tweets, like a 64-128 MiB Firehose buffer), and
  the bytes each named query scans per million tweets (``bench.lake``'s column
  chunk sizes).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.ingest import reset, start_moto
from bench.lake import build_lake, chunk_sizes, measure_purge, scanned_bytes, shared_sample
from chalicelib.consume.lake import encode_row, tweet_row
from chalicelib.dynamo.attributes import from_item, item_size
from chalicelib.ingest.handler import encode_record
from tests.support.sample import sample_envelopes
from tweetlake_local.emulator import aws_environment
from tweetlake_local.firehose import StreamRecord, gzip_lines, parquet_rows
from tweetlake_local.kinesis_events import stream_arn as kinesis_stream_arn
from tweetlake_local.parquet import lake_schema
from tweetlake_local.stage import stage_environment
from tweetlake_ops.cost import (
    FIREHOSE_ROUNDING,
    KINESIS_ONDEMAND_ROUNDING,
    KINESIS_PAYLOAD_UNIT,
    MEASURED_PATH,
    billed,
)
from tweetlake_ops.sql import PARTITION_COLUMNS, named_queries, scanned_columns

SHARD = "shardId-000000000000"
BATCHES = {500: 4, 50: 8, 5: 16}  # batch size -> timed batches (plus one warm-up each)
LAKE_TWEETS = 20_000


def record_sizes(envelopes: list[dict[str, Any]]) -> dict[str, float]:
    sizes = [len(encode_record(e)[0]) for e in envelopes]
    n = len(sizes)
    return {
        "record_bytes": sum(sizes) / n,
        "record_billed_bytes_1kb": sum(billed(s, KINESIS_ONDEMAND_ROUNDING) for s in sizes) / n,
        "record_billed_bytes_5kb": sum(billed(s, FIREHOSE_ROUNDING) for s in sizes) / n,
        "record_put_payload_units": sum(
            billed(s, KINESIS_PAYLOAD_UNIT) // KINESIS_PAYLOAD_UNIT for s in sizes
        )
        / n,
        "record_bytes_max": float(max(sizes)),
    }


def lake_row_sizes(envelopes: list[dict[str, Any]]) -> dict[str, float]:
    """The curated rows of the sample's tweets: what the consumer puts into Firehose.

    A tweet's envelope carries every lake column under its own name, as the item the
    consumer stores does, so its row is the one the consumer publishes for it."""
    sizes = [len(encode_row(tweet_row(e))) for e in envelopes if e.get("kind") == "tweet"]
    n = len(sizes)
    return {
        "lake_row_bytes": round(sum(sizes) / n, 1),
        "lake_row_billed_bytes_5kb": round(sum(billed(s, FIREHOSE_ROUNDING) for s in sizes) / n, 1),
    }


def lambda_event(envelopes: list[dict[str, Any]], first_seq: int, arn: str) -> dict[str, Any]:
    """A Kinesis batch as Lambda delivers it, built from GetRecords-shaped records."""
    from tweetlake_local.poller import kinesis_event

    now = datetime.now(UTC)
    records = []
    for i, env in enumerate(envelopes):
        data, key, _ = encode_record(env)
        records.append(
            {
                "Data": data,
                "PartitionKey": key,
                "SequenceNumber": str(first_seq + i),
                "ApproximateArrivalTimestamp": now,
            }
        )
    return kinesis_event(records, SHARD, arn)


def scan(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        items += page["Items"]
    return items


def mean_units(items: list[dict[str, Any]], unit: int) -> tuple[float, float]:
    sizes = [item_size(from_item(i)) for i in items]
    return sum(sizes) / len(sizes), sum(billed(s, unit) // unit for s in sizes) / len(sizes)


def measure_consumer(envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    proc, endpoint = start_moto()
    try:
        reset(endpoint)
        os.environ.update(stage_environment("dev"))
        os.environ.update(aws_environment(endpoint))
        from chalicelib import aws
        from chalicelib.config import load_settings
        from chalicelib.consume.handler import handle_batch
        from tweetlake_local.resources import create_resources

        settings = load_settings(dict(os.environ))
        create_resources(settings)
        arn = kinesis_stream_arn(settings.stream_name, settings.region)
        dynamodb = aws.client("dynamodb", settings.region)
        log: list[str] = []
        per_size: dict[int, dict[str, float]] = {}
        totals = {"records": 0, "keys_read": 0, "tweets_written": 0}
        seq, at = 1, 0
        for size, timed in BATCHES.items():
            durations, authors, records = [], 0, 0
            for n in range(timed + 1):
                event = lambda_event(envelopes[at : at + size], seq, arn)
                at += size
                seq += size
                began = time.perf_counter()
                counts = handle_batch(event, settings=settings, sink=log.append)
                elapsed = (time.perf_counter() - began) * 1000
                stats = json.loads(log[-1]).get("dynamodb", {})
                if n == 0:
                    continue  # warm-up: first clients, first items of a table
                durations.append(elapsed)
                authors += counts["authors_written"]
                records += counts["records"]
                if size == max(BATCHES):
                    totals["records"] += counts["records"]
                    totals["keys_read"] += stats.get("keys_read", 0)
                    totals["tweets_written"] += counts["tweets_written"]
            per_size[size] = {
                "handler_ms": round(statistics.median(durations), 1),
                "authors_written_per_tweet": round(authors / records, 4),
            }
        tweets = [i for i in scan(dynamodb, settings.tweets_table) if i["status"]["S"] == "live"]
        authors_items = scan(dynamodb, settings.authors_table)
        hours = [i for i in scan(dynamodb, settings.state_table) if i["pk"]["S"] == "hours"]
        tweet_bytes, tweet_wru = mean_units(tweets, 1024)
        author_bytes, author_wru = mean_units(authors_items, 1024)
        _, hour_wru = mean_units(hours, 1024)
        return {
            "tweet_item_bytes": round(tweet_bytes, 1),
            "tweet_item_wru": round(tweet_wru, 4),
            "author_item_bytes": round(author_bytes, 1),
            "author_item_wru": round(author_wru, 4),
            "hour_item_wru": round(hour_wru, 4),
            "authors_per_tweet_stored": round(len(authors_items) / len(tweets), 4),
            "keys_read_per_tweet": round(totals["keys_read"] / totals["records"], 4),
            "tweets_written_per_tweet": round(totals["tweets_written"] / totals["records"], 4),
            "consumer_batches": {str(k): v for k, v in per_size.items()},
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure_lake(envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(hours=1)
    records = [
        StreamRecord(encode_record(e)[0], SHARD, str(i), start) for i, e in enumerate(envelopes)
    ]
    n = len(records)
    gz = gzip_lines(records).body or b""
    encoded = parquet_rows(records)
    assert encoded.body is not None and not encoded.failures
    sizes = chunk_sizes([encoded.body])
    columns = set(lake_schema().names) | set(PARTITION_COLUMNS)
    scans = {}
    for name, path in named_queries().items():
        paths = scanned_columns(path.read_text(encoding="utf-8"), columns)
        scans[name] = round(scanned_bytes(paths, sizes) / n * 1e6)
    return {
        "raw_gzip_bytes": round(len(gz) / n, 1),
        "parquet_bytes": round(len(encoded.body) / n, 1),
        "scan_bytes_per_million": scans,
    }


def measure_purge_time(envelopes: list[dict[str, Any]]) -> float:
    """The purge's seconds per GB of lake read (bench.lake's measurement)."""
    start = datetime.now(UTC) - timedelta(hours=1)
    records = [
        StreamRecord(encode_record(e)[0], SHARD, str(i), start) for i, e in enumerate(envelopes)
    ]
    run = measure_purge(build_lake(records), envelopes)
    assert run.ids_left == 0, f"{run.ids_left} deleted ids left after the purge"
    return run.seconds_per_gb


def code_version() -> str:
    """The commit measured (``+dirty`` when the work tree differs from it)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty.stdout.strip() else "")


def main() -> None:
    began = time.perf_counter()
    consumer_count = sum(size * (n + 1) for size, n in BATCHES.items())
    envelopes = sample_envelopes(consumer_count, seed=11)
    lake_envelopes = sample_envelopes(LAKE_TWEETS, seed=42)
    result: dict[str, Any] = {
        "measured_on": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared,"
        f" Python {platform.python_version()}, moto server on 127.0.0.1",
        "code": code_version(),
    }
    result.update({k: round(v, 2) for k, v in record_sizes(lake_envelopes).items()})
    result.update(lake_row_sizes(lake_envelopes))
    result.update(measure_lake(lake_envelopes))
    result["purge_seconds_per_gb"] = round(measure_purge_time(lake_envelopes), 1)
    result.update(measure_consumer(envelopes))
    notes = [
        f"Sample tweets: {LAKE_TWEETS:,} seeded v1.1/v2-shaped tweets (tests.support.sample);"
        " the consumer ran on "
        + ", ".join(f"{n} batches of {s}" for s, n in BATCHES.items())
        + " after one warm-up batch each.",
    ]
    real = shared_sample()
    if real is not None:
        r = record_sizes(real)
        result["real_v1_record_bytes"] = round(r["record_bytes"], 1)
        result["real_v1_record_billed_bytes_5kb"] = round(r["record_billed_bytes_5kb"], 1)
        rows = lake_row_sizes(real)
        result["real_v1_lake_row_bytes"] = rows["lake_row_bytes"]
        notes.append(
            f"The {len(real)} real v1.1 statuses beside the repository (../shared) make records"
            f" of {r['record_bytes']:,.0f} B on average ({r['record_billed_bytes_5kb']:,.0f} B"
            " billed by Firehose): real v1.1 payloads are larger than the sample's, so"
            " Kinesis and Firehose cost more per tweet with them. Their curated rows are"
            f" {rows['lake_row_bytes']:,.0f} B ({rows['lake_row_billed_bytes_5kb']:,.0f} B"
            " billed): the row leaves the payload out."
        )
    result["notes"] = notes
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else MEASURED_PATH
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for key, value in result.items():
        if isinstance(value, int | float):
            unit = "ms" if key.endswith("_ms") else ("units" if "wru" in key else "")
            print(f"{key}: {value} {unit}".rstrip())
    for size, figures in result["consumer_batches"].items():
        print(f"consumer_handler_ms_batch_{size}: {figures['handler_ms']} ms")
        print(
            f"consumer_authors_written_per_tweet_batch_{size}:"
            f" {figures['authors_written_per_tweet']}"
        )
    for name, scanned in result["scan_bytes_per_million"].items():
        print(f"athena_scan_bytes_per_million_{name}: {scanned} bytes")
    print(f"wrote: {out}")
    print(f"elapsed: {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
