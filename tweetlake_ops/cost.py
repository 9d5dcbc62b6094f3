"""What tweetlake costs on AWS (and what reading X costs), per million tweets and per month.

``python -m tweetlake_local cost --tweets-per-second 10`` combines three inputs,
each kept where it can be checked and updated on its own:

* **prices** — ``tweetlake_ops/prices.json``: every unit price with its source
  URL, the date it was read and whether the number itself was confirmed;
* **measured inputs** — ``docs/measured_inputs.json``, written by
  ``python -m bench.cost_inputs`` with the real code: record and item sizes,
  compression, the consumer's time per batch, Athena bytes scanned per query;
* **the deployment** — read from the repository itself: memory and timeouts from
  ``.chalice/config.json``, the schedule, batch size and window from ``chalicelib.config``,
  the GSIs from ``chalicelib/dynamo/tables.py``; the Firehose buffers, retention and
  alarm count are Terraform's defaults (a test compares them with ``terraform/``).

The arithmetic is plain and pinned by a test on a hand-computed case. Every
line is a monthly figure; "per million tweets" is that month's cost divided by
the month's tweets, so fixed costs weigh more at low rates. Storage lines are
the cost of keeping ONE month of data for a month: each further month kept adds
the same again. Sizes are billed in binary units (1 GB = 2**30 bytes).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tweetlake_local.stage import CHALICE_CONFIG, REPO_ROOT

PRICES_PATH = Path(__file__).with_name("prices.json")
TEMPLATE_STAGE = "dev"
#: The Terraform stream_mode of each total the estimate keeps apart.
MODE_OF_STREAM = {"ON_DEMAND": "on-demand", "PROVISIONED": "provisioned"}
#: The conditional line: author objects of expansions, if X bills them as user reads.
USER_READS_MODE = "if user reads are billed"
MEASURED_PATH = REPO_ROOT / "docs" / "measured_inputs.json"

GIB = 1024**3
TIB = 1024**4
MIB = 1024**2
KIB = 1024

# Kinesis billing and shard limits (Kinesis pricing page; developer guide "quotas").
KINESIS_ONDEMAND_ROUNDING = 1 * KIB  # on-demand data in: each record rounded up to 1 KB
KINESIS_PAYLOAD_UNIT = 25 * KIB  # provisioned: PUT payload units of 25 KB
FIREHOSE_ROUNDING = 5 * KIB  # Firehose ingestion and conversion: records rounded up to 5 KB
SHARD_WRITE_BYTES_S = 1 * MIB
SHARD_WRITE_RECORDS_S = 1000
SHARD_READ_BYTES_S = 2 * MIB
ONDEMAND_INITIAL_SHARDS = 4  # an on-demand stream starts with 4 MB/s of write capacity
LAMBDA_POLL_INTERVAL_S = 1.0  # Lambda polls each shard about once a second: with a window
# shorter than that, a batch holds what arrived since the last poll
ATHENA_MIN_BYTES = 10 * MIB  # per query, then rounded up to the MB
DYNAMODB_WRITE_UNIT = 1 * KIB
DYNAMODB_STORAGE_OVERHEAD = 100  # bytes per item (and per index entry) for storage
# The purge (chalicelib.purge), assumptions stated in its lines: deletes concern recent
# tweets, so a run reads about 3 days of raw/ and curated/ (the tweet's day and the days
# either side); 2 % of tweets are deleted; a delete makes at most 4 objects to rewrite
# (the tweet's raw line, the notice's, its curated row and tombstone).
PURGE_WINDOW_DAYS = 3
PURGE_DELETED_SHARE = 0.02
PURGE_OBJECTS_PER_DELETE = 4


def billed(size: float, unit: int) -> int:
    """``size`` rounded up to a whole number of ``unit`` (at least one unit)."""
    return max(1, math.ceil(size / unit)) * unit


# --- inputs --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    value: float
    unit: str
    url: str
    read: str
    confirmed: bool
    seen_in: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class PriceBook:
    region: str
    hours_per_month: float
    prices: Mapping[str, Price]

    def __getitem__(self, name: str) -> float:
        return self.prices[name].value


def load_prices(path: Path = PRICES_PATH) -> PriceBook:
    doc = json.loads(path.read_text(encoding="utf-8"))
    prices = {name: Price(**spec) for name, spec in doc["prices"].items()}
    return PriceBook(doc["region"], float(doc["hours_per_month"]), prices)


@dataclass(frozen=True, slots=True)
class Measured:
    """Figures ``python -m bench.cost_inputs`` measures (see docs/cost.md for each)."""

    measured_on: str
    machine: str
    code: str
    record_bytes: float  # Kinesis record (envelope JSON + newline), mean
    record_billed_bytes_1kb: float  # mean of each record rounded up to 1 KB
    record_billed_bytes_5kb: float  # mean of each record rounded up to 5 KB
    record_put_payload_units: float  # mean 25 KB units per record
    raw_gzip_bytes: float  # per tweet in raw/
    parquet_bytes: float  # per tweet in curated/
    tweet_item_bytes: float
    tweet_item_wru: float  # mean of each tweets item rounded up to 1 KB, in units
    author_item_bytes: float
    author_item_wru: float
    hour_item_wru: float
    authors_per_tweet_stored: float  # author items in the table per tweet (storage)
    keys_read_per_tweet: float  # strongly consistent reads the consumer makes per tweet
    tweets_written_per_tweet: float
    lake_row_bytes: float  # curated row the consumer publishes (JSON line), mean
    lake_row_billed_bytes_5kb: float  # mean of each row rounded up to 5 KB (Firehose)
    # batch size -> (handler ms, author items written per tweet), for sizes measured
    consumer_batches: Mapping[int, tuple[float, float]] = field(default_factory=dict)
    scan_bytes_per_million: Mapping[str, float] = field(default_factory=dict)
    notes: Sequence[str] = ()
    #: Wall seconds the purge spends per 1e9 bytes of lake objects it reads (bench.lake).
    purge_seconds_per_gb: float = 0.0


def load_measured(path: Path = MEASURED_PATH) -> Measured:
    doc = json.loads(path.read_text(encoding="utf-8"))
    names = {f.name for f in fields(Measured)}
    values: dict[str, Any] = {k: v for k, v in doc.items() if k in names}
    values["consumer_batches"] = {
        int(size): (float(b["handler_ms"]), float(b["authors_written_per_tweet"]))
        for size, b in doc["consumer_batches"].items()
    }
    return Measured(**values)


@dataclass(frozen=True, slots=True)
class Deployment:
    """What the repository deploys, as far as the bill is concerned."""

    ingest_memory_mb: int
    ingest_timeout_s: int
    ingest_every_s: int
    consume_memory_mb: int
    batch_size: int
    batching_window_s: float
    tweet_gsis: int
    retention_hours: int = 24  # terraform/variables.tf stream_retention_hours
    stream_mode: str = "PROVISIONED"  # terraform/variables.tf stream_mode
    curated_buffer_mb: int = 128  # firehose_buffer_size_mb
    raw_buffer_mb: int = 64  # raw_buffer_size_mb
    buffer_interval_s: int = 900  # firehose_buffer_interval_s (curated)
    raw_buffer_interval_s: int = 900  # raw_buffer_interval_s
    alarms: int = 13  # terraform/alarms.tf with ingest_silence on
    secrets: int = 1
    crawler_runs_per_day: float = 0.0  # crawler_schedule: null, run by hand (none priced)
    crawler_min_minutes: int = 10  # Glue bills a crawler run at least 10 minutes
    crawler_dpus: float = 1.0  # assumption: AWS does not publish a crawler's DPU count
    stream_readers: int = 2  # the consumer's mapping and the raw Firehose
    lake_rows_per_tweet: float = 1.0  # rows the consumer publishes per tweet stored
    named_queries: Sequence[str] = ()
    api_memory_mb: int = 256
    api_timeout_s: int = 10
    api_reserved_concurrency: int | None = None  # None: only the account's limit
    api_rate_limit: float = 10  # terraform/variables.tf api_throttle_rate_limit
    api_burst_limit: int = 20  # api_throttle_burst_limit
    purge_memory_mb: int = 2048
    purge_every_s: int = 3600
    compliance_memory_mb: int = 128
    compliance_timeout_s: int = 300
    compliance_every_s: int = 3600
    #: Chalice's ``lambda_architecture`` (the stage's, else the file's): its GB-s price.
    lambda_architecture: str = "x86_64"


def load_deployment(stage: str = "dev", config_path: Path = CHALICE_CONFIG) -> Deployment:
    """Memory and timeouts of ``stage`` plus the trigger settings app.py declares."""
    from chalicelib import config as triggers
    from chalicelib.dynamo.tables import TWEETS

    config = json.loads(config_path.read_text(encoding="utf-8"))
    # A stage not written yet gets the template's functions (tweetlake_ops.chalice_config).
    template = config["stages"].get(TEMPLATE_STAGE)
    entry = config["stages"].get(stage, template)
    if entry is None:
        raise ValueError(f"stage {stage!r} is not in {config_path}")
    functions = entry["lambda_functions"]
    api = functions["api_handler"]
    return Deployment(
        ingest_memory_mb=int(functions["ingest"]["lambda_memory_size"]),
        ingest_timeout_s=int(functions["ingest"]["lambda_timeout"]),
        ingest_every_s=triggers.INGEST_EVERY_MINUTES * 60,
        consume_memory_mb=int(functions["consume"]["lambda_memory_size"]),
        batch_size=triggers.CONSUMER_BATCH_SIZE,
        batching_window_s=float(triggers.CONSUMER_BATCHING_WINDOW_S),
        tweet_gsis=len(TWEETS.indexes),
        named_queries=tuple(sorted(p.stem for p in (REPO_ROOT / "sql").glob("*.sql"))),
        api_memory_mb=int(api["lambda_memory_size"]),
        api_timeout_s=int(api["lambda_timeout"]),
        api_reserved_concurrency=(
            int(api["reserved_concurrency"]) if "reserved_concurrency" in api else None
        ),
        purge_memory_mb=int(functions["purge"]["lambda_memory_size"]),
        purge_every_s=triggers.PURGE_EVERY_MINUTES * 60,
        compliance_memory_mb=int(functions["compliance"]["lambda_memory_size"]),
        compliance_timeout_s=int(functions["compliance"]["lambda_timeout"]),
        compliance_every_s=triggers.COMPLIANCE_EVERY_MINUTES * 60,
        lambda_architecture=str(
            entry.get("lambda_architecture", config.get("lambda_architecture", "x86_64"))
        ),
    )


# --- the model -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    service: str
    item: str
    per_month: float
    detail: str
    uses: tuple[str, ...] = ()  # the price names it multiplies
    modes: tuple[str, ...] = ("on-demand", "provisioned")  # which totals include it


@dataclass(frozen=True, slots=True)
class Estimate:
    tweets_per_second: float
    tweets_per_month: float
    shards: int
    batch_records: float
    lines: tuple[Line, ...]
    #: Where the posts come from: ``x`` (billed reads) or ``bluesky`` (Jetstream, free).
    source: str = "x"

    def total(self, mode: str, *, x_api: bool = False) -> float:
        return sum(
            line.per_month
            for line in self.lines
            if mode in line.modes and (x_api or line.service != "X API")
        )

    @property
    def contract(self) -> bool:
        """Beyond the pay-per-use cap: X reads only on Enterprise, priced by contract."""
        return any(line.service == "X API" and not line.modes for line in self.lines)

    def user_reads(self) -> float:
        return sum(line.per_month for line in self.lines if USER_READS_MODE in line.modes)

    def per_million(self, monthly: float) -> float:
        return monthly * 1e6 / self.tweets_per_month


def interpolate(points: Mapping[int, float], x: float) -> float:
    """Piecewise linear through measured ``points``; flat beyond the ends."""
    xs = sorted(points)
    if x <= xs[0]:
        return points[xs[0]]
    for lo, hi in itertools.pairwise(xs):
        if x <= hi:
            return points[lo] + (points[hi] - points[lo]) * (x - lo) / (hi - lo)
    return points[xs[-1]]


def provisioned_shards(tweets_per_second: float, record_bytes: float, readers: int) -> int:
    """Shards so writes stay within 1 MB/s and 1,000 records/s, and every reader's
    copy of the data within the shared 2 MB/s out (at 100 %: add headroom yourself)."""
    needed = max(
        tweets_per_second * record_bytes / SHARD_WRITE_BYTES_S,
        tweets_per_second / SHARD_WRITE_RECORDS_S,
        readers * tweets_per_second * record_bytes / SHARD_READ_BYTES_S,
    )
    return max(1, math.ceil(needed))


@dataclass
class _Bill:
    """One estimate being itemised: its inputs, the month's totals, the lines so far."""

    tweets_per_second: float
    p: PriceBook
    m: Measured
    d: Deployment
    hours: float
    month_s: float
    tweets: float
    shards: int
    lines: list[Line] = field(default_factory=list)

    @property
    def gb_second(self) -> str:
        """The price name of a Lambda GB-second on the deployment's architecture."""
        return (
            "lambda_gb_second_arm64"
            if self.d.lambda_architecture == "arm64"
            else ("lambda_gb_second")
        )

    def add_lambda(self, item: str, gbs: float, requests: float, detail: str) -> None:
        """A Lambda line: ``gbs`` GB-seconds on the deployment's architecture plus requests."""
        price = self.gb_second
        self.add(
            "Lambda",
            item,
            gbs * self.p[price] + requests / 1e6 * self.p["lambda_requests_million"],
            f"{gbs:,.0f} GB-s ({self.d.lambda_architecture}) + {detail}",
            f"{price} lambda_requests_million",
        )

    def add(
        self, service: str, item: str, cost: float, detail: str, uses: str, *modes: str
    ) -> None:
        both = ("on-demand", "provisioned")
        self.lines.append(Line(service, item, cost, detail, tuple(uses.split()), modes or both))


