"""The lake's costs: what Athena scans per named query, compression, writer speed.

``python -m bench.lake [N]`` builds N seeded sample tweets (real v1.1/v2 payload
shapes through the real normalizer), delivers them through both emulated
Firehose deliveries in memory and prints:

* ``scan_ratio_<query>``: bytes of the Parquet column chunks the query reads
  (columns from sqlglot's parse of the Athena SQL, sizes from the Parquet footer,
  struct fields counted on their own as Athena prunes nested columns) ÷ bytes of
  the same tweets as raw JSON lines. Target ≤ 2 %.
* the Parquet/Snappy and gzip sizes relative to the raw JSON;
* the curated writer's rows/s (JSON parse + schema conversion + Parquet write);
* the purge (:mod:`chalicelib.purge`) over the same objects, after 1 % of the tweets
  and 0.25 % of the originals their retweets carry were deleted:
  ``purge_seconds_per_gb`` (wall time ÷ object bytes read; in memory, so it is the
  function's CPU share, S3 transfer not included) and ``deleted_ids_left_after_purge``
  (deleted ids still found, as whole tokens, in any raw line gunzipped or Parquet cell
  after the purge: must be 0);
* the scan ratios again over the 72 real v1.1 stream statuses kept beside the
  repository (``../shared/fixtures/twitter``), when present: real payload sizes,
  but a file that small is all overhead, so it is the pessimistic case.
"""

from __future__ import annotations

import io
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from chalicelib.envelope.normalize import normalize_line
from chalicelib.purge.engine import LakeObject, ScanResult, scan_lake
from chalicelib.purge.match import id_pattern, ids_in
from chalicelib.purge.request_log import PurgeRequest
from tests.support.purge_lake import decoded_records
from tests.support.sample import envelope_line, sample_envelopes
from tweetlake_local.firehose import StreamRecord, curated_delivery, parquet_rows, raw_delivery
from tweetlake_local.parquet import lake_schema
from tweetlake_local.stage import REPO_ROOT
from tweetlake_ops.sql import PARTITION_COLUMNS, named_queries, scanned_columns

AWS_MIN_CONVERSION_BUFFER = 64 * 1024 * 1024


@dataclass
class MemorySink:
    """A bucket in memory: a delivery's sink, and the purge's object store."""

    objects: dict[str, bytes] = field(default_factory=dict)
    name: str = "memory"

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body

    def list(self, prefix: str, start_after: str = "") -> Any:
        for key in sorted(self.objects):
            if key.startswith(prefix) and key > start_after:
                yield LakeObject(key, len(self.objects[key]))

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def delete(self, key: str) -> None:
        del self.objects[key]


def deleted_requests(envelopes: list[dict[str, Any]], requested_at: str) -> list[PurgeRequest]:
    """Every 100th tweet, and every 400th retweet's original (known only from its
    embedded copy), as the consumer would request them."""
    chosen = {e["tweet_id"]: e.get("created_at") for e in envelopes[::100]}
    retweets = [e for e in envelopes if e.get("retweeted_tweet_id")]
    for e in retweets[::400]:
        chosen.setdefault(e["retweeted_tweet_id"], None)
    return [PurgeRequest(i, requested_at, created) for i, created in chosen.items()]


def build_lake(records: list[StreamRecord]) -> MemorySink:
    """Both deliveries' objects in one bucket, with AWS-like buffer sizes."""
    lake = MemorySink()
    raw = raw_delivery([lake], buffer_bytes=5 * 1024 * 1024, clock=lambda: 0.0)
    raw.put(records)
    raw.close()
    curated = curated_delivery([lake], buffer_bytes=AWS_MIN_CONVERSION_BUFFER, clock=lambda: 0.0)
    curated.put(records)
    curated.close()
    return lake


@dataclass(frozen=True)
class PurgeRun:
    requests: int
    result: ScanResult
    seconds_per_gb: float
    ids_left: int


def measure_purge(store: MemorySink, envelopes: list[dict[str, Any]]) -> PurgeRun:
    """Time the purge over the lake in ``store``; then search it for the deleted ids."""
    requests = deleted_requests(envelopes, "2026-01-02T00:00:00.000Z")
    import pyarrow.compute  # noqa: F401  a cold start's import, paid once: not timed

    began = time.perf_counter()
    result = scan_lake([store], requests)
    elapsed = time.perf_counter() - began
    assert result.complete
    pattern = id_pattern(r.tweet_id for r in requests)
    left: set[str] = set()
    for key, body in store.objects.items():
        for record in decoded_records(key, body):
            left |= ids_in(record, pattern)
    return PurgeRun(len(requests), result, elapsed / (result.bytes_scanned / 1e9), len(left))


def purge_figures(store: MemorySink, envelopes: list[dict[str, Any]]) -> None:
    run = measure_purge(store, envelopes)
    done = run.result
    print(f"purge_requests: {run.requests} ids")
    print(f"purge_objects_rewritten: {done.objects_rewritten} of {done.objects_scanned}")
    print(f"purge_bytes_scanned: {done.bytes_scanned} bytes")
    print(f"purge_seconds_per_gb: {run.seconds_per_gb:.1f} s")
    print(f"deleted_ids_left_after_purge: {run.ids_left} ids")


