"""State that lasts: the local mode stopped, or killed, and started again.

moto keeps everything in memory; the lake folder is what outlives a run. These
tests run the local mode as a user does (a subprocess on free ports, see
``test_local_run``), stop it (Ctrl-C, or ``kill -9``), start it again on the same
``--dir``, and read what the API, the tables and the lake hold.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.test_local_run import (
    LocalRun,
    assert_nothing_left,
    get,
    local_runs,  # noqa: F401  (the fixture, used by name)
    processes_with_environment,
    start_local,
)
from tweetlake_local.emulator import DUMMY_CREDENTIALS
from tweetlake_ops.sql import run as run_sql

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Fields that say when and in which consumer batch a tweet was stored: a restore
#: stores it again, in other batches, so these are the only ones allowed to change.
STORE_BOOKKEEPING = ("processed_at", "author_tweets_in_batch")


def raw_envelopes(lake: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(lake.glob("raw/dt=*/hour=*/*.gz"))
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]


def view_tweet_ids(lake: Path) -> set[str]:
    """The ``tweets`` view analysts query: one row per live tweet (docs/local-lake.md)."""
    return {str(r[0]) for r in run_sql("SELECT tweet_id FROM tweets", lake).rows}


def without_bookkeeping(tweet: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tweet.items() if k not in STORE_BOOKKEEPING}


def serving(run: LocalRun) -> None:
    def ready() -> bool:
        return any(line.startswith("serving the API") for line in run.lines)

    run.wait_for(ready, 180, "the run to drain and serve the API")


def stop(run: LocalRun) -> None:
    run.proc.send_signal(signal.SIGINT)
    assert run.finish(120) == 0, run.output


def last_ingested(run: LocalRun) -> int:
    """The ``ingested`` count of the newest status line: what the run said it sent."""
    for line in reversed(run.lines):
        if line.startswith("status:") and "· ingested " in line:
            return int(line.split("· ingested ")[1].split(" ")[0])
    return 0


def tweets_table(run: LocalRun) -> dict[str, str]:
    """tweet_id → status ("live" or "deleted") of every item in the run's tweets table."""
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{run.aws_port}",
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    items: dict[str, str] = {}
    for page in client.get_paginator("scan").paginate(TableName="tweetlake-dev-tweets"):
        for item in page["Items"]:
            items[item["tweet_id"]["S"]] = item["status"]["S"]
    return items


def test_restart_keeps_the_apis_answers(tmp_path: Path, local_runs: list[LocalRun]) -> None:  # noqa: F811
    """GIVEN a run that stored tweets and stopped WHEN the local mode starts again on the
    same folder THEN each tweet the first run served is served again, field for field
    (but when and in which batch it was stored), and so is the author's page."""
    home = tmp_path / "home"
    first = start_local(home, "--tweets", "400", "--seed", "11", "--until-drained", "--serve")
    local_runs.append(first)
    serving(first)
    _, page = get(f"{first.api}/tweets?limit=20")
    ids = [item["tweet_id"] for item in page["items"]]
    assert len(ids) == 20
    before = {tweet_id: get(f"{first.api}/tweets/{tweet_id}") for tweet_id in ids}
    author = before[ids[0]][1]["author"]["id"]
    _, user_before = get(f"{first.api}/users/{author}")
    stop(first)

    second = start_local(home, "--tweets", "5", "--seed", "12", "--until-drained", "--serve")
    local_runs.append(second)
    serving(second)
    for tweet_id, (status, body) in before.items():
        again_status, again = get(f"{second.api}/tweets/{tweet_id}")
        assert (again_status, without_bookkeeping(again)) == (status, without_bookkeeping(body))
    status, user_after = get(f"{second.api}/users/{author}")
    assert status == 200
    # The second run's few lines may add a tweet of this author, never take one away.
    assert user_after["tweet_count"] >= user_before["tweet_count"] > 0
    assert user_after["first_seen"] <= user_before["first_seen"]
    stop(second)
    assert_nothing_left(second)


def test_kill_9_mid_run_loses_nothing_sent(tmp_path: Path, local_runs: list[LocalRun]) -> None:  # noqa: F811
    """GIVEN a run killed with SIGKILL while its deliveries still buffer records (a long
    flush interval) WHEN the local mode starts again on the same folder and drains THEN
    the raw zone holds at least every record the killed run reported as ingested, the
    tables hold every tweet of raw/, the curated ``tweets`` view holds exactly the
    tweets the tables hold live (the rows the killed run had buffered were published
    again), the killed
    run's moto servers died with it, and the restarted run leaves no process or port
    behind."""
    home = tmp_path / "home"
    first = start_local(
        home, "--rate", "300", "--seed", "21", "--flush-seconds", "600", "--status-every", "0.2"
    )
    local_runs.append(first)
    first.wait_for(lambda: last_ingested(first) >= 400, 120, "400 ingested records")
    reported = last_ingested(first)
    aws_port = first.aws_port
    first.proc.send_signal(signal.SIGKILL)
    first.finish(30)
    wait_closed(aws_port)  # the moto server processes die with the run
    kill_leftovers(aws_port)

    second = start_local(home, "--tweets", "5", "--seed", "22", "--until-drained", "--serve")
    local_runs.append(second)
    serving(second)
    sent_now = int(second.summary()["sent to stream"])

    lake = home / "lake"
    # raw/ as the tables were rebuilt from it, before this run's purge took the deleted
    # tweets' records out of it (the purge's first scheduled run is a minute away).
    restored = restored_records(home)
    assert restored >= reported, (restored, reported)
    envelopes = raw_envelopes(lake)
    assert len(envelopes) >= sent_now
    raw_tweets = {str(e["tweet_id"]) for e in envelopes if e.get("kind") == "tweet"}
    table = tweets_table(second)
    assert raw_tweets <= set(table), sorted(raw_tweets - set(table))[:5]
    # Curated holds a row for every tweet the tables hold live, and for nothing else.
    live = {tweet_id for tweet_id, status in table.items() if status == "live"}
    assert len(live) > reported // 2
    assert view_tweet_ids(lake) == live
    stop(second)
    assert_nothing_left(second)


def restored_records(home: Path) -> int:
    """The records of raw/ the start rebuilt the tables from (its log line)."""
    log = (home / "logs" / "local.log").read_text(encoding="utf-8")
    lines = [line for line in log.splitlines() if "tweetlake_local.journal restored: " in line]
    assert len(lines) == 1, lines
    return int(lines[0].split("restored: ")[1].split(" ")[0])


def wait_closed(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        assert time.monotonic() < deadline, f"port {port} still served after the run died"
        time.sleep(0.1)


def kill_leftovers(aws_port: int) -> None:
    """A SIGKILLed run cannot stop its API child; end it (whose environment names the
    dead run's moto server), so this test's ports and processes are its own."""
    for entry in processes_with_environment(f"AWS_ENDPOINT_URL=http://127.0.0.1:{aws_port}"):
        pid = int(entry.split(":", 1)[0])
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 10
    while processes_with_environment(f"AWS_ENDPOINT_URL=http://127.0.0.1:{aws_port}"):
        assert time.monotonic() < deadline, "the killed run's API child did not end"
        time.sleep(0.1)