def estimate(
    tweets_per_second: float,
    prices: PriceBook,
    measured: Measured,
    deployment: Deployment,
    *,
    athena_runs_per_day: float = 24,
    source: str = "x",
) -> Estimate:
    """The month's bill, line by line, at ``tweets_per_second`` read from ``source``
    (``x``: billed post reads; ``bluesky``: Jetstream, no read charge)."""
    if tweets_per_second <= 0:
        raise ValueError("tweets per second must be > 0")
    hours = prices.hours_per_month
    bill = _Bill(
        tweets_per_second,
        prices,
        measured,
        deployment,
        hours=hours,
        month_s=hours * 3600,
        tweets=tweets_per_second * hours * 3600,
        shards=provisioned_shards(
            tweets_per_second, measured.record_bytes, deployment.stream_readers
        ),
    )
    (_bluesky_lines if source == "bluesky" else _x_lines)(bill)
    _kinesis_lines(bill)
    batch = _lambda_lines(bill)
    _dynamodb_lines(bill, batch)
    _firehose_and_s3_lines(bill)
    _athena_and_other_lines(bill, athena_runs_per_day)
    _purge_lines(bill)
    return Estimate(
        tweets_per_second, bill.tweets, bill.shards, batch, tuple(bill.lines), source=source
    )


