"""End to end: the loopback X server → live source → ingest run → Kinesis (moto server).

For each misbehaviour the platform documents, a whole ``run_ingest`` runs
against the loopback server and the emulated account: every complete line
the server sent reaches Kinesis exactly once (read back with GetRecords on
every shard), the reconnect waits follow the schedule (a :class:`ScriptClock`
records them instead of sleeping), the summary counts reconnects, and the run
ends before its deadline. The catch-up asks recent search for exactly the gap
since the stored checkpoint.

The run's clock (the Lambda context's and the source's) moves only by those
waits until the client has read the server's whole script, then reads the
deadline: the run stops reading at its deadline right after the last line,
however long the reads and the Kinesis calls took on a busy machine.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.aws import client
from chalicelib.ingest.checkpoint import Checkpoint
from chalicelib.ingest.handler import IngestDeps, run_ingest
from chalicelib.ingest.sources.catchup import RETWEETS_NOT_RECOVERABLE, TWITTER_EPOCH_MS
from chalicelib.ingest.sources.credentials import CredentialRejectedError, Secret
from chalicelib.ingest.sources.v2_stream import V2StreamSource
from tests.conftest import AwsHarness
from tests.paths import own_lines
from tests.streams import read_stream
from tests.support import fake_twitter as ft
from tests.support.clock import ScriptClock
from tests.support.fake_twitter import FakeTwitter

pytestmark = pytest.mark.integration

# The run reads the real clock (the catch-up refuses a checkpoint older than recent
# search's 7 days), so the tweets are an hour old whatever the date.
CREATED = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
BASE = (int(CREATED.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22
# The safety margin: the run stops reading this long before its timeout, to flush and
# checkpoint (on the script clock, which stands still while it does).
MARGIN_S = 1.0
EVENT = {"id": "test-run", "detail-type": "Scheduled Event", "source": "aws.events"}


def tweet_line(n: int) -> bytes:
    tweet = {
        "data": {
            "id": str(BASE + n),
            "text": f"lakes {n}",
            "author_id": str(100 + n % 3),
            "created_at": CREATED.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        },
        "includes": {"users": [{"id": str(100 + n % 3), "username": f"u{n % 3}"}]},
        "matching_rules": [{"id": "1", "tag": "lakes"}],
    }
    return json.dumps(tweet, separators=(",", ":")).encode()


class FakeContext:
    """The Lambda context's clock, on the same ScriptClock the source waits on: the run
    times out the safety margin after the deadline the source stops reading at."""

    aws_request_id = "test-run"

    def __init__(self, clock: ScriptClock) -> None:
        self.clock = clock
        self.end = clock.deadline + MARGIN_S

    def get_remaining_time_in_millis(self) -> int:
        return int((self.end - self.clock.now()) * 1000)


@pytest.fixture
def fake() -> Iterator[FakeTwitter]:
    """The loopback server, ending its streams once it has served every script."""
    with FakeTwitter(end_when_served=True) as server:
        yield server


@pytest.fixture
def live_env(aws: AwsHarness, fake: FakeTwitter, monkeypatch: pytest.MonkeyPatch) -> AwsHarness:
    for key, value in {
        "TWEETLAKE_SOURCE": "v2",
        "TWITTER_BEARER_TOKEN": fake.bearer,
        "TWITTER_CONSUMER_KEY": fake.consumer_key,
        "TWITTER_CONSUMER_SECRET": "cs",
        "TWITTER_ACCESS_TOKEN": "at",
        "TWITTER_ACCESS_TOKEN_SECRET": "ats",
        "TWEETLAKE_TWITTER_API_URL": fake.url,
        "TWEETLAKE_TWITTER_STREAM_URL": fake.url,
        "TWEETLAKE_V2_RULES": '[{"value": "lakes", "tag": "lakes"}]',
        "TWEETLAKE_V1_TRACK": "lakes",
        "TWEETLAKE_CATCHUP_DELAY_S": "0",
        "TWEETLAKE_SAFETY_MARGIN_S": str(MARGIN_S),
        "TWEETLAKE_PRODUCER_LINGER_S": "0",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TWEETLAKE_TWITTER_SECRET", raising=False)
    return aws


def run(clock: ScriptClock, source: Any = None) -> tuple[dict[str, Any], FakeContext]:
    context = FakeContext(clock)
    deps = IngestDeps(clock=clock.now, sleep=clock.sleep, source=source)
    summary = run_ingest(EVENT, context, deps)
    return summary, context


def kinesis_ids(aws: AwsHarness) -> Counter[int]:
    records = read_stream(client("kinesis", aws.settings.region), aws.settings.stream_name)
    return Counter(int(json.loads(r.data)["tweet_id"]) - BASE for r in records)


def exactly_once(*ns: int) -> Counter[int]:
    return Counter(dict.fromkeys(ns, 1))


CASES = {
    "drop mid-line": (
        [
            [ft.lines(tweet_line(1), tweet_line(2)), ft.drop(tweet_line(3)[:30])],
            [ft.lines(tweet_line(4))],
        ],
        [1, 2, 4],
        [0.25],
    ),
    "503 twice": ([[ft.status(503)], [ft.status(503)], [ft.lines(tweet_line(1))]], [1], [5, 10]),
    "429": ([[ft.status(429)], [ft.lines(tweet_line(1), tweet_line(2))]], [1, 2], [60]),
    "operational-disconnect": (
        [[ft.lines(tweet_line(1)), ft.operational_disconnect()], [ft.lines(tweet_line(2))]],
        [1, 2],
        [0.25],
    ),
    "v2 error line and keep-alives": (
        [
            [
                ft.keepalive(3),
                ft.lines(tweet_line(1), {"errors": [{"title": "Not Authorized", "detail": "x"}]}),
                ft.lines(tweet_line(2)),
            ]
        ],
        [1, 2],
        [],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_misbehaving_v2_stream_every_line_reaches_kinesis_once(
    live_env: AwsHarness, fake: FakeTwitter, case: str
) -> None:
    scripts, expected, waits = CASES[case]
    for script in scripts:
        fake.script(ft.V2_FILTER, *script)
    clock = ScriptClock(fake, waits_s=sum(waits))
    summary, context = run(clock)
    assert kinesis_ids(live_env) == exactly_once(*expected)
    assert clock.slept == waits
    assert summary["reconnects"] == len(waits) == len(summary["source"]["waits_s"])
    assert summary["sent"] == len(expected)
    assert summary["stopped_by"] == "deadline"
    assert clock.now() < context.end  # the run ended before the Lambda's timeout
    assert summary["checkpoint"] == str(BASE + max(expected))


def test_v2_control_lines_are_counted_not_sent(live_env: AwsHarness, fake: FakeTwitter) -> None:
    fake.script(
        ft.V2_FILTER,
        ft.keepalive(2),
        ft.lines(tweet_line(1), {"errors": [{"title": "Not Authorized"}]}),
        ft.operational_disconnect(),
    )
    fake.script(ft.V2_FILTER, ft.lines(tweet_line(2)))
    summary, _ = run(ScriptClock(fake, waits_s=0.25))
    assert summary["control_types"] == {
        "keep_alive": 2,
        "errors": 1,
        "operational_disconnect": 1,
    }
    assert summary["source"]["failures"] == {"operational_disconnect": 1}


def test_a_stall_reconnects_and_loses_nothing(live_env: AwsHarness, fake: FakeTwitter) -> None:
    """The stall window is injected (0.4 s instead of 20 s) so the test does not wait 20 s.
    The only silence it can see is the scripted one: what a script sends before a
    silence reaches the client in one write, and the end of the script with its FIN."""
    fake.script(ft.V2_FILTER, ft.lines(tweet_line(1), tweet_line(2)), ft.stall(10))
    fake.script(ft.V2_FILTER, ft.lines(tweet_line(3)), ft.keepalive())
    clock = ScriptClock(fake, waits_s=0.25)
    source = V2StreamSource(
        Secret(fake.bearer),
        api_url=fake.url,
        rules=None,
        catch_up_pages=0,
        stall_s=0.4,
        deadline=clock.deadline,
        clock=clock.now,
        sleep=clock.sleep,
    )
    summary, context = run(clock, source=source)
    assert kinesis_ids(live_env) == exactly_once(1, 2, 3)
    assert clock.slept == [0.25] and summary["source"]["failures"] == {"stall": 1}
    assert summary["reconnects"] == 1
    assert summary["stopped_by"] == "deadline"
    assert clock.now() < context.end


def test_refused_credentials_keep_what_was_read_then_fail(
    live_env: AwsHarness, fake: FakeTwitter
) -> None:
    fake.script(ft.V2_FILTER, ft.lines(tweet_line(1), tweet_line(2)), ft.drop(b""))
    fake.script(ft.V2_FILTER, ft.status(401))
    clock = ScriptClock(fake, waits_s=0.25)
    with pytest.raises(CredentialRejectedError, match="TWITTER_BEARER_TOKEN") as err:
        run(clock)
    assert fake.bearer not in str(err.value)
    assert kinesis_ids(live_env) == exactly_once(1, 2)
    state = Checkpoint(client("dynamodb", live_env.settings.region), live_env.settings.state_table)
    assert state.read() == BASE + 2
    assert clock.slept == [0.25]  # no wait after the 401


def test_v1_control_messages_and_420(
    live_env: AwsHarness, fake: FakeTwitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWEETLAKE_SOURCE", "v1.1")
    statuses = own_lines("v1_statuses.jsonl")[:2]
    control = [line for line in own_lines("v1_control.jsonl") if line.strip()]
    fake.script(ft.V1_FILTER, ft.status(420, {"errors": [{"message": "Enhance Your Calm"}]}))
    fake.script(ft.V1_FILTER, ft.lines(*statuses, *control), ft.end())
    fake.script(ft.V1_FILTER, ft.keepalive())
    clock = ScriptClock(fake, waits_s=60.25)
    summary, context = run(clock)
    records = read_stream(
        client("kinesis", live_env.settings.region), live_env.settings.stream_name
    )
    kinds = Counter(json.loads(r.data)["kind"] for r in records)
    # Two statuses (the same tweet in two renderings) and two delete notices.
    assert kinds == {"tweet": 2, "delete": 2}
    assert clock.slept == [60, 0.25]
    assert summary["reconnects"] == 2
    assert summary["control_types"]["limit"] == 1 and summary["control_types"]["disconnect"] == 1
    assert clock.now() < context.end
    assert all(json.loads(r.data)["source_api"] == "v1.1" for r in records)


def test_catch_up_reads_exactly_the_gap_since_the_checkpoint(
    live_env: AwsHarness, fake: FakeTwitter
) -> None:
    """GIVEN a checkpoint at tweet 10 and tweets 5..14 searchable WHEN a run starts
    THEN search is asked for since_id=tweet 10, 11..14 reach Kinesis once, the
    stream's tweets too, and the checkpoint moves to the newest id delivered."""
    state = Checkpoint(client("dynamodb", live_env.settings.region), live_env.settings.state_table)
    state.advance(BASE + 10, source="v2", sent=1)
    for n in range(5, 15):
        fake.add_tweet(BASE + n, f"lakes {n}")
    fake.script(ft.V2_FILTER, ft.lines(tweet_line(20), tweet_line(21)))
    summary, _ = run(ScriptClock(fake))
    (search,) = fake.calls(ft.V2_SEARCH)
    assert search.param("since_id") == str(BASE + 10)
    assert search.param("query") == "lakes"
    assert kinesis_ids(live_env) == exactly_once(11, 12, 13, 14, 20, 21)
    report = summary["source"]["catch_up"]
    gap_s = report.pop("gap_s")
    assert report == {
        "status": "done",
        "since_id": str(BASE + 10),
        "pages": 1,
        "tweets": 4,
        "oldest_id": str(BASE + 11),
        "newest_id": str(BASE + 14),
        "rules_admitting_retweets": 1,
        "retweets": RETWEETS_NOT_RECOVERABLE,
    }
    assert 3000 < gap_s < 86400  # the checkpoint's tweet is an hour old
    assert state.read() == BASE + 21
    assert summary["source"]["rules"] == {"added": 1, "deleted": 0, "active": 1}


