"""The local mode's parts that need no server: context, schedule, counters, source choice."""

from __future__ import annotations

import argparse
import gzip
import threading
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import ConfigError
from chalicelib.ingest.sources.credentials import CredentialRejectedError
from tests.paths import OWN_TWITTER
from tests.support.clock import ManualClock
from tweetlake_local.cli import build_parser
from tweetlake_local.pipeline import (
    ConsumerTap,
    CountingKinesis,
    IngestTotals,
    LocalContext,
    Scheduler,
    Snapshot,
    is_fatal,
    scheduled_event,
)
from tweetlake_local.run import LocalConfigError, choose_source
from tweetlake_local.status import summary_lines


def test_context_counts_down_and_drops_to_zero_on_stop() -> None:
    """GIVEN a 57 s timeout WHEN time passes THEN the remaining time falls with it,
    and a stop request makes it 0 at once (the ingest run then flushes)."""
    clock, stopping = ManualClock(100.0), threading.Event()
    context = LocalContext("tweetlake-dev-ingest", "us-east-1", 57.0, stopping, clock=clock)
    assert context.get_remaining_time_in_millis() == 57_000
    clock.now += 20.5
    assert context.get_remaining_time_in_millis() == 36_500
    clock.now += 100
    assert context.get_remaining_time_in_millis() == 0
    assert context.invoked_function_arn.endswith(":function:tweetlake-dev-ingest")
    unbounded = LocalContext("f", "us-east-1", None, stopping, clock=clock)
    assert unbounded.get_remaining_time_in_millis() > 10 * 60 * 1000
    stopping.set()
    assert unbounded.get_remaining_time_in_millis() == 0


def test_scheduled_event_has_every_eventbridge_field() -> None:
    event = scheduled_event("eu-west-1", "tweetlake-dev-ingest-schedule")
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"][0].startswith("arn:aws:events:eu-west-1:")


def run_scheduler(scheduler: Scheduler, timeout_s: float = 10) -> None:
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    thread.join(timeout_s)
    assert not thread.is_alive()


def test_bounded_scheduler_invokes_once_without_timeout() -> None:
    contexts: list[LocalContext] = []

    def invoke(event: dict[str, Any], context: LocalContext) -> dict[str, Any]:
        contexts.append(context)
        return {"received": 9, "sent": 6, "control": 2, "quarantined": 1}

    totals = IngestTotals()
    scheduler = Scheduler(
        invoke,
        region="us-east-1",
        stage="dev",
        interval_s=0.01,
        timeout_s=None,
        totals=totals,
        runs=1,
    )
    run_scheduler(scheduler)
    assert len(contexts) == 1
    assert contexts[0].get_remaining_time_in_millis() > 60_000
    assert (totals.runs, totals.received, totals.sent, totals.control, totals.quarantined) == (
        1,
        9,
        6,
        2,
        1,
    )
    assert scheduler.finished.is_set() and scheduler.fatal is None


def test_scheduler_runs_on_a_fixed_rate_and_skips_ticks_missed_by_a_long_run() -> None:
    """GIVEN a 10 s rate and a first run that takes 35 s WHEN it runs THEN the next
    run starts at the next tick on the rate (40 s), not at once three times, and the
    one after that a tick later (50 s). Each run's context counts down its 9.5 s
    timeout on the schedule's clock."""
    clock = ManualClock(0.0)
    starts: list[float] = []
    remaining: list[int] = []

    def invoke(event: dict[str, Any], context: LocalContext) -> dict[str, Any]:
        starts.append(clock.now)
        remaining.append(context.get_remaining_time_in_millis())
        if len(starts) == 1:
            clock.now += 35.0  # the run itself takes 35 s
        if len(starts) == 3:
            scheduler.stop()
        return {}

    scheduler = Scheduler(
        invoke, region="us-east-1", stage="dev", interval_s=10.0, timeout_s=9.5,
        totals=IngestTotals(), clock=clock, wait=clock.wait,
    )  # fmt: skip
    run_scheduler(scheduler)
    assert starts == [0.0, 40.0, 50.0]
    assert clock.slept[:2] == [5.0, 10.0]  # the pauses before runs 2 and 3
    assert remaining == [9_500, 9_500, 9_500]
    assert scheduler.totals.runs == 3