def _x_lines(bill: _Bill) -> None:
    """Pay-per-use up to its cap; beyond it, Enterprise, for which X publishes no price."""
    tweets, p, m = bill.tweets, bill.p, bill.m
    cap = p["x_pay_per_use_post_cap"]
    if tweets > cap * (1 + 1e-9):  # the cap itself, computed back from a rate, is within
        bill.lines.append(
            Line(
                "X API",
                "post reads: Enterprise (contract pricing)",
                0.0,
                f"{tweets:,.0f} posts > pay-per-use cap {cap:,.0f}: no list price",
                ("x_pay_per_use_post_cap",),
                (),
            )
        )
        return
    bill.add(
        "X API",
        "post reads (pay-per-use)",
        tweets * p["x_post_read"],
        f"{tweets:,.0f} posts x ${p['x_post_read']}",
        "x_post_read",
    )
    # One author object per distinct author a day (X deduplicates a resource within a UTC
    # day); the measured distinct authors per tweet stand in for a day's.
    users = tweets * m.authors_per_tweet_stored
    bill.add(
        "X API",
        "user reads: author expansions, if billed (undocumented)",
        users * p["x_user_read"],
        f"{users:,.0f} authors x ${p['x_user_read']}",
        "x_user_read",
        USER_READS_MODE,
    )


