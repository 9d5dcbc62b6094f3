"""The ``cost`` subcommand: the estimate as text, a rate table, or the whole of docs/cost.md.

docs/cost.md is this module's ``--table --markdown`` output, committed; a test
regenerates it and compares, so the page cannot drift from the command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tweetlake_local.stage import REPO_ROOT
from tweetlake_ops.api_bound import api_worst_case
from tweetlake_ops.cost import (
    MEASURED_PATH,
    MODE_OF_STREAM,
    PRICES_PATH,
    PURGE_DELETED_SHARE,
    PURGE_OBJECTS_PER_DELETE,
    PURGE_WINDOW_DAYS,
    USER_READS_MODE,
    Deployment,
    Estimate,
    Measured,
    PriceBook,
    athena_per_query,
    estimate,
    load_deployment,
    load_measured,
    load_prices,
)

#: The operating points a user can buy: 1M and 3M posts a month on pay-per-use (3M is
#: its cap), and 10 tweets/s (26.3M a month), which only Enterprise sells, by contract.
TABLE_POINTS = (1_000_000.0, 3_000_000.0, 26_280_000.0)
GROUPS = (
    (
        "X post reads",
        lambda line: line.service == "X API" and USER_READS_MODE not in line.modes,
    ),
    ("Kinesis on-demand", lambda line: line.service == "Kinesis" and "on-demand" in line.modes),
    (
        "Kinesis provisioned",
        lambda line: line.service == "Kinesis" and line.modes == ("provisioned",),
    ),
    ("Lambda", lambda line: line.service == "Lambda"),
    ("DynamoDB", lambda line: line.service == "DynamoDB"),
    ("Firehose", lambda line: line.service == "Firehose"),
    ("S3", lambda line: line.service == "S3"),
    ("Athena", lambda line: line.service == "Athena"),
    ("Other", lambda line: line.service == "Other"),
)


#: What brought the AWS bill at the cap (3M posts a month) from $67.13 to $29.76, step by
#: step, each figure from this model with only that setting changed: what the curated
#: zone and the deletion duties added, and what paid for them.
SIZING = (
    "## Sizing the default stage to the cap",
    "",
    "At 3M posts a month the bill was mostly fixed costs. Each step below changes one"
    " default and says what it saves (this model, at the cap) and what it costs in safety:",
    "",
    "| change | AWS $/month after | saves | what it costs in safety |",
    "|---|---:|---:|---|",
    "| before: on-demand stream, 7-day retention, ingest 512 MB, consume 512 MB, daily"
    " crawler | 67.13 | | |",
    "| `stream_mode = PROVISIONED`, 1 shard (Terraform default) | 62.44 | 4.69 | one"
    " shard takes 1 MiB/s or 1,000 records/s in: ~700 posts/s of v2 lines, well above"
    " pay-per-use's 250 posts/s on its one connection; beyond it (Enterprise) add shards"
    " or go back to on-demand, which scales itself |",
    "| `stream_retention_hours = 24` (Terraform default) | 47.84 | 14.60 | a consumer"
    " broken for more than a day loses records from the stream; they are still in `raw/`"
    " (Firehose reads the stream on its own) and `python -m tweetlake_local backfill`"
    " restores them to DynamoDB. The consumer-lag alarm fires after 15 min |",
    "| ingest function 128 MB instead of 512 (`.chalice/config.json`) | 32.23 | 15.61 |"
    " measured peak RSS 61 MiB reading 100,000 tweets into the producer with its three"
    " clients (`python -m bench.stream`, `ingest_peak_rss`): 2x headroom. CPU scales"
    " with memory: 128 MB is ~7 % of a vCPU, ~1,400 tweets/s at the measured 19,900"
    " tweets per CPU-second, 5x the stream's 250 posts/s; a cold start's imports take"
    " seconds longer, a gap the catch-up covers (not for retweets) |",
    "| consume function 256 MB instead of 512 | 31.84 | 0.39 | peak RSS 188 MB was"
    " measured on a 10,000-record event (`bench.consumer`); real batches are at most 500."
    " The saving assumes small batches stay bound by DynamoDB round trips, not CPU |",
    "| Glue crawler over `raw/` weekly instead of daily (`crawler_schedule`) | 29.93 |"
    " 1.91 | new `raw/` partitions reach the crawled table up to a week late; the curated"
    " table (partition projection), replay and backfill are unaffected |",
    "| the curated zone fed by the consumer: a second, Direct PUT Firehose | 30.34 |"
    " -0.41 | none lost: the lake holds only what the consumer accepted (one row per"
    " tweet in the `tweets` view). Firehose bills each record rounded up to 5 KB, so"
    " the consumer's smaller rows cost as much to ingest as the stream's records |",
    "| raw Firehose buffer 900 s instead of 300 (`raw_buffer_interval_s`) | 30.31 |"
    " 0.03 | `raw/` files land up to 15 minutes after their records (a third of the"
    " objects); nothing queries `raw/` live, and the purge's 24 hours are unaffected |",
    "| one alarm on the raw Firehose (freshness) instead of two | 30.21 | 0.10 | a"
    " failing `raw/` delivery pages when its records are 15 minutes past the buffer"
    " interval, not at the first failed attempt (which Firehose retries anyway) |",
    "| Glue crawler over `raw/` on demand instead of weekly (`crawler_schedule = null`)"
    " | 29.90 | 0.31 | the crawled `raw/` table learns new partitions only when an"
    " operator runs the crawler (docs/operations.md); backfill, re-drive and the purge"
    " read S3 directly, and the curated table needs no crawler |",
    "| the deletion duties: the lake purge every 6 hours (its Lambda time and S3"
    " requests) and the alarms of the purge and the hourly compliance function | 31.34 |"
    " -1.44 | none: they are what keeps deleted tweets out of the tables and the lake |",
    "| the compliance function's Lambda time in the model: every hourly run billed its"
    " whole 300 s at 128 MB (a run waits for X's job and X states no processing time;"
    " at the cap 19 of 24 runs have a job) | 31.80 | -0.46 | none: a bound, not a change |",
    "| arm64 for every function (`lambda_architecture` in `.chalice/config.json`,"
    " Terraform's `lambda_architecture` for the purge's pandas layer) | 30.56 | 1.24 |"
    " Lambda bills Arm GB-seconds 20 % lower. `chalice package` builds the zip from"
    " manylinux aarch64 wheels of msgspec and pybase64 (a test checks the extension"
    " modules are aarch64), which were not run on an Arm CPU here: the first deploy is"
    " where a wheel problem would show (`…-lambda-errors`). Timings measured on x86_64"
    " (`docs/measured_inputs.json`) are assumed to hold on Graviton |",
    "| one errors and one throttles alarm for all functions instead of one of each per"
    " function (10 alarms to 2) | 29.76 | 0.80 | the alarms watch the account-level"
    " `AWS/Lambda` metrics (no dimension): they fire for any function of the account and"
    " region, another stage's too, and do not name the function; docs/operations.md says"
    " how to find it. Exact in an account per stage. CloudWatch bills per metric, so a"
    " metric math or Metrics Insights alarm over the five functions would cost as much"
    " as five alarms |",
    "",
    "Not done: a batching window on the consumer (fewer, larger batches) would save under"
    " $1 and delay every tweet by the window.",
    "",
)


def _money(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if value >= 0.01 or value == 0 else f"{value:.4f}"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _unconfirmed(prices: PriceBook, uses: Sequence[str]) -> bool:
    return any(not prices.prices[name].confirmed for name in uses)


def render_text(
    est: Estimate,
    prices: PriceBook,
    measured: Measured,
    deployment: Deployment,
    prices_path: Path,
    measured_path: Path,
) -> str:
    out = [
        f"tweetlake at {est.tweets_per_second:g} tweets/s = {est.tweets_per_month:,.0f} tweets"
        f" a month ({prices.hours_per_month:g} h), {prices.region}, USD list prices,"
        " no free tier",
        "",
        f"{'service':<9} {'item':<52} {'$/month':>10} {'$/1M tweets':>12}  detail",
    ]
    for line in est.lines:
        mark = "*" if _unconfirmed(prices, line.uses) else " "
        out.append(
            f"{line.service:<9} {line.item:<52} {_money(line.per_month):>10}"
            f" {_money(est.per_million(line.per_month)):>12}{mark} {line.detail}"
        )
    out.append("")
    for mode, label in (
        ("on-demand", "AWS total, Kinesis on-demand"),
        ("provisioned", f"AWS total, Kinesis provisioned ({est.shards} shard)"),
    ):
        total = est.total(mode)
        if mode == MODE_OF_STREAM[deployment.stream_mode]:
            label += ": this deployment"
        out.append(f"{label:<62} {_money(total):>10} {_money(est.per_million(total)):>12}")
    mode = MODE_OF_STREAM[deployment.stream_mode]
    aws = est.total(mode)
    out += ["", *_x_summary(est, aws, mode)]
    out += [
        "Athena, one run of each named query over 7 days of data: "
        + ", ".join(
            f"{q} ${c:.4f}"
            for q, c in athena_per_query(est.tweets_per_second, prices, measured).items()
        ),
    ]
    if any(_unconfirmed(prices, line.uses) for line in est.lines):
        out.append(
            "* = the price's number was not confirmed in a stored copy of its page: check"
            f" {_relative(prices_path)}."
        )
    out += [
        f"Measured inputs: {_relative(measured_path)} ({measured.measured_on},"
        f" {measured.machine}); the consumer's ms per batch come from a moto server, which"
        " overstates AWS latency.",
        "",
        f"aws_usd_per_month: {aws:.2f}",
    ]
    return "\n".join(out)


def _x_summary(est: Estimate, aws: float, mode: str) -> list[str]:
    """The X side next to the AWS total of the stage's stream mode."""
    if est.source == "bluesky":
        return ["Bluesky posts are read from Jetstream for free: the AWS side is the whole bill."]
    if est.contract:
        return [
            f"{est.tweets_per_month:,.0f} posts a month is beyond the pay-per-use cap: only X"
            " Enterprise sells it, at contract prices (none published), so no X figure here.",
        ]
    x_posts = est.total(mode, x_api=True) - aws
    return [
        f"{'with X post reads (Kinesis ' + mode + ')':<62} {_money(aws + x_posts):>10}"
        f" {_money(est.per_million(aws + x_posts)):>12}",
        f"{'  and author expansions, if X bills them as user reads':<62}"
        f" {_money(aws + x_posts + est.user_reads()):>10}"
        f" {_money(est.per_million(aws + x_posts + est.user_reads())):>12}",
        f"Reading the posts from X costs {x_posts / aws:,.0f} x the whole AWS side.",
    ]


