"""The cost model: its arithmetic on a hand-computed case, its inputs, and docs/cost.md."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import replace

import pytest

from tests.terraform.model import load_module
from tweetlake_local.cli import main
from tweetlake_local.stage import REPO_ROOT
from tweetlake_ops.api_bound import api_worst_case, max_rru_per_request
from tweetlake_ops.cost import (
    MEASURED_PATH,
    PRICES_PATH,
    Deployment,
    Measured,
    Price,
    PriceBook,
    billed,
    estimate,
    load_deployment,
    load_measured,
    load_prices,
)
from tweetlake_ops.cost_cli import TABLE_POINTS, per_second, render_markdown

GIB = 1024**3
MIB = 1024**2
TIB = 1024**4


def book(**values: float) -> PriceBook:
    return PriceBook(
        "us-east-1",
        730,
        {
            k: Price(v, "unit", "https://example.invalid", "2026-01-01", True)
            for k, v in values.items()
        },
    )


PRICES = book(
    x_post_read=0.005,
    x_user_read=0.01,
    x_pay_per_use_post_cap=3_000_000,
    kinesis_shard_hour=0.015,
    kinesis_put_payload_units_million=0.014,
    kinesis_extended_retention_shard_hour=0.02,
    kinesis_ondemand_stream_hour=0.04,
    kinesis_ondemand_gb_in=0.08,
    kinesis_ondemand_gb_out=0.04,
    kinesis_ondemand_extended_retention_gb_month=0.1,
    lambda_gb_second=0.0000166667,
    lambda_gb_second_arm64=0.0000133334,
    lambda_requests_million=0.2,
    dynamodb_wru_million=0.625,
    dynamodb_rru_million=0.125,
    dynamodb_storage_gb_month=0.25,
    firehose_gb_ingested=0.029,
    firehose_format_conversion_gb=0.018,
    s3_standard_gb_month=0.023,
    s3_put_thousand=0.005,
    s3_get_thousand=0.0004,
    athena_tb_scanned=5.0,
    secretsmanager_secret_month=0.4,
    cloudwatch_alarm_month=0.1,
    glue_crawler_dpu_hour=0.44,
)
MEASURED = Measured(
    measured_on="2026-01-01",
    machine="test",
    code="test",
    record_bytes=1024,
    record_billed_bytes_1kb=1024,
    record_billed_bytes_5kb=5120,
    record_put_payload_units=1,
    raw_gzip_bytes=256,
    parquet_bytes=128,
    tweet_item_bytes=924,
    tweet_item_wru=1,
    author_item_bytes=412,
    author_item_wru=1,
    hour_item_wru=1,
    authors_per_tweet_stored=0.5,
    keys_read_per_tweet=2,
    tweets_written_per_tweet=1,
    lake_row_bytes=700,
    lake_row_billed_bytes_5kb=5120,
    consumer_batches={5: (100.0, 1.0), 500: (1000.0, 0.1)},
    scan_bytes_per_million={"q": 1_000_000},
    purge_seconds_per_gb=1000,
)
DEPLOYMENT = Deployment(
    ingest_memory_mb=1024,
    ingest_timeout_s=600,
    ingest_every_s=600,
    consume_memory_mb=1024,
    batch_size=500,
    batching_window_s=5,
    tweet_gsis=2,
    retention_hours=48,
    buffer_interval_s=300,
    alarms=10,
    crawler_runs_per_day=1,
    purge_memory_mb=1024,
    purge_every_s=3600,
    compliance_memory_mb=512,
    compliance_timeout_s=300,
    compliance_every_s=3600,
)


def test_arithmetic_on_a_hand_computed_case() -> None:
    """GIVEN 1 tweet/s (2,628,000 a month of 730 h), 1 KiB records and round inputs
    WHEN the model runs THEN every line is the figure worked out by hand below."""
    est = estimate(1, PRICES, MEASURED, DEPLOYMENT, athena_runs_per_day=24)
    tweets = 2_628_000
    assert est.tweets_per_month == tweets
    assert est.shards == 1
    assert est.batch_records == 5  # 1 tweet/s on 1 shard x 5 s window
    expected = [
        ("X API", "post reads", tweets * 0.005),  # 13,140
        # authors 0.5 a tweet, if X bills the expansion's user objects: kept out of totals
        ("X API", "user reads", tweets * 0.5 * 0.01),
        ("Kinesis", "on-demand: stream-hours", 730 * 0.04),
        ("Kinesis", "on-demand: data in", tweets * 1024 / GIB * 0.08),
        ("Kinesis", "on-demand: data out", 2 * tweets * 1024 / GIB * 0.04),
        ("Kinesis", "on-demand: retention 48 h", 1024 * 24 * 3600 / GIB * 0.1),
        ("Kinesis", "provisioned: 1 shard", 730 * 0.015),
        ("Kinesis", "provisioned: PUT payload units", 2.628 * 0.014),
        ("Kinesis", "provisioned: retention 48 h", 730 * 0.02),
        # 4,380 runs x 600 s x 1 GB, plus 4,380 requests
        ("Lambda", "ingest", 2_628_000 * 0.0000166667 + 4380 / 1e6 * 0.2),
        # 525,600 batches of 5 x 0.1 s x 1 GB
        ("Lambda", "consume", 52_560 * 0.0000166667 + 525_600 / 1e6 * 0.2),
        # 730 hourly runs, each billed its whole 300 s timeout (the bound) x 0.5 GB
        ("Lambda", "compliance", 109_500 * 0.0000166667 + 730 / 1e6 * 0.2),
        # tweets 3 WRU (table + 2 GSIs), authors 1.0 a tweet at batch 5, 730 hour items
        ("DynamoDB", "writes", (tweets * 3 + tweets * 1 + 730) / 1e6 * 0.625),
        ("DynamoDB", "consumer reads", tweets * 2 / 1e6 * 0.125),
        # (924 + 100) x 3 + (412 + 100) x 0.5 = 3,328 bytes a tweet
        ("DynamoDB", "storage", tweets * 3328 / GIB * 0.25),
        # two deliveries: raw bills each 1 KiB record as 5 KB, curated each 700 B row too
        ("Firehose", "raw: ingestion", tweets * 5120 / GIB * 0.029),
        ("Firehose", "curated: Direct PUT", tweets * 5120 / GIB * 0.029),
        ("Firehose", "curated: format conversion", tweets * 5120 / GIB * 0.018),
        ("S3", "storage", tweets * 384 / GIB * 0.023),
        # 8,760 curated flushes (300 s) and 2,920 raw ones (900 s) a month: the buffers
        # never fill at this rate
        ("S3", "PUT requests", 11_680 / 1000 * 0.005),
        # 604,800 tweets a week scan 0.6 MB: billed 10 MB; 730 runs a month
        ("Athena", "1 named queries", 730 * 10 * MIB / TIB * 5.0),
        ("Other", "10 alarms", 10 * 0.1 + 0.4 + 730 / 24 * 10 / 60 * 0.44),
        # 730 hourly runs each read 3 days of lake: 259,200 tweets x 384 B = 99,532,800 B,
        # 99.5328 s at 1,000 s/GB, 1 GB of memory
        ("Lambda", "purge", 730 * 99.5328 * 0.0000166667 + 730 / 1e6 * 0.2),
        # 11,680 objects a month (curated every 300 s, raw every 900 s), 1,152 of them in
        # 3 days; 72 deletes an hour (2 %) make at most 288 objects to rewrite, each a PUT
        # and a version LIST
        ("S3", "purge requests", 730 * 1152 / 1000 * 0.0004 + 730 * 288 * 2 / 1000 * 0.005),
    ]
    assert len(est.lines) == len(expected)
    for service, prefix, value in expected:
        (line,) = [x for x in est.lines if x.service == service and x.item.startswith(prefix)]
        assert line.per_month == pytest.approx(value, rel=1e-12), prefix
    ondemand = sum(v for s, p, v in expected if s != "X API" and not p.startswith("provisioned"))
    assert est.total("on-demand") == pytest.approx(ondemand, rel=1e-12)
    assert est.per_million(est.total("on-demand")) == pytest.approx(ondemand / 2.628, rel=1e-12)
    with_x = est.total("on-demand", x_api=True)
    assert with_x == pytest.approx(ondemand + 13_140, rel=1e-12)
    assert est.user_reads() == pytest.approx(13_140, rel=1e-12) and not est.contract


def test_arm64_bills_every_lambda_line_at_the_arm_price_and_nothing_else() -> None:
    """GIVEN the hand-computed case on arm64 THEN each Lambda line's GB-seconds cost the
    Arm price (requests unchanged) and every other line is the same."""
    x86 = estimate(1, PRICES, MEASURED, DEPLOYMENT)
    arm = estimate(1, PRICES, MEASURED, replace(DEPLOYMENT, lambda_architecture="arm64"))
    gbs = {"ingest": 2_628_000, "consume": 52_560, "compliance": 109_500, "purge": 72_658.944}
    for before, after in zip(x86.lines, arm.lines, strict=True):
        if before.service != "Lambda":
            assert after == before
            continue
        name = before.item.split()[0]
        saved = gbs[name] * (0.0000166667 - 0.0000133334)
        assert before.per_month - after.per_month == pytest.approx(saved, rel=1e-9), name
        assert after.uses[0] == "lambda_gb_second_arm64" and "(arm64)" in after.detail


def test_beyond_the_pay_per_use_cap_x_reads_are_contract_priced() -> None:
    """GIVEN 10 tweets/s (26.3M a month, past the 3M cap) THEN no X price is invented."""
    est = estimate(10, PRICES, MEASURED, DEPLOYMENT)
    assert est.contract
    (x_line,) = [x for x in est.lines if x.service == "X API"]
    assert x_line.per_month == 0 and "contract" in x_line.item
    assert est.total("provisioned", x_api=True) == est.total("provisioned")
    at_cap = estimate(per_second(3_000_000, PRICES), PRICES, MEASURED, DEPLOYMENT)
    assert not at_cap.contract  # the cap itself is still pay-per-use


def test_rates_change_batches_shards_and_the_interpolated_consumer() -> None:
    """GIVEN 2,000 tweets/s of 1 KiB THEN 2 shards (1,000 records/s each), full batches of
    500 and the consumer's measured 1,000 ms; between measured sizes it interpolates."""
    est = estimate(2000, PRICES, MEASURED, DEPLOYMENT)
    assert (est.shards, est.batch_records) == (2, 500)
    consume = next(x for x in est.lines if x.item.startswith("consume"))
    assert "1,000 ms" in consume.item
    mid = estimate(50.5, PRICES, MEASURED, DEPLOYMENT)  # 252.5 a batch: halfway
    assert "550 ms" in next(x for x in mid.lines if x.item.startswith("consume")).item
    # a batching window of 0 s: a batch holds what arrived since the last poll (~1 s)
    zero = estimate(50, PRICES, MEASURED, replace(DEPLOYMENT, batching_window_s=0))
    assert zero.batch_records == 50
    with pytest.raises(ValueError):
        estimate(0, PRICES, MEASURED, DEPLOYMENT)