def _bluesky_lines(bill: _Bill) -> None:
    """Jetstream is free and needs no account: one line that says so, for zero."""
    bill.add(
        "Bluesky",
        "post reads (Jetstream: free, no account)",
        0.0,
        f"{bill.tweets:,.0f} posts x $0",
        "bluesky_posts_per_day",
    )


def _kinesis_lines(bill: _Bill) -> None:
    tweets_per_second, hours, tweets, shards, p, m, d = (
        bill.tweets_per_second,
        bill.hours,
        bill.tweets,
        bill.shards,
        bill.p,
        bill.m,
        bill.d,
    )
    # Kinesis, both capacity modes (the totals keep them apart).
    gb_in = tweets * m.record_billed_bytes_1kb / GIB
    gb_out = d.stream_readers * tweets * m.record_bytes / GIB
    extra_h = max(0, d.retention_hours - 24)
    stored_gb = tweets_per_second * m.record_bytes * extra_h * 3600 / GIB
    bill.add(
        "Kinesis",
        "on-demand: stream-hours",
        hours * p["kinesis_ondemand_stream_hour"],
        f"{hours:g} h x ${p['kinesis_ondemand_stream_hour']}",
        "kinesis_ondemand_stream_hour",
        "on-demand",
    )
    bill.add(
        "Kinesis",
        "on-demand: data in (1 KB-rounded)",
        gb_in * p["kinesis_ondemand_gb_in"],
        f"{gb_in:,.2f} GB x ${p['kinesis_ondemand_gb_in']}",
        "kinesis_ondemand_gb_in",
        "on-demand",
    )
    bill.add(
        "Kinesis",
        f"on-demand: data out ({d.stream_readers} readers)",
        gb_out * p["kinesis_ondemand_gb_out"],
        f"{gb_out:,.2f} GB x ${p['kinesis_ondemand_gb_out']}",
        "kinesis_ondemand_gb_out",
        "on-demand",
    )
    bill.add(
        "Kinesis",
        f"on-demand: retention {d.retention_hours} h",
        stored_gb * p["kinesis_ondemand_extended_retention_gb_month"],
        f"{stored_gb:,.2f} GB-month kept past 24 h",
        "kinesis_ondemand_extended_retention_gb_month",
        "on-demand",
    )
    units = tweets * m.record_put_payload_units
    bill.add(
        "Kinesis",
        f"provisioned: {shards} shard(s)",
        shards * hours * p["kinesis_shard_hour"],
        f"{shards} x {hours:g} h x ${p['kinesis_shard_hour']}",
        "kinesis_shard_hour",
        "provisioned",
    )
    bill.add(
        "Kinesis",
        "provisioned: PUT payload units",
        units / 1e6 * p["kinesis_put_payload_units_million"],
        f"{units / 1e6:,.2f} M units x ${p['kinesis_put_payload_units_million']}",
        "kinesis_put_payload_units_million",
        "provisioned",
    )
    bill.add(
        "Kinesis",
        f"provisioned: retention {d.retention_hours} h",
        (shards * hours * p["kinesis_extended_retention_shard_hour"] if extra_h else 0.0),
        f"{shards} x {hours:g} h x ${p['kinesis_extended_retention_shard_hour']}"
        if extra_h
        else "24 h: included",
        "kinesis_extended_retention_shard_hour",
        "provisioned",
    )