def _point(e: Estimate) -> str:
    if e.source == "bluesky":
        return f"Bluesky, {e.tweets_per_second * 86_400 / 1e6:,.2g}M posts/day"
    return f"{e.tweets_per_month / 1e6:,.3g}M posts/month"


def _x_cell(e: Estimate, value: float) -> str:
    if e.source == "bluesky":
        return "none"
    return "contract" if e.contract else _money(value)


def _plan(e: Estimate) -> str:
    if e.source == "bluesky":
        return "none: Jetstream"
    return "Enterprise" if e.contract else "pay-per-use"


def bluesky_estimate(
    prices: PriceBook, measured: Measured, deployment: Deployment, **kwargs: float
) -> Estimate:
    """The whole Bluesky network's posts, read from Jetstream (no read charge)."""
    rate = prices["bluesky_posts_per_day"] / 86_400
    return estimate(rate, prices, measured, deployment, source="bluesky", **kwargs)


def render_table(estimates: Sequence[Estimate], markdown: bool) -> str:
    heads = [_point(e) for e in estimates]
    rows: list[list[str]] = [
        ["X plan", *[_plan(e) for e in estimates]],
        ["tweets per second", *[f"{e.tweets_per_second:,.2f}" for e in estimates]],
    ]
    for name, pick in GROUPS:
        cells = [sum(x.per_month for x in e.lines if pick(x)) for e in estimates]
        if name == "X post reads":
            rows.append([name, *[_x_cell(e, c) for e, c in zip(estimates, cells, strict=True)]])
        else:
            rows.append([name, *[_money(c) for c in cells]])
    rows.append(["X user reads, if billed", *[_x_cell(e, e.user_reads()) for e in estimates]])
    rows.append(
        ["**AWS, on-demand stream**" if markdown else "AWS, on-demand stream"]
        + [_money(e.total("on-demand")) for e in estimates]
    )
    rows.append(
        ["**AWS, provisioned stream**" if markdown else "AWS, provisioned stream"]
        + [f"{_money(e.total('provisioned'))} ({e.shards} shard)" for e in estimates]
    )
    rows.append(
        ["AWS per million tweets (provisioned)"]
        + [_money(e.per_million(e.total("provisioned"))) for e in estimates]
    )
    rows.append(
        ["with X post reads (provisioned)"]
        + [_x_cell(e, e.total("provisioned", x_api=True)) for e in estimates]
    )
    if markdown:
        out = [
            "| USD per month | " + " | ".join(heads) + " |",
            "|---|" + "---:|" * len(heads),
        ]
        out += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(out)
    width = max(len(r[0]) for r in rows)
    cols = [max(len(h), *(len(r[i + 1]) for r in rows)) for i, h in enumerate(heads)]
    out = [
        f"{'USD per month':<{width}}  "
        + "  ".join(h.rjust(c) for h, c in zip(heads, cols, strict=True))
    ]
    out += [
        f"{r[0]:<{width}}  " + "  ".join(v.rjust(c) for v, c in zip(r[1:], cols, strict=True))
        for r in rows
    ]
    return "\n".join(out)