def test_stop_ends_the_wait_for_the_next_tick_at_once() -> None:
    """GIVEN the real clock and an hour to the next tick WHEN stop() comes after a run
    THEN the schedule ends without waiting for the tick (the default wait is on stop)."""
    ran = threading.Event()

    def invoke(event: dict[str, Any], context: LocalContext) -> dict[str, Any]:
        ran.set()
        return {}

    scheduler = Scheduler(
        invoke, region="us-east-1", stage="dev", interval_s=3600.0, timeout_s=3420.0,
        totals=IngestTotals(),
    )  # fmt: skip
    thread = threading.Thread(target=scheduler.run)
    thread.start()
    assert ran.wait(10)
    scheduler.stop()
    thread.join(10)
    assert not thread.is_alive() and scheduler.finished.is_set()
    assert scheduler.totals.runs == 1


def test_a_transient_failure_waits_for_the_next_tick_a_refusal_ends_the_schedule() -> None:
    clock = ManualClock(0.0)
    starts: list[float] = []

    def flaky(event: dict[str, Any], context: LocalContext) -> dict[str, Any]:
        starts.append(clock.now)
        if len(starts) == 1:
            raise RuntimeError("kinesis unreachable")
        scheduler.stop()
        return {"sent": 1}

    scheduler = Scheduler(
        flaky, region="us-east-1", stage="dev", interval_s=60.0, timeout_s=57.0,
        totals=IngestTotals(), clock=clock, wait=clock.wait,
    )  # fmt: skip
    run_scheduler(scheduler)
    assert starts == [0.0, 60.0]  # the retry is the next tick, not an immediate rerun
    assert scheduler.fatal is None and scheduler.totals.sent == 1

    def refused(event: dict[str, Any], context: LocalContext) -> dict[str, Any]:
        raise CredentialRejectedError("bearer token (TWITTER_BEARER_TOKEN)", 401)

    clock = ManualClock(0.0)
    scheduler = Scheduler(
        refused, region="us-east-1", stage="dev", interval_s=60.0, timeout_s=57.0,
        totals=IngestTotals(), clock=clock, wait=clock.wait,
    )  # fmt: skip
    run_scheduler(scheduler)
    assert isinstance(scheduler.fatal, CredentialRejectedError)
    assert clock.slept == []  # no next tick after a refusal
    assert "HTTP 401" in (scheduler.totals.last_error or "")


def test_fatal_errors_are_settings_and_refusals() -> None:
    assert is_fatal(ConfigError("TWEETLAKE_X", "is bad", "fix it"))
    assert is_fatal(CredentialRejectedError("bearer token", 403))
    assert not is_fatal(RuntimeError("throttled"))


def test_consumer_tap_sums_batch_counts_and_routes_the_log_line() -> None:
    logged: list[str] = []

    def handler(event: dict[str, Any], *, sink: Any = print) -> dict[str, int]:
        sink("one EMF line")
        n = len(event["Records"])
        return {"records": n, "stored": n - 1, "quarantined": 1, "duration_ms": 7}

    tap = ConsumerTap(handler, logged.append)
    tap({"Records": [1, 2, 3]})
    tap({"Records": [1, 2]})
    assert (tap.stored, tap.quarantined, tap.batches) == (3, 2, 2)
    assert "duration_ms" not in tap.counts
    assert logged == ["one EMF line", "one EMF line"]

    def failing(event: dict[str, Any], sink: Any) -> dict[str, int]:
        raise RuntimeError("dynamodb down")

    tap = ConsumerTap(failing, logged.append)
    with pytest.raises(RuntimeError):
        tap({"Records": []})
    assert tap.failures == 1 and tap.batches == 0


def test_counting_kinesis_counts_only_accepted_records() -> None:
    class Stream:
        def put_records(self, **kwargs: Any) -> dict[str, Any]:
            return {"FailedRecordCount": 1, "Records": []}

        def describe_stream(self, **kwargs: Any) -> str:
            return "described"

    sent: list[int] = []
    client = CountingKinesis(Stream(), sent.append)
    client.put_records(StreamName="s", Records=[{}, {}, {}])
    assert sent == [2]
    assert client.describe_stream(StreamName="s") == "described"