def _lambda_lines(bill: _Bill) -> float:
    """Ingest on its schedule whatever the rate; the consumer per batch (returned)."""
    tweets_per_second, month_s, tweets, shards, m, d = (
        bill.tweets_per_second,
        bill.month_s,
        bill.tweets,
        bill.shards,
        bill.m,
        bill.d,
    )
    # Lambda: ingest runs on its schedule whatever the rate; the consumer per batch.
    runs = month_s / d.ingest_every_s
    ingest_gbs = runs * d.ingest_timeout_s * d.ingest_memory_mb / 1024
    bill.add_lambda(
        f"ingest ({d.ingest_timeout_s} s x {d.ingest_memory_mb} MB"
        f" every {d.ingest_every_s // 60} min)",
        ingest_gbs,
        runs,
        f"{runs:,.0f} requests",
    )
    per_shard = tweets_per_second / shards
    gathered_s = max(d.batching_window_s, LAMBDA_POLL_INTERVAL_S)
    batch = min(float(d.batch_size), max(1.0, per_shard * gathered_s))
    invocations = tweets / batch
    handler_ms = interpolate({k: v[0] for k, v in m.consumer_batches.items()}, batch)
    consume_gbs = invocations * handler_ms / 1000 * d.consume_memory_mb / 1024
    bill.add_lambda(
        f"consume ({batch:,.0f} records/batch, {handler_ms:,.0f} ms, {d.consume_memory_mb} MB)",
        consume_gbs,
        invocations,
        f"{invocations:,.0f} requests",
    )
    # Compliance: each run waits for its X job down to a margin before its timeout, and X
    # states no processing time; at the cap 19 of 24 hourly runs have a job (78 %,
    # docs/operations.md). So the bound: every run billed its whole timeout.
    compliance_runs = month_s / d.compliance_every_s
    compliance_gbs = compliance_runs * d.compliance_timeout_s * d.compliance_memory_mb / 1024
    bill.add_lambda(
        f"compliance ({d.compliance_timeout_s} s x {d.compliance_memory_mb} MB"
        f" every {d.compliance_every_s // 60} min, at most)",
        compliance_gbs,
        compliance_runs,
        f"{compliance_runs:,.0f} requests",
    )

    return batch


