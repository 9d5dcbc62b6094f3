"""The most a flood of API requests can cost in a month, from the deployed limits.

The API's bill depends on callers, not on tweets, so the tweet-rate model in
:mod:`tweetlake_ops.cost` leaves it out; this gives its ceiling instead. API
Gateway's stage throttle (Terraform's ``api_throttle_rate_limit``) caps the
requests that reach the integration: throttled (429) and unsigned (403) calls
are rejected before Lambda and are not billed. Each accepted request then costs
one API Gateway call, one Lambda invocation, and at most the DynamoDB reads of
the heaviest route: ``GET /tweets`` at the largest ``limit``, which walks up to
``MAX_BUCKETS`` hours and reads ``MAX_LIMIT + 1`` items. The Lambda's reserved
concurrency caps its duration however slow each call is. Burst adds at most
``api_burst_limit`` requests once; over a month it is nothing.
"""

from __future__ import annotations

import math

from chalicelib.api.params import MAX_LIMIT
from chalicelib.api.reader import MAX_BUCKETS
from tweetlake_ops.cost import Deployment, Line, Measured, PriceBook

# Eventually consistent reads (the API's): half a read unit per 4 KB, per Query rounded up.
READ_UNIT_BYTES = 4096
EVENTUAL_RRU = 0.5


def max_rru_per_request(item_bytes: float) -> float:
    """Read units of the heaviest request: one hour-directory Query plus one ``by_time``
    Query per hour, each rounded up to 4 KB, over ``MAX_LIMIT + 1`` tweet items."""
    queries = 1 + MAX_BUCKETS
    items = MAX_LIMIT + 1
    return EVENTUAL_RRU * (queries + math.ceil(items * item_bytes / READ_UNIT_BYTES))


def api_worst_case(p: PriceBook, m: Measured, d: Deployment) -> tuple[Line, ...]:
    """Monthly ceiling of the API's AWS bill with every second throttled at the limit."""
    seconds = p.hours_per_month * 3600
    requests = d.api_rate_limit * seconds
    gb = d.api_memory_mb / 1024
    busy_s = requests * d.api_timeout_s
    if d.api_reserved_concurrency is not None:
        busy_s = min(busy_s, d.api_reserved_concurrency * seconds)
    bound = (
        f"reserved concurrency {d.api_reserved_concurrency} busy all month"
        if d.api_reserved_concurrency is not None and busy_s < requests * d.api_timeout_s
        else f"every request runs its {d.api_timeout_s} s timeout"
    )
    rru = requests * max_rru_per_request(m.tweet_item_bytes)
    return (
        Line(
            "API Gateway",
            f"REST calls at {d.api_rate_limit:g} requests/s",
            requests / 1e6 * p["apigateway_rest_requests_million"],
            f"{requests:,.0f} calls",
            ("apigateway_rest_requests_million",),
        ),
        Line(
            "Lambda",
            f"api_handler requests ({d.api_memory_mb} MB)",
            requests / 1e6 * p["lambda_requests_million"],
            f"{requests:,.0f} requests",
            ("lambda_requests_million",),
        ),
        Line(
            "Lambda",
            "api_handler duration",
            busy_s * gb * p["lambda_gb_second"],
            f"{busy_s * gb:,.0f} GB-s: {bound}",
            ("lambda_gb_second",),
        ),
        Line(
            "DynamoDB",
            f"reads, {max_rru_per_request(m.tweet_item_bytes):g} RRU a request at most",
            rru / 1e6 * p["dynamodb_rru_million"],
            f"{rru / 1e6:,.1f} M RRU",
            ("dynamodb_rru_million",),
        ),
    )