# --- choosing the source --------------------------------------------------------------


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *argv])


def test_synthetic_by_default_and_bounded_by_tweets() -> None:
    plan = choose_source(args(), {})
    assert plan.source == "synthetic" and not plan.bounded_source
    assert plan.env == {"TWEETLAKE_SOURCE": "synthetic"}
    plan = choose_source(args("--tweets", "200", "--until-drained", "--seed", "7"), {})
    assert plan.bounded_source
    assert plan.env["TWEETLAKE_SYNTHETIC_LIMIT"] == "200"
    assert plan.env["TWEETLAKE_SYNTHETIC_RATE"] == "0"  # a bounded load is unpaced
    assert plan.env["TWEETLAKE_SYNTHETIC_SEED"] == "7"


def test_bluesky_needs_no_credentials_and_checks_its_settings() -> None:
    plan = choose_source(args("--source", "bluesky"), {})
    assert plan.source == "bluesky" and not plan.bounded_source
    assert plan.env == {"TWEETLAKE_SOURCE": "bluesky"}
    assert plan.source_text == "live Bluesky Jetstream (4 instances)"
    with pytest.raises(LocalConfigError, match="TWEETLAKE_JETSTREAM_URLS"):
        choose_source(args("--source", "bluesky"), {"TWEETLAKE_JETSTREAM_URLS": "http://x/"})
    with pytest.raises(LocalConfigError, match="TWEETLAKE_JETSTREAM_DIDS"):
        choose_source(args("--source", "bluesky"), {"TWEETLAKE_JETSTREAM_DIDS": "alice"})


def test_until_drained_needs_an_end() -> None:
    with pytest.raises(LocalConfigError, match="--tweets N"):
        choose_source(args("--until-drained"), {})
    assert choose_source(args("--until-drained", "--duration", "5"), {}).source == "synthetic"


def test_replay_file_is_checked_before_anything_starts(tmp_path: Path) -> None:
    fixture = OWN_TWITTER / "v2_stream.jsonl"
    plan = choose_source(args("--replay", str(fixture)), {})
    assert plan.source == "replay" and plan.bounded_source
    assert plan.env["TWEETLAKE_REPLAY_URI"] == str(fixture.resolve())
    with pytest.raises(LocalConfigError, match="No such file or directory"):
        choose_source(args("--replay", str(tmp_path / "missing.jsonl")), {})
    with pytest.raises(LocalConfigError, match="Is a directory"):
        choose_source(args("--replay", str(tmp_path)), {})
    not_gzip = tmp_path / "lines.jsonl.gz"
    not_gzip.write_bytes(b'{"id": 1}\n')
    with pytest.raises(LocalConfigError, match="cannot read the replay file"):
        choose_source(args("--replay", str(not_gzip)), {})
    good = tmp_path / "good.jsonl.gz"
    good.write_bytes(gzip.compress(fixture.read_bytes()))
    assert choose_source(args("--replay", str(good)), {}).source == "replay"


def test_credentials_pick_the_live_source() -> None:
    assert choose_source(args(), {"TWITTER_BEARER_TOKEN": "t"}).source == "v2"
    oauth1 = {
        "TWITTER_CONSUMER_KEY": "a",
        "TWITTER_CONSUMER_SECRET": "b",
        "TWITTER_ACCESS_TOKEN": "c",
        "TWITTER_ACCESS_TOKEN_SECRET": "d",
    }
    assert choose_source(args(), oauth1).source == "v1.1"
    # Credentials present, but synthetic asked for: synthetic.
    assert choose_source(args("--source", "synthetic"), oauth1).source == "synthetic"
    with pytest.raises(LocalConfigError, match="set all four"):
        choose_source(args(), {"TWITTER_CONSUMER_KEY": "a"})
    with pytest.raises(LocalConfigError, match="needs TWITTER_BEARER_TOKEN"):
        choose_source(args("--source", "v2"), {})
    with pytest.raises(LocalConfigError, match="--tweets limits the synthetic source"):
        choose_source(args("--tweets", "5"), {"TWITTER_BEARER_TOKEN": "t"})
    with pytest.raises(LocalConfigError, match="needs a source with an end"):
        choose_source(args("--until-drained"), {"TWITTER_BEARER_TOKEN": "t"})


