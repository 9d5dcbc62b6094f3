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
    PRICES_PATH,
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

TABLE_RATES = (1.0, 10.0, 100.0)
GROUPS = (
    ("X API reads", lambda line: line.service == "X API"),
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
    est: Estimate, prices: PriceBook, measured: Measured, prices_path: Path, measured_path: Path
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
        out.append(f"{label:<62} {_money(total):>10} {_money(est.per_million(total)):>12}")
    with_x = est.total("on-demand", x_api=True)
    out.append(
        f"{'with X API reads (Kinesis on-demand)':<62} {_money(with_x):>10}"
        f" {_money(est.per_million(with_x)):>12}"
    )
    ratio = (with_x - est.total("on-demand")) / est.total("on-demand")
    out += [
        "",
        f"Reading the posts from X costs {ratio:,.0f} x the whole AWS side.",
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
    ]
    return "\n".join(out)


def render_table(estimates: Sequence[Estimate], markdown: bool) -> str:
    heads = [f"{e.tweets_per_second:g} tweets/s" for e in estimates]
    rows: list[list[str]] = [["tweets a month", *[f"{e.tweets_per_month:,.0f}" for e in estimates]]]
    for name, pick in GROUPS:
        rows.append(
            [name, *[_money(sum(x.per_month for x in e.lines if pick(x))) for e in estimates]]
        )
    rows.append(
        ["**AWS, on-demand stream**" if markdown else "AWS, on-demand stream"]
        + [_money(e.total("on-demand")) for e in estimates]
    )
    rows.append(
        ["**AWS, provisioned stream**" if markdown else "AWS, provisioned stream"]
        + [f"{_money(e.total('provisioned'))} ({e.shards} shard)" for e in estimates]
    )
    rows.append(
        ["AWS per million tweets (on-demand)"]
        + [_money(e.per_million(e.total("on-demand"))) for e in estimates]
    )
    rows.append(
        ["AWS per million tweets (provisioned)"]
        + [_money(e.per_million(e.total("provisioned"))) for e in estimates]
    )
    rows.append(
        ["with X API reads, per month"]
        + [_money(e.total("on-demand", x_api=True)) for e in estimates]
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
    """The whole of docs/cost.md."""
    rates = " ".join(f"{e.tweets_per_second:g}" for e in estimates)
    parts = [
        "# What tweetlake costs",
        "",
        "<!-- Generated by `python -m tweetlake_local cost --table --markdown > docs/cost.md`;"
        " tests/unit/test_cost.py fails when this page and the command disagree. -->",
        "",
        f"Monthly list prices in {prices.region}, USD, without free tiers, for the"
        f" deployment in this repository, at {rates} tweets a second. Reproduce any"
        " column with `python -m tweetlake_local cost --tweets-per-second N`.",
        "",
        "**Reading posts from X costs far more than the whole AWS side.** At X's"
        f" pay-per-use rate (${prices['x_post_read']} a post read) one million tweets cost"
        f" ${prices['x_post_read'] * 1e6:,.0f} to read; AWS stores, serves and"
        " lakes them for a few dollars.",
        "",
        render_table(estimates, markdown=True),
        "",
        "How to read it:",
        "",
        '- One line per month. "Per million tweets" is the month\'s cost divided by the'
        " month's tweets, so the fixed costs (the ingest function's schedule, the stream's"
        " hours, alarms) dominate at low rates.",
        "- Storage lines (DynamoDB, S3) are the cost of keeping one month of data for a"
        " month. Every further month kept adds the same again: DynamoDB keeps everything"
        " (no TTL), `raw/` moves to Standard-IA after 30 days (priced here as Standard).",
        "- The two Kinesis rows are alternatives: `stream_mode` is `ON_DEMAND` in prod and"
        " `PROVISIONED` (1 shard) in dev. Provisioned shards are sized to the write limits at"
        " 100 %; add headroom (docs/operations.md, Scaling).",
        "- Not included: the API (it depends on callers, not on tweets: its ceiling is the"
        " next section), CloudWatch Logs ingestion, data transfer out of AWS, Athena result"
        " objects.",
        "",
        *render_api_bound(prices, measured, deployment),
        f"## One rate in detail ({detail.tweets_per_second:g} tweets/s)",
        "",
        "```",
        f"$ python -m tweetlake_local cost --tweets-per-second {detail.tweets_per_second:g}",
        render_text(detail, prices, measured, prices_path, measured_path),
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
        f"| S3 per tweet | raw gzip {measured.raw_gzip_bytes:,.0f} B, Parquet"
        f" {measured.parquet_bytes:,.0f} B | `tweetlake_local.firehose` encoders |",
        "| Athena bytes per query | "
        + ", ".join(
            f"{q} {b / 1e6:,.1f} MB" for q, b in sorted(measured.scan_bytes_per_million.items())
        )
        + " per million tweets | Parquet column chunks each query reads (`bench.lake`) |",
        f"| Firehose buffers | curated {deployment.curated_buffer_mb} MiB, raw"
        f" {deployment.raw_buffer_mb} MiB, {deployment.buffer_interval_s} s;"
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
    if args.table or args.markdown:
        estimates = [estimate(r, prices, measured, deployment, **kwargs) for r in TABLE_RATES]
        if args.markdown:
            detail = estimate(args.tweets_per_second, prices, measured, deployment, **kwargs)
            print(
                render_markdown(
                    estimates, detail, prices, measured, deployment, prices_path, measured_path
                ),
                end="",
            )
        else:
            print(render_table(estimates, markdown=False))
        return 0
    est = estimate(args.tweets_per_second, prices, measured, deployment, **kwargs)
    print(render_text(est, prices, measured, prices_path, measured_path))
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
    cost_p.add_argument(
        "--tweets-per-second", type=positive, default=10.0, help="average rate (default 10)"
    )
    cost_p.add_argument(
        "--table", action="store_true", help="a table for 1, 10 and 100 tweets/s instead"
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
    cost_p.add_argument("--stage", default="dev", help="Chalice stage for memory and timeouts")
    cost_p.add_argument("--prices", default=str(PRICES_PATH), help=argparse.SUPPRESS)
    cost_p.add_argument("--measured", default=str(MEASURED_PATH), help=argparse.SUPPRESS)
    cost_p.set_defaults(func=cost_command)