def chunk_sizes(parquet_files: list[bytes]) -> dict[str, int]:
    """Compressed bytes per leaf column path (``author.id``, ``hashtags.list.element``)."""
    sizes: dict[str, int] = {}
    for body in parquet_files:
        meta = pq.ParquetFile(io.BytesIO(body)).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                sizes[chunk.path_in_schema] = (
                    sizes.get(chunk.path_in_schema, 0) + chunk.total_compressed_size
                )
    return sizes


def scanned_bytes(paths: set[str], sizes: dict[str, int]) -> int:
    return sum(
        size
        for leaf, size in sizes.items()
        if any(leaf == p or leaf.startswith(p + ".") for p in paths)
    )


def shared_sample() -> list[dict[str, Any]] | None:
    """Envelopes of the 72 real v1.1 stream statuses kept beside the repo, if present."""
    folder = Path(
        os.environ.get("TWEETLAKE_SHARED_FIXTURES", REPO_ROOT.parent / "shared/fixtures/twitter")
    )
    path = folder / "v1_stream_sample_lines.jsonl"
    if not path.exists():
        return None
    envelopes = []
    for line in path.read_text(encoding="utf-8").splitlines():
        for item in normalize_line(line, ingested_at="2026-11-24T12:00:00.000Z"):
            if item.envelope is not None and item.kind == "tweet":
                envelopes.append(item.envelope)
    return envelopes


def scan_ratios(envelopes: list[dict[str, Any]], label: str) -> None:
    """Per-query scan ratio of one set of envelopes written as one Parquet file."""
    records = [
        StreamRecord(envelope_line(e), "shardId-000000000000", str(i), datetime.now(UTC))
        for i, e in enumerate(envelopes)
    ]
    raw_json = sum(len(r.data) for r in records)
    encoded = parquet_rows(records)
    assert encoded.body is not None
    sizes = chunk_sizes([encoded.body])
    columns = set(lake_schema().names) | set(PARTITION_COLUMNS)
    worst = 0.0
    for name, path in named_queries().items():
        paths = scanned_columns(path.read_text(encoding="utf-8"), columns)
        ratio = 100 * scanned_bytes(paths, sizes) / raw_json
        worst = max(worst, ratio)
        print(f"scan_ratio_{label}_{name}: {ratio:.2f} %")
    print(f"scan_ratio_{label}_worst: {worst:.2f} % ({len(records)} tweets, target <= 2 %)")


def main(count: int) -> None:
    envelopes = sample_envelopes(count, seed=42)
    start = datetime.now(UTC) - timedelta(hours=1)
    records = [
        StreamRecord(envelope_line(e), f"shardId-00000000000{i % 2}", str(i), start)
        for i, e in enumerate(envelopes)
    ]
    raw_json = sum(len(r.data) for r in records)

    lake = build_lake(records)
    gz_bytes = sum(len(b) for k, b in lake.objects.items() if k.startswith("raw/"))
    parquet_files = [b for k, b in lake.objects.items() if k.startswith("curated/")]
    parquet_total = sum(len(b) for b in parquet_files)

    began = time.perf_counter()
    encoded = parquet_rows(records)
    elapsed = time.perf_counter() - began
    assert encoded.body is not None and not encoded.failures

    sizes = chunk_sizes(parquet_files)
    columns = set(lake_schema().names) | set(PARTITION_COLUMNS)
    print(f"tweets: {len(envelopes)} rows")
    print(f"raw_json_bytes: {raw_json} bytes")
    print(f"raw_json_bytes_per_tweet: {raw_json / len(envelopes):.0f} bytes")
    worst = 0.0
    for name, path in named_queries().items():
        paths = scanned_columns(path.read_text(encoding="utf-8"), columns)
        scanned = scanned_bytes(paths, sizes)
        ratio = 100 * scanned / raw_json
        worst = max(worst, ratio)
        print(f"scan_bytes_{name}: {scanned} bytes")
        print(f"scan_ratio_{name}: {ratio:.2f} %")
    print(f"scan_ratio_worst: {worst:.2f} % (target <= 2 %)")
    print(f"parquet_bytes: {parquet_total} bytes")
    print(f"parquet_vs_raw_json: {100 * parquet_total / raw_json:.2f} %")
    print(f"raw_gzip_bytes: {gz_bytes} bytes")
    print(f"raw_gzip_vs_raw_json: {100 * gz_bytes / raw_json:.2f} %")
    print(f"parquet_vs_raw_gzip: {parquet_total / gz_bytes:.2f} x")
    print(f"parquet_writer_rows_per_s: {len(records) / elapsed:.0f} rows/s")
    purge_figures(lake, envelopes)
    real = shared_sample()
    if real is None:
        print("# real v1.1 sample (../shared/fixtures/twitter) absent: skipped")
    else:
        scan_ratios(real, "real_v1")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