def test_billing_roundups() -> None:
    assert billed(1, 5 * 1024) == 5 * 1024
    assert billed(5 * 1024, 5 * 1024) == 5 * 1024
    assert billed(5 * 1024 + 1, 5 * 1024) == 10 * 1024
    assert billed(0, 1024) == 1024  # an empty record is still one unit


def test_deployment_is_read_from_the_repository() -> None:
    d = load_deployment("dev")
    assert (d.ingest_timeout_s, d.ingest_every_s, d.batch_size) == (570, 600, 500)
    assert d.tweet_gsis == 2
    assert set(d.named_queries) == {p.stem for p in (REPO_ROOT / "sql").glob("*.sql")}


def test_terraform_defaults_the_model_assumes() -> None:
    """The buffers, retention and alarm count are Terraform's: a change there must show."""
    module = load_module()
    defaults = module.variable_defaults()
    d = load_deployment("dev")
    assert d.retention_hours == defaults["stream_retention_hours"]
    assert d.stream_mode == defaults["stream_mode"]
    # No schedule by default: the crawler runs when an operator starts it, priced at 0.
    assert defaults["crawler_schedule"] is None and d.crawler_runs_per_day == 0
    assert d.curated_buffer_mb == defaults["firehose_buffer_size_mb"]
    assert d.raw_buffer_mb == defaults["raw_buffer_size_mb"]
    assert d.buffer_interval_s == defaults["firehose_buffer_interval_s"]
    assert d.raw_buffer_interval_s == defaults["raw_buffer_interval_s"]
    alarms = [k for k in module.resources if k[0] == "aws_cloudwatch_metric_alarm"]
    # Each alarm is one alarm (no for_each: a per-function set would multiply the bill).
    assert not [k for k in alarms if "for_each" in module.resource_dict(*k)]
    assert d.alarms == len(alarms)
    firehoses = [k for k in module.resources if k[0] == "aws_kinesis_firehose_delivery_stream"]
    readers = [k for k in firehoses if "kinesis_source_configuration" in module.resource_dict(*k)]
    assert d.stream_readers == 1 + len(readers)  # the consumer plus each Firehose reading it
    # Each delivery stream bills its own ingestion: one line per Firehose in the model.
    est = estimate(1, load_prices(), load_measured(), d)
    ingestions = [x for x in est.lines if "firehose_gb_ingested" in x.uses]
    assert len(ingestions) == len(firehoses) == 2
    assert d.api_rate_limit == defaults["api_throttle_rate_limit"]
    assert d.api_burst_limit == defaults["api_throttle_burst_limit"]