def render_markdown(
    estimates: Sequence[Estimate],
    detail: Estimate,
    prices: PriceBook,
    measured: Measured,
    deployment: Deployment,
    prices_path: Path,
    measured_path: Path,
) -> str:
    """The whole of docs/cost.md (with a Bluesky column after X's operating points)."""
    points = ", ".join(_point(e) for e in estimates)
    bluesky = bluesky_estimate(prices, measured, deployment)
    parts = [
        "# What tweetlake costs",
        "",
        "<!-- Generated by `python -m tweetlake_local cost --table --markdown > docs/cost.md`;"
        " tests/unit/test_cost.py fails when this page and the command disagree. -->",
        "",
        f"Monthly list prices in {prices.region}, USD, without free tiers, for the"
        f" deployment in this repository, at the operating points X sells: {points}."
        " Reproduce any column with `python -m tweetlake_local cost --tweets-per-month N`.",
        "",
        "**Reading posts from X costs far more than the whole AWS side.** On X's"
        f" pay-per-use plan (${prices['x_post_read']} a post read,"
        f" ${prices['x_user_read']} a user read) one million posts cost"
        f" ${prices['x_post_read'] * 1e6:,.0f} to read, and a project may read at most"
        f" {prices['x_pay_per_use_post_cap']:,.0f} a monthly billing cycle. Beyond that only"
        " Enterprise sells posts, at contract prices X does not publish (`contract` in the"
        " table). Whether the author objects of `expansions=author_id` are billed as user"
        " reads is not documented: that line is kept apart and never in a total.",
        "",
        render_table([*estimates, bluesky], markdown=True),
        "",
        f"**{_point(bluesky)} cost nothing to read.** The last column is the whole Bluesky"
        " network's posts from Jetstream (`TWEETLAKE_SOURCE=bluesky`, docs/bluesky.md): free,"
        " no account, so the AWS side is the whole bill. The record, item and Parquet sizes"
        " are the ones measured on X envelopes; Bluesky records carry a smaller raw payload,"
        " so the size-driven lines are an upper bound.",
        "",
        "How to read it:",
        "",
        '- One line per month. "Per million tweets" is the month\'s cost divided by the'
        " month's tweets, so the fixed costs (the ingest function's schedule, the stream's"
        " hours, alarms) dominate at low rates.",
        "- Storage lines (DynamoDB, S3) are the cost of keeping one month of data for a"
        " month. Every further month kept adds the same again: DynamoDB keeps everything"
        " (no TTL), `raw/` moves to Standard-IA after 30 days (priced here as Standard).",
        "- The two Kinesis rows are alternatives: `stream_mode` is"
        f" `{deployment.stream_mode}` by default (Terraform), retention"
        f" {deployment.retention_hours} h. Provisioned shards are sized to the write limits"
        " at 100 %; add headroom (docs/operations.md, Scaling). Pay-per-use delivers at"
        " most 250 posts/s on its one stream connection, within one shard.",
        "- The purge (deleted tweets out of the lake within 24 hours, as X's terms ask;"
        " docs/local-lake.md) is in the Lambda and S3 rows: a run every"
        f" {deployment.purge_every_s // 60} min reads {PURGE_WINDOW_DAYS} days of `raw/` and"
        f" `curated/` at the measured {measured.purge_seconds_per_gb:,.0f} s per GB (one GET"
        " per object), and rewrites at most"
        f" {PURGE_OBJECTS_PER_DELETE} objects per delete, each a PUT and a listing of its"
        f" versions, with {PURGE_DELETED_SHARE:.0%} of tweets deleted. These are"
        " assumptions: deletes of old tweets make a run read every day since (see"
        " docs/local-lake.md), and rewrites of one hour's deletes often share objects.",
        "- Not included: the API (it depends on callers, not on tweets: its ceiling is the"
        " next section), CloudWatch Logs ingestion, data transfer out of AWS, Athena result"
        " objects, and the curated Firehose's dynamic partitioning (its JQ query is billed"
        " per GB processed, per object delivered and per hour of JQ processing, prices not"
        " yet in `prices.json`).",
        "",
        *render_api_bound(prices, measured, deployment),
        *SIZING,
        f"## At the cap, in detail ({detail.tweets_per_month:,.0f} posts a month)",
        "",
        "```",
        f"$ python -m tweetlake_local cost --tweets-per-month {detail.tweets_per_month:.0f}",
        render_text(detail, prices, measured, deployment, prices_path, measured_path),
        "```",
        "",
        "## Where each input comes from",
        "",
        "| input | value | from |",
        "|---|---|---|",
        f"| ingest Lambda | {deployment.ingest_timeout_s} s x {deployment.ingest_memory_mb} MB,"
        f" every {deployment.ingest_every_s // 60} min | `.chalice/config.json`, `app.py`"
        " schedule (billed as the full timeout: it streams until just before it) |",
        f"| consume Lambda | {deployment.consume_memory_mb} MB, batch"
        f" {deployment.batch_size}, window {deployment.batching_window_s:g} s (a batch holds"
        " what arrived in the window, or in the ~1 s between Lambda's polls of a shard if"
        " longer) | `.chalice/config.json`, `app.py` trigger |",
        "| consumer ms per batch | "
        + ", ".join(
            f"{size}: {ms:,.0f} ms" for size, (ms, _) in sorted(measured.consumer_batches.items())
        )
        + " | `bench.cost_inputs` (moto server: slower than DynamoDB on AWS) |",
        f"| Kinesis record | {measured.record_bytes:,.0f} B mean;"
        f" {measured.record_billed_bytes_1kb:,.0f} B at 1 KB rounding,"
        f" {measured.record_billed_bytes_5kb:,.0f} B at 5 KB rounding,"
        f" {measured.record_put_payload_units:g} PUT payload units | `bench.cost_inputs`"
        " (envelopes encoded by `chalicelib.ingest.handler.encode_record`) |",
        f"| DynamoDB tweets item | {measured.tweet_item_bytes:,.0f} B,"
        f" {measured.tweet_item_wru:g} WRU, x {1 + deployment.tweet_gsis} with the"
        f" {deployment.tweet_gsis} GSIs | items the consumer wrote, sized by DynamoDB's"
        " rules |",
        f"| authors item | {measured.author_item_bytes:,.0f} B; written "
        + ", ".join(
            f"{a:.3f}/tweet at batch {size}"
            for size, (_, a) in sorted(measured.consumer_batches.items())
        )
        + " | the consumer's counts |",
        f"| curated row | {measured.lake_row_bytes:,.0f} B mean"
        f" ({100 * measured.lake_row_bytes / measured.record_bytes:.0f} % of the Kinesis"
        f" record), {measured.lake_row_billed_bytes_5kb:,.0f} B at 5 KB rounding;"
        f" {deployment.lake_rows_per_tweet:g} row per tweet (tombstones and retried batches"
        " not counted) | `bench.cost_inputs` (rows encoded by `chalicelib.consume.lake`) |",
        f"| S3 per tweet | raw gzip {measured.raw_gzip_bytes:,.0f} B, Parquet"
        f" {measured.parquet_bytes:,.0f} B | `tweetlake_local.firehose` encoders |",
        "| Athena bytes per query | "
        + ", ".join(
            f"{q} {b / 1e6:,.1f} MB" for q, b in sorted(measured.scan_bytes_per_million.items())
        )
        + " per million tweets | Parquet column chunks each query reads (`bench.lake`) |",
        f"| Firehose buffers | curated {deployment.curated_buffer_mb} MiB or"
        f" {deployment.buffer_interval_s} s, raw {deployment.raw_buffer_mb} MiB or"
        f" {deployment.raw_buffer_interval_s} s;"
        f" stream retention {deployment.retention_hours} h; {deployment.alarms} alarms |"
        " Terraform defaults (`terraform/variables.tf`, `alarms.tf`) |",
        "",
        *(f"- {note}" for note in measured.notes),
        "",
        "## Prices",
        "",
        f'All in `{_relative(prices_path)}`; "confirmed" means the number itself appeared'
        " in the stored copy named; otherwise only the billing rule did, and the value is"
        " the one last known: check the page.",
        "",
        "| price | value | unit | read | confirmed | source |",
        "|---|---:|---|---|---|---|",
        *(
            f"| `{name}` | {price.value:g} | {price.unit} | {price.read} |"
            f" {'yes' if price.confirmed else '**no**'} | {price.url} |"
            for name, price in prices.prices.items()
        ),
        "",
    ]
    return "\n".join(parts)