def test_a_run_that_fails_after_sending_still_counts() -> None:
    """GIVEN an ingest run whose source broke after 998 lines went out (a cut .gz)
    THEN the totals hold its counts, not zeros, and the error is kept whole."""
    clock = ManualClock(0.0)

    def cut(event: dict[str, Any], context: LocalContext) -> dict[str, Any]:
        scheduler.stop()
        error = EOFError("Compressed file ended before the end-of-stream marker was reached")
        error.run_summary = {"received": 998, "sent": 998, "control": 0}  # type: ignore[attr-defined]
        raise error

    scheduler = Scheduler(
        cut, region="us-east-1", stage="dev", interval_s=60.0, timeout_s=57.0,
        totals=IngestTotals(), clock=clock, wait=clock.wait,
    )  # fmt: skip
    run_scheduler(scheduler)
    assert (scheduler.totals.received, scheduler.totals.sent) == (998, 998)
    assert "end-of-stream marker" in (scheduler.totals.last_error or "")


def snapshot(**overrides: Any) -> Snapshot:
    fields: dict[str, Any] = dict(
        ingest_runs=1, ingest_running=False, read=13, sent=3, control=10, quarantined=0,
        stored=0, deletes=3, control_types={"keep_alive": 6, "limit": 3, "warning": 1},
        consumer_counts={}, consumer_records=3, lag_records=0, lag_ms=0, raw_files=1,
        curated_files=0, error_files=0, last_error=None,
    )  # fmt: skip
    fields.update(overrides)
    return Snapshot(**fields)


def test_summary_names_keep_alives_apart_and_prints_every_line() -> None:
    """GIVEN a file of 6 keep-alives, 4 notices and 3 deletes (no stream tweets) THEN every
    line is printed, zeros included, keep-alives apart from notices, deletes named, and
    a note says how stored relates to the API."""
    lines = summary_lines(snapshot(), {"raw": 1}, 1.0)
    pairs = dict(line.split(": ", 1) for line in lines)
    assert pairs["delete notices sent"] == "3"
    assert (pairs["keep-alives"], pairs["notices"]) == ("6", "4")
    assert pairs["notice types"] == "limit 3, warning 1"
    assert (pairs["duplicates"], pairs["deleted"], pairs["suppressed"]) == ("0", "0", "0")
    assert "a tweet stored then deleted counts in stored and in deleted" in pairs["note"]
    quiet = dict(
        x.split(": ", 1) for x in summary_lines(snapshot(control_types={}, control=0), {}, 0)
    )
    assert quiet["notice types"] == "none"


@pytest.mark.parametrize(
    ("argv", "flag", "says"),
    [
        (["--api-port", "70000"], "--api-port", "is not a port"),
        (["--aws-port", "-1"], "--aws-port", "below 0"),
        (["--tweets", "0"], "--tweets", "below 1"),
        (["--tweets", "-5"], "--tweets", "below 1"),
        (["--tweets", "many"], "--tweets", "not a whole number"),
        (["--duration", "-1"], "--duration", "at least 0"),
        (["--duration", "nan"], "--duration", "out of range"),
        (["--schedule", "1"], "--schedule", "more than 1"),
        (["--rate", "-2"], "--rate", "at least 0"),
        (["--flush-seconds", "901"], "--flush-seconds", "at most 900"),
        (["--poll-interval", "0"], "--poll-interval", "more than 0"),
        (["--status-every", "0"], "--status-every", "more than 0"),
    ],
)
def test_a_bad_flag_is_one_line_naming_it_and_exit_2(
    argv: list[str], flag: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        args(*argv)
    assert stop.value.code == 2
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.splitlines()
    assert line.startswith(f"error: argument {flag}: ") and says in line, line


def test_good_flags_parse_to_numbers() -> None:
    parsed = args("--api-port", "0", "--aws-port", "65535", "--tweets", "1", "--duration", "0")
    assert (parsed.api_port, parsed.aws_port, parsed.tweets, parsed.duration) == (0, 65535, 1, 0)