def test_the_api_ceiling_on_a_hand_computed_case() -> None:
    """10 requests/s for 730 h; 5 instances of 256 MB busy all month; 23 RRU a request."""
    prices, measured = load_prices(), load_measured()
    deployment = load_deployment("dev")
    assert (deployment.api_reserved_concurrency, deployment.api_memory_mb) == (5, 256)
    gateway, invocations, duration, reads = api_worst_case(prices, measured, deployment)
    requests = 10 * 730 * 3600
    assert requests == 26_280_000
    assert gateway.per_month == pytest.approx(26.28 * 3.5)
    assert invocations.per_month == pytest.approx(26.28 * 0.2)
    assert duration.per_month == pytest.approx(5 * 730 * 3600 * 0.25 * 1.66667e-5)
    rru = max_rru_per_request(measured.tweet_item_bytes)
    assert reads.per_month == pytest.approx(requests * rru * 0.125 / 1e6)
    assert max_rru_per_request(816) == 0.5 * (25 + 21)  # 101 items x 816 B = 21 x 4 KB
    unbounded = api_worst_case(prices, measured, replace(deployment, api_reserved_concurrency=None))
    assert "timeout" in unbounded[2].detail
    assert unbounded[2].per_month == pytest.approx(requests * 10 * 0.25 * 1.66667e-5)