def render_api_bound(prices: PriceBook, measured: Measured, deployment: Deployment) -> list[str]:
    """The API's monthly worst case: the section of docs/cost.md under a flood of requests."""
    lines = api_worst_case(prices, measured, deployment)
    total = sum(line.per_month for line in lines)
    return [
        "## The API's worst case: a month of requests at the throttle",
        "",
        "The read API is private (IAM, docs/api.md), and its bill has a ceiling set by"
        f" configuration: the stage throttle lets {deployment.api_rate_limit:g} requests/s"
        f" (burst {deployment.api_burst_limit}) reach Lambda (Terraform"
        " `api_throttle_rate_limit`, `api_throttle_burst_limit`), and the `api_handler`"
        f" function's reserved concurrency is {deployment.api_reserved_concurrency}"
        " (`.chalice/config.json`). Every accepted request is priced as the heaviest one"
        " (`GET /tweets?limit=100` over 24 hours):",
        "",
        "| service | item | USD per month | detail |",
        "|---|---|---:|---|",
        *(
            f"| {line.service} | {line.item} | {_money(line.per_month)} | {line.detail} |"
            for line in lines
        ),
        f"| **API, worst case** | | **{_money(total)}** | |",
        "",
        "- Throttled (429) and unsigned (403) requests stop at API Gateway: no Lambda, no"
        " DynamoDB, and no API Gateway charge. Requests Lambda throttles after API Gateway"
        " accepted them are billed as calls.",
        "- Not in the ceiling: data transfer out (each response's bytes at the internet"
        " egress rate per GB) and CloudWatch Logs. A lower rate in"
        " `terraform/stages/<stage>.tfvars`, or a lower reserved concurrency, lowers the"
        " ceiling.",
        "",
    ]