def _dynamodb_lines(bill: _Bill, batch: float) -> None:
    hours, tweets, p, m, d = bill.hours, bill.tweets, bill.p, bill.m, bill.d
    # DynamoDB on demand: every tweets write is paid again in each GSI it lands in.
    authors_written = interpolate({k: v[1] for k, v in m.consumer_batches.items()}, batch)
    wru_tweets = tweets * m.tweets_written_per_tweet * m.tweet_item_wru * (1 + d.tweet_gsis)
    wru_authors = tweets * authors_written * m.author_item_wru
    wru_hours = hours * m.hour_item_wru  # one new hour bucket an hour
    wru = wru_tweets + wru_authors + wru_hours
    bill.add(
        "DynamoDB",
        f"writes (tweets + {d.tweet_gsis} GSIs, authors, hours)",
        wru / 1e6 * p["dynamodb_wru_million"],
        f"{wru / 1e6:,.2f} M WRU",
        "dynamodb_wru_million",
    )
    rru = tweets * m.keys_read_per_tweet
    bill.add(
        "DynamoDB",
        "consumer reads (strongly consistent)",
        rru / 1e6 * p["dynamodb_rru_million"],
        f"{rru / 1e6:,.2f} M RRU",
        "dynamodb_rru_million",
    )
    item_bytes = (m.tweet_item_bytes + DYNAMODB_STORAGE_OVERHEAD) * (1 + d.tweet_gsis) + (
        m.author_item_bytes + DYNAMODB_STORAGE_OVERHEAD
    ) * m.authors_per_tweet_stored
    ddb_gb = tweets * item_bytes / GIB
    bill.add(
        "DynamoDB",
        "storage, one month of tweets",
        ddb_gb * p["dynamodb_storage_gb_month"],
        f"{ddb_gb:,.2f} GB-month",
        "dynamodb_storage_gb_month",
    )