def test_every_price_has_a_source_and_a_date() -> None:
    prices = load_prices()
    estimate(10, prices, load_measured(), load_deployment())  # every name the model uses exists
    for name, price in prices.prices.items():
        assert price.url.startswith("https://"), name
        assert len(price.read) == 10 and price.value > 0, name
        assert price.seen_in, f"{name}: say where the number was (or was not) seen"


def test_measured_inputs_are_complete() -> None:
    measured = load_measured()
    assert set(measured.scan_bytes_per_million) == set(load_deployment().named_queries)
    assert {500, 5} <= set(measured.consumer_batches)
    assert measured.record_billed_bytes_5kb >= measured.record_bytes


def test_docs_cost_page_is_the_commands_output() -> None:
    """docs/cost.md is regenerated by the command; if prices, inputs or the deployment
    change, regenerate it: python -m tweetlake_local cost --table --markdown > docs/cost.md"""
    prices, measured, deployment = load_prices(), load_measured(), load_deployment("prod")
    estimates = [
        estimate(per_second(n, prices), prices, measured, deployment) for n in TABLE_POINTS
    ]
    detail = estimate(per_second(3_000_000, prices), prices, measured, deployment)
    page = render_markdown(
        estimates, detail, prices, measured, deployment, PRICES_PATH, MEASURED_PATH
    )
    assert (REPO_ROOT / "docs" / "cost.md").read_text(encoding="utf-8") == page


def test_cost_command_runs_offline() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["cost", "--tweets-per-second", "10"]) == 0
    text = out.getvalue()
    assert "26,280,000 tweets a month" in text
    assert "AWS total, Kinesis on-demand" in text
    assert "only X Enterprise sells it, at contract prices" in text
    with redirect_stdout(io.StringIO()) as table:
        assert main(["cost", "--table"]) == 0
    assert "3M posts/month" in table.getvalue() and "contract" in table.getvalue()