def per_second(tweets_per_month: float, prices: PriceBook) -> float:
    return tweets_per_month / (prices.hours_per_month * 3600)


def cost_command(args: argparse.Namespace) -> int:
    prices_path = Path(args.prices)
    measured_path = Path(args.measured)
    try:
        prices = load_prices(prices_path)
        measured = load_measured(measured_path)
    except FileNotFoundError as exc:
        print(f"error: {exc.filename} is missing: run python -m bench.cost_inputs to measure")
        return 2
    deployment = load_deployment(args.stage)
    kwargs = {"athena_runs_per_day": args.athena_runs_per_day}
    rate = args.tweets_per_second
    if rate is None:
        rate = per_second(args.tweets_per_month, prices)
    if args.table or args.markdown:
        estimates = [
            estimate(per_second(n, prices), prices, measured, deployment, **kwargs)
            for n in TABLE_POINTS
        ]
        if args.markdown:
            detail = estimate(rate, prices, measured, deployment, **kwargs)
            print(
                render_markdown(
                    estimates, detail, prices, measured, deployment, prices_path, measured_path
                ),
                end="",
            )
        else:
            bluesky = bluesky_estimate(prices, measured, deployment, **kwargs)
            print(render_table([*estimates, bluesky], markdown=False))
        return 0
    est = estimate(rate, prices, measured, deployment, source=args.source, **kwargs)
    print(render_text(est, prices, measured, deployment, prices_path, measured_path))
    return 0


def positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def add_cost_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cost_p = sub.add_parser(
        "cost", help="estimate the monthly AWS and X API cost at a tweet rate (offline)"
    )
    rate = cost_p.add_mutually_exclusive_group()
    rate.add_argument("--tweets-per-second", type=positive, default=None, help="average rate")
    rate.add_argument(
        "--tweets-per-month",
        type=positive,
        default=3_000_000.0,
        help="posts read a month (default 3000000: X's pay-per-use cap)",
    )
    cost_p.add_argument(
        "--source",
        choices=("x", "bluesky"),
        default="x",
        help="where the posts come from: x (billed reads) or bluesky (Jetstream, free)",
    )
    cost_p.add_argument(
        "--table",
        action="store_true",
        help="a table of the operating points X sells (1M, 3M, 26.3M posts/month)",
    )
    cost_p.add_argument(
        "--markdown", action="store_true", help="print docs/cost.md (table + detail + sources)"
    )
    cost_p.add_argument(
        "--athena-runs-per-day",
        type=float,
        default=24,
        help="runs of each named query a day (default 24: an hourly dashboard)",
    )
    cost_p.add_argument(
        "--stage",
        default="prod",
        help="Chalice stage for memory and timeouts (default prod: a stage not written yet"
        " gets the dev template's functions, as tweetlake_ops.chalice_config does)",
    )
    cost_p.add_argument("--prices", default=str(PRICES_PATH), help=argparse.SUPPRESS)
    cost_p.add_argument("--measured", default=str(MEASURED_PATH), help=argparse.SUPPRESS)
    cost_p.set_defaults(func=cost_command)