def test_the_post_budget_reached_mid_run_stops_reading_and_says_so(
    live_env: AwsHarness, fake: FakeTwitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN X counts 997 posts read this cycle and the budget is 1,000 WHEN the stream
    sends 6 tweets THEN the run reads 3, stops reading (stopped_by: budget), sends and
    checkpoints those 3, and emits the cycle's consumption for the 80 % alarm."""
    monkeypatch.setenv("TWEETLAKE_X_POST_BUDGET", "1000")
    fake.project_usage = 997
    fake.script(ft.V2_FILTER, ft.lines(*(tweet_line(n) for n in range(1, 7))))
    metrics: list[str] = []
    clock = ScriptClock(fake)
    deps = IngestDeps(clock=clock.now, sleep=clock.sleep, metrics_sink=metrics.append)
    summary = run_ingest(EVENT, FakeContext(clock), deps)
    assert summary["stopped_by"] == "budget"
    assert summary["budget"] == {
        "limit": 1000,
        "used_at_start": 997,
        "read_this_run": 3,
        "used": 1000,
        "usage_source": "x_usage_api",
    }
    assert kinesis_ids(live_env) == exactly_once(1, 2, 3)
    assert summary["checkpoint"] == str(BASE + 3)
    assert len(fake.calls(ft.V2_USAGE)) == 1
    (line,) = metrics
    document = json.loads(line)
    assert document["XPostsReadThisCycle"] == 1000 and document["x_post_budget"] == 1000
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "tweetlake"


def test_a_spent_budget_never_connects(live_env: AwsHarness, fake: FakeTwitter) -> None:
    fake.project_usage = fake.project_cap  # the default budget is the 3M cap
    fake.script(ft.V2_FILTER, ft.lines(tweet_line(1)))
    summary, _ = run(ScriptClock(fake))
    assert summary["stopped_by"] == "budget" and summary["received"] == 0
    assert fake.calls(ft.V2_FILTER) == []
    assert summary["budget"]["used"] == 3_000_000


def test_without_the_usage_endpoint_the_budget_counts_the_run_alone(
    live_env: AwsHarness, fake: FakeTwitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWEETLAKE_X_POST_BUDGET", "2")
    fake.fail_next(ft.V2_USAGE, ft.status(503))
    fake.script(ft.V2_FILTER, ft.lines(tweet_line(1), tweet_line(2), tweet_line(3)))
    summary, _ = run(ScriptClock(fake))
    assert summary["stopped_by"] == "budget"
    assert summary["budget"]["usage_source"] == "unavailable"
    assert kinesis_ids(live_env) == exactly_once(1, 2)