def test_the_bill_at_the_cap_for_the_default_prod_stage_is_at_most_30_dollars() -> None:
    """The issue's target: 3M posts a month, the prod stage's defaults (Terraform's
    variables, the functions a new stage gets from the dev template)."""
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["cost", "--tweets-per-month", "3000000"]) == 0
    text = out.getvalue()
    assert "3,000,000 tweets a month" in text
    assert "Reading the posts from X costs" in text
    (line,) = [x for x in text.splitlines() if x.startswith("aws_usd_per_month: ")]
    total = float(line.split()[1])
    # The whole deployment, the deletion duties included: the purge's two lines and the
    # compliance function's Lambda time (bounded by its timeout) are in the total.
    prices = load_prices()
    est = estimate(per_second(3_000_000, prices), prices, load_measured(), load_deployment("prod"))
    items = [x.item.split()[0] for x in est.lines if x.service == "Lambda"]
    assert sorted(items) == ["compliance", "consume", "ingest", "purge"]
    assert total == pytest.approx(est.total("provisioned"), abs=0.005)
    assert total <= 30.0


def test_an_unconfirmed_price_is_starred_and_footnoted_and_only_then() -> None:
    from tweetlake_ops.cost_cli import render_text

    prices, measured, deployment = load_prices(), load_measured(), load_deployment()
    confirmed = PriceBook(
        prices.region,
        prices.hours_per_month,
        {k: replace(v, confirmed=True) for k, v in prices.prices.items()},
    )
    doubtful = PriceBook(
        prices.region,
        prices.hours_per_month,
        {
            **confirmed.prices,
            "glue_crawler_dpu_hour": replace(
                confirmed.prices["glue_crawler_dpu_hour"], confirmed=False
            ),
        },
    )
    texts = {
        name: render_text(
            estimate(10, book_, measured, deployment),
            book_,
            measured,
            deployment,
            PRICES_PATH,
            MEASURED_PATH,
        )
        for name, book_ in (("confirmed", confirmed), ("doubtful", doubtful))
    }
    assert "not confirmed" not in texts["confirmed"]
    assert "not confirmed" in texts["doubtful"]
    lines = texts["doubtful"].splitlines()
    starred = [line for line in lines if "* " in line[:90] and not line.startswith("* =")]
    assert len(starred) == 1 and "crawler" in starred[0]


def test_the_api_ceiling_quoted_in_the_docs_is_the_models() -> None:
    """README and docs/api.md quote the total docs/cost.md derives: one figure, checked."""
    from tweetlake_ops.cost_cli import _money

    lines = api_worst_case(load_prices(), load_measured(), load_deployment())
    figure = f"${_money(sum(line.per_month for line in lines))}"
    assert f"about **{figure} a month**" in (REPO_ROOT / "docs" / "api.md").read_text()
    assert f"(about {figure})" in (REPO_ROOT / "README.md").read_text()


def test_the_bluesky_column_has_no_read_charge() -> None:
    """GIVEN Bluesky's network rate from prices.json WHEN estimated as a bluesky source
    THEN no X line, one zero read line, and the AWS side equals an X estimate's at that rate."""
    from tweetlake_ops.cost_cli import bluesky_estimate

    prices, measured, deployment = load_prices(), load_measured(), load_deployment("prod")
    est = bluesky_estimate(prices, measured, deployment)
    assert est.source == "bluesky"
    assert est.tweets_per_second == pytest.approx(prices["bluesky_posts_per_day"] / 86_400)
    assert not [line for line in est.lines if line.service == "X API"]
    [read] = [line for line in est.lines if line.service == "Bluesky"]
    assert read.per_month == 0
    same_rate = estimate(est.tweets_per_second, prices, measured, deployment)
    for mode in ("on-demand", "provisioned"):
        assert est.total(mode) == est.total(mode, x_api=True) == same_rate.total(mode)
    with redirect_stdout(io.StringIO()) as table:
        assert main(["cost", "--table"]) == 0
    assert "none: Jetstream" in table.getvalue()
    with redirect_stdout(io.StringIO()) as text:
        assert main(["cost", "--source", "bluesky", "--tweets-per-second", "25"]) == 0
    assert "read from Jetstream for free" in text.getvalue()
