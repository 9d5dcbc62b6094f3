"""Read-API latency: ``GET /tweets?limit=20`` in-process through ``chalice.test.Client``.

Starts a moto server on 127.0.0.1, creates the dev stage's tables, stores 250
tweets over ~21 hours (fixture envelopes through ``items.tweet_item``, as the
consumer writes them), then times first pages of the feed, a walk through the
whole feed, and single-tweet reads. Every request crosses real HTTP to the moto
server, whose index Query cost grows with the table (it walks every item), so
the figures measure the emulator more than the API: compare them between
commits, not with AWS. The DynamoDB call and item counts per request are the
figures that carry over to AWS.

    python -m bench.api
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from chalice.test import Client

TWEETS = 250
FIRST_PAGE_REQUESTS = 200
SINGLE_REQUESTS = 200


class WireClock:
    """Time spent between botocore's before-call and after-call events: the round trip
    to the emulator (HTTP and moto's own work), excluding request building and parsing."""

    def __init__(self, client: Any) -> None:
        self.total = 0.0
        self._started = 0.0
        client.meta.events.register("before-call.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, **_: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, **_: Any) -> None:
        self.total += time.perf_counter() - self._started


def _timed(
    call: Callable[[], int], count: int, clock: WireClock | None = None
) -> tuple[list[float], list[float]]:
    """Latency of each call, and of the part spent outside DynamoDB round trips."""
    latencies, overheads = [], []
    for _ in range(count):
        wire_before = clock.total if clock else 0.0
        started = time.perf_counter()
        status = call()
        elapsed = time.perf_counter() - started
        latencies.append(elapsed)
        overheads.append(elapsed - ((clock.total if clock else 0.0) - wire_before))
        assert status == 200, status
    return latencies, overheads


def _report(name: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]
    print(f"{name}_requests: {len(latencies)} requests")
    print(f"{name}_throughput: {len(latencies) / sum(latencies):.1f} requests/s")
    print(f"{name}_p50: {statistics.median(latencies) * 1000:.2f} ms")
    print(f"{name}_p99: {p99 * 1000:.2f} ms")


def main() -> None:
    from app import app
    from chalicelib import aws
    from chalicelib.aws import reset_clients
    from chalicelib.config import load_settings
    from tests.integration.api_support import metered, seed, synthetic_envelopes
    from tweetlake_local.emulator import MotoServer, aws_environment
    from tweetlake_local.resources import create_resources
    from tweetlake_local.stage import stage_environment

    server = MotoServer().start()
    try:
        env = {**stage_environment("dev"), **aws_environment(server.endpoint)}
        os.environ.update(env)
        reset_clients()
        settings = load_settings(os.environ)
        create_resources(settings)
        start = datetime(2026, 11, 20, tzinfo=UTC)
        seed(settings, synthetic_envelopes(TWEETS, start, timedelta(minutes=5)))

        clock = WireClock(aws.client("dynamodb", settings.region))
        with Client(app, stage_name="dev") as client:
            http = client.http

            def first_page() -> int:
                return int(http.get("/tweets?limit=20").status_code)

            _timed(first_page, 20)  # warm: clients, caches, connection pool
            with metered(settings) as meter:
                first_page()
            tweet_items = meter.items_read(settings.tweets_table)
            print(f"tweets_limit20_dynamodb_calls: {len(meter.calls)} calls/request")
            print(f"tweets_limit20_tweet_items_read: {tweet_items} items/request")
            latencies, overheads = _timed(first_page, FIRST_PAGE_REQUESTS, clock)
            _report("tweets_limit20", latencies)
            outside = statistics.median(overheads) * 1000
            print(f"tweets_limit20_p50_outside_dynamodb_round_trips: {outside:.2f} ms")

            pages, cursor, walk = 0, None, []
            while True:
                url = "/tweets?limit=20" + (f"&cursor={quote(cursor)}" if cursor else "")
                started = time.perf_counter()
                body = http.get(url).json_body
                walk.append(time.perf_counter() - started)
                pages += 1
                cursor = body["next_cursor"]
                if cursor is None:
                    break
            print(f"tweets_limit20_walk_pages: {pages} pages")
            _report("tweets_limit20_walk", walk)

            def one_tweet() -> int:
                return int(http.get("/tweets/1993000000000000100").status_code)

            _report("tweet_by_id", _timed(one_tweet, SINGLE_REQUESTS)[0])
    finally:
        server.stop()
        reset_clients()


if __name__ == "__main__":
    main()