def _firehose_and_s3_lines(bill: _Bill) -> None:
    tweets, p, m, d = bill.tweets, bill.p, bill.m, bill.d
    # Firehose: two delivery streams, each billing its own ingestion per record rounded
    # up to 5 KB. raw takes every stream record; curated the consumer's rows, smaller
    # but each still billed as 5 KB, and only curated converts to Parquet.
    raw_gb = tweets * m.record_billed_bytes_5kb / GIB
    bill.add(
        "Firehose",
        "raw: ingestion from the stream (5 KB-rounded)",
        raw_gb * p["firehose_gb_ingested"],
        f"{raw_gb:,.2f} GB x ${p['firehose_gb_ingested']}",
        "firehose_gb_ingested",
    )
    rows = tweets * d.lake_rows_per_tweet
    curated_gb = rows * m.lake_row_billed_bytes_5kb / GIB
    bill.add(
        "Firehose",
        "curated: Direct PUT of the consumer's rows (5 KB-rounded)",
        curated_gb * p["firehose_gb_ingested"],
        f"{rows:,.0f} rows of {m.lake_row_bytes:,.0f} B: {curated_gb:,.2f} GB"
        f" x ${p['firehose_gb_ingested']}",
        "firehose_gb_ingested",
    )
    bill.add(
        "Firehose",
        "curated: format conversion to Parquet",
        curated_gb * p["firehose_format_conversion_gb"],
        f"{curated_gb:,.2f} GB x ${p['firehose_format_conversion_gb']}",
        "firehose_format_conversion_gb",
    )

    # S3: both zones, and one object per buffer flush in each.
    s3_gb = tweets * (m.raw_gzip_bytes + m.parquet_bytes) / GIB
    bill.add(
        "S3",
        "storage, one month of raw + curated",
        s3_gb * p["s3_standard_gb_month"],
        f"{s3_gb:,.2f} GB-month",
        "s3_standard_gb_month",
    )
    objects = lake_objects_per_month(bill)
    bill.add(
        "S3",
        "PUT requests (Firehose objects)",
        objects / 1000 * p["s3_put_thousand"],
        f"{objects:,.0f} objects",
        "s3_put_thousand",
    )


def lake_objects_per_month(bill: _Bill) -> float:
    """Objects Firehose writes a month: one per buffer flush in each zone."""
    tweets, m, d = bill.tweets, bill.m, bill.d
    curated = max(
        bill.month_s / d.buffer_interval_s, tweets * m.parquet_bytes / (d.curated_buffer_mb * MIB)
    )
    raw = max(
        bill.month_s / d.raw_buffer_interval_s, tweets * m.raw_gzip_bytes / (d.raw_buffer_mb * MIB)
    )
    return curated + raw


def _purge_lines(bill: _Bill) -> None:
    """The hourly purge: reads PURGE_WINDOW_DAYS of the lake a run (Lambda time measured
    per GB), rewrites at most PURGE_OBJECTS_PER_DELETE objects per delete."""
    tps, p, m, d = bill.tweets_per_second, bill.p, bill.m, bill.d
    runs = bill.month_s / d.purge_every_s
    window_s = PURGE_WINDOW_DAYS * 86400
    read_bytes = window_s * tps * (m.raw_gzip_bytes + m.parquet_bytes)
    gbs = runs * read_bytes / 1e9 * m.purge_seconds_per_gb * d.purge_memory_mb / 1024
    bill.add_lambda(
        f"purge ({read_bytes / MIB:,.0f} MiB a run, {d.purge_memory_mb} MB)",
        gbs,
        runs,
        f"{runs:,.0f} runs at {m.purge_seconds_per_gb:,.0f} s/GB read",
    )
    window_objects = lake_objects_per_month(bill) * window_s / bill.month_s
    deletes = PURGE_DELETED_SHARE * tps * d.purge_every_s
    rewritten = min(window_objects, deletes * PURGE_OBJECTS_PER_DELETE)
    gets = runs * window_objects
    # Each rewrite is a PUT and a listing of the key's versions (both tier-1 requests);
    # deleting the old versions is free.
    tier1 = runs * rewritten * 2
    bill.add(
        "S3",
        "purge requests (GET, PUT, version LIST)",
        gets / 1000 * p["s3_get_thousand"] + tier1 / 1000 * p["s3_put_thousand"],
        f"{gets:,.0f} GET + {tier1:,.0f} PUT/LIST ({PURGE_DELETED_SHARE:.0%} of tweets deleted)",
        "s3_get_thousand s3_put_thousand",
    )


def _athena_and_other_lines(bill: _Bill, athena_runs_per_day: float) -> None:
    tweets_per_second, hours, p, m, d = bill.tweets_per_second, bill.hours, bill.p, bill.m, bill.d
    # Athena: every named query reads the last 7 days of arrivals.
    week = tweets_per_second * 7 * 86400
    runs_month = athena_runs_per_day * hours / 24
    athena = 0.0
    for per_million in m.scan_bytes_per_million.values():
        scanned = per_million * week / 1e6
        athena += athena_query_cost(scanned, p["athena_tb_scanned"]) * runs_month
    bill.add(
        "Athena",
        f"{len(m.scan_bytes_per_million)} named queries x {athena_runs_per_day:g} runs/day",
        athena,
        "7 days scanned per run, 10 MB minimum",
        "athena_tb_scanned",
    )

    crawler_h = d.crawler_runs_per_day * hours / 24 * d.crawler_min_minutes / 60
    bill.add(
        "Other",
        f"{d.alarms} alarms, {d.secrets} secret,"
        f" {_crawler_schedule(d.crawler_runs_per_day)} crawler",
        d.alarms * p["cloudwatch_alarm_month"]
        + d.secrets * p["secretsmanager_secret_month"]
        + crawler_h * d.crawler_dpus * p["glue_crawler_dpu_hour"],
        f"crawler {crawler_h:,.1f} DPU-h (assumed {d.crawler_dpus:g} DPU)",
        "cloudwatch_alarm_month secretsmanager_secret_month glue_crawler_dpu_hour",
    )


def _crawler_schedule(runs_per_day: float) -> str:
    if runs_per_day <= 0:
        return "on-demand"
    return "daily" if runs_per_day >= 1 else "weekly"


def athena_query_cost(scanned_bytes: float, per_tb: float) -> float:
    """One query: bytes rounded up to the MB, at least 10 MB."""
    billed_bytes = max(ATHENA_MIN_BYTES, math.ceil(scanned_bytes / MIB) * MIB)
    return billed_bytes / TIB * per_tb


def athena_per_query(
    tweets_per_second: float, prices: PriceBook, measured: Measured
) -> dict[str, float]:
    week = tweets_per_second * 7 * 86400
    return {
        q: athena_query_cost(b * week / 1e6, prices["athena_tb_scanned"])
        for q, b in sorted(measured.scan_bytes_per_million.items())
    }
