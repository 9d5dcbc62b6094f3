"""A batch compliance job round trip: loopback X server → delete envelopes → Kinesis
(moto server) → the consumer → the tweets X reports are tombstones in DynamoDB.

The scheduled run (:func:`run_compliance`) and the local command
(``python -m tweetlake_local compliance``) are tested end to end: stored tweets, some
withdrawn on "X", are gone from the API (404) once the consumer has read the stream,
and the rotation's state is in the state table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from app import app
from chalicelib.aws import client
from chalicelib.compliance.handler import ComplianceDeps, run_compliance
from chalicelib.compliance.jobs import ComplianceJobError, ComplianceJobs, check_tweets
from chalicelib.compliance.rotation import IN_FLIGHT_SK, ROTATION_PK, Rotation, run_rotation
from chalicelib.compliance.settings import ComplianceSettings
from chalicelib.ingest.producer import KinesisProducer
from chalicelib.ingest.sources.credentials import Secret
from chalicelib.ingest.sources.v2_rest import V2Rest
from tests.conftest import AwsHarness
from tests.envelopes import tweet_envelope
from tests.integration.test_consumer import consume, event_of, scan
from tests.integration.test_ingest import scheduled_event
from tests.streams import read_stream
from tests.support import fake_twitter as ft
from tests.support.clock import ManualClock
from tests.support.fake_twitter import FakeTwitter
from tweetlake_local.cli import main

pytestmark = pytest.mark.integration

IDS = [str(1992360000000000000 + n) for n in (1, 2, 3)]


@pytest.fixture
def fake() -> Iterator[FakeTwitter]:
    with FakeTwitter() as server:
        yield server


def jobs_for(fake: FakeTwitter, clock: ManualClock) -> ComplianceJobs:
    rest = V2Rest(Secret(fake.bearer), base_url=fake.url)
    return ComplianceJobs(rest, sleep=clock.sleep, poll_s=30.0, max_polls=5)


def test_a_compliance_job_round_trip_leaves_deleted_tweets_gone(
    aws: AwsHarness, fake: FakeTwitter
) -> None:
    """GIVEN three stored tweets, X reporting the first deleted and the second's author
    suspended WHEN a job checks the three THEN two delete envelopes reach the stream,
    and once consumed those two are tombstones and the third is live."""
    s = aws.settings
    consume(event_of(s, [tweet_envelope(i, 70 + n) for n, i in enumerate(IDS)], start=1))
    fake.compliance = {IDS[0]: "deleted", IDS[1]: "suspended", "42": "scrub_geo"}
    clock = ManualClock()
    kinesis = client("kinesis", s.region)
    producer = KinesisProducer(kinesis, s.stream_name, linger_s=0)
    report = check_tweets(jobs_for(fake, clock), IDS, producer, name="rotation-test")
    assert report.summary()["reasons"] == {"deleted": 1, "suspended": 1}
    assert report.ids_checked == 3 and report.deletes_sent == 2
    assert report.status == "complete" and clock.slept == [30.0]  # one poll in progress
    (create,) = fake.calls(ft.V2_COMPLIANCE_JOBS)
    assert create.json() == {"type": "tweets", "name": "rotation-test"}
    upload = [r for r in fake.requests if r.method == "PUT"]
    assert upload[0].body == "\n".join(IDS).encode()
    assert "authorization" not in upload[0].headers  # a signed URL gets no bearer token
    envelopes = [json.loads(r.data) for r in read_stream(kinesis, s.stream_name)]
    assert sorted(e["tweet_id"] for e in envelopes) == IDS[:2]
    assert {e["kind"] for e in envelopes} == {"delete"}
    result = consume(event_of(s, envelopes, start=100))
    assert result["deleted"] == 2
    status = {i["tweet_id"]: i["status"] for i in scan(s)[s.tweets_table]}
    assert status == {IDS[0]: "deleted", IDS[1]: "deleted", IDS[2]: "live"}


def test_a_job_that_never_completes_raises_after_its_polls(fake: FakeTwitter) -> None:
    clock = ManualClock()
    jobs = jobs_for(fake, clock)
    job = jobs.create("never-uploaded")  # without ids the fake keeps it "created"
    with pytest.raises(ComplianceJobError, match="not complete after 5 polls"):
        jobs.wait(str(job["id"]))
    assert clock.slept == [30.0] * 4


def test_the_rotation_checks_recent_hours_daily_and_older_ones_weekly(
    aws: AwsHarness, fake: FakeTwitter
) -> None:
    """GIVEN tweets from 2 hours, 4 days and 14 days ago, one of them deleted on X
    WHEN the rotation runs THEN one job checks all three and the deleted one becomes a
    tombstone; run again at once, nothing is due; a day later only the hours younger
    than 7 days are due again (the 14-day-old one waits for its week)."""
    s = aws.settings
    now = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    ages = {IDS[0]: timedelta(hours=2), IDS[1]: timedelta(days=4), IDS[2]: timedelta(days=14)}
    tweets = [
        tweet_envelope(i, 70, created_at=(now - age).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for i, age in ages.items()
    ]
    consume(event_of(s, tweets, start=1))
    fake.compliance = {IDS[1]: "deleted"}
    clock = ManualClock()
    kinesis = client("kinesis", s.region)
    dynamodb = client("dynamodb", s.region)
    at = {"now": now}
    rotation = Rotation(
        dynamodb, s.tweets_table, s.state_table, horizon_days=30, now=lambda: at["now"]
    )
    jobs = jobs_for(fake, clock)
    checked: list[list[str]] = []

    def check(ids: list[str]) -> tuple[str, dict[str, object]]:
        checked.append(sorted(ids))
        producer = KinesisProducer(kinesis, s.stream_name, linger_s=0)
        report = check_tweets(jobs, ids, producer, name="rotation")
        return report.job_id, report.summary()

    first = run_rotation(rotation, check, max_ids=1000)
    assert first["ids_checked"] == 3 and first["hours_still_due"] == 0
    assert first["job"]["reasons"] == {"deleted": 1}
    envelopes = [json.loads(r.data) for r in read_stream(kinesis, s.stream_name)]
    consume(event_of(s, envelopes, start=100))
    assert run_rotation(rotation, check, max_ids=1000)["hours_checked"] == 0
    at["now"] = now + timedelta(days=1, hours=1)
    third = run_rotation(rotation, check, max_ids=1000)
    assert checked == [sorted(IDS), [IDS[0]]]  # 4-day-old one is a tombstone now
    # Hours < 7 days old that hold tweets: the live one and the tombstone's (now empty).
    assert third["hours_checked"] == 2 and third["ids_checked"] == 1


def test_a_rotation_behind_takes_whole_hours_oldest_debt_first_and_says_what_is_left(
    aws: AwsHarness,
) -> None:
    s = aws.settings
    now = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    stamps = [now - timedelta(hours=h) for h in (1, 1, 5)]
    tweets = [
        tweet_envelope(i, 70, created_at=t.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for i, t in zip(IDS, stamps, strict=True)
    ]
    consume(event_of(s, tweets, start=1))
    rotation = Rotation(
        client("dynamodb", s.region), s.tweets_table, s.state_table, horizon_days=1, now=lambda: now
    )
    batch = rotation.next_batch(max_ids=1)
    # Never-checked hours are equally overdue: oldest hour first, the 5-hour-old tweet's
    # fills the job; the next hour's two tweets wait (an hour is never split).
    assert batch.ids == [IDS[2]] and batch.due_after > 0
    rotation.mark_checked(batch.hours, "job-1")
    rest = rotation.next_batch(max_ids=1000)
    assert sorted(rest.ids) == sorted(IDS[:2]) and rest.due_after == 0


def store_tweets(aws: AwsHarness, now: datetime, ages: dict[str, timedelta]) -> None:
    tweets = [
        tweet_envelope(i, 70 + n, created_at=(now - age).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for n, (i, age) in enumerate(ages.items())
    ]
    consume(event_of(aws.settings, tweets, start=1))


def consume_the_stream(aws: AwsHarness) -> list[dict[str, object]]:
    """What the local mode's poller does: the stream's records into the consumer."""
    s = aws.settings
    envelopes = [
        json.loads(r.data) for r in read_stream(client("kinesis", s.region), s.stream_name)
    ]
    if envelopes:
        consume(event_of(s, envelopes, start=100))
    return envelopes


def api_status(tweet_ids: list[str]) -> dict[str, int]:
    with Client(app, stage_name="dev") as api:
        return {i: api.http.get(f"/tweets/{i}").status_code for i in tweet_ids}


def rotation_state(aws: AwsHarness) -> dict[str, dict[str, object]]:
    rows = scan(aws.settings)[aws.settings.state_table]
    return {str(r["sk"]): r for r in rows if r["pk"] == ROTATION_PK}


def run_deps(
    fake: FakeTwitter, clock: ManualClock, now: datetime, **extra: object
) -> ComplianceDeps:
    return ComplianceDeps(
        rest=V2Rest(Secret(fake.bearer), base_url=fake.url),
        options=ComplianceSettings(horizon_days=21, poll_s=30.0),
        clock=clock,
        sleep=clock.sleep,
        now=lambda: now,
        **extra,  # type: ignore[arg-type]
    )


FOUR = [*IDS, "1992360000000000004"]


def test_the_scheduled_run_withdraws_what_x_reports_and_records_the_rotation(
    aws: AwsHarness, fake: FakeTwitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN four stored tweets of a v2 stage, X reporting one deleted, one protected and
    one with its geo scrubbed WHEN the hourly run runs THEN one job checks the four, two
    deletes reach the stream, and once consumed those two are 404 on the API; every hour
    of the horizon is marked checked by that job; the EMF line says so with due_after 0."""
    monkeypatch.setenv("TWEETLAKE_SOURCE", "v2")
    now = datetime.now(UTC)
    ages = [timedelta(hours=2), timedelta(days=3), timedelta(days=20), timedelta(hours=1)]
    store_tweets(aws, now, dict(zip(FOUR, ages, strict=True)))
    fake.compliance = {FOUR[0]: "deleted", FOUR[2]: "protected", FOUR[3]: "scrub_geo"}
    metrics: list[str] = []
    clock = ManualClock()
    result = run_compliance(
        {}, None, run_deps(fake, clock, now, budget_s=120.0, metrics_sink=metrics.append)
    )
    assert (result["jobs_submitted"], result["jobs_collected"], result["ids_checked"]) == (1, 1, 4)
    assert result["deletes_sent"] == 2 and result["due_after"] == 0
    assert result["reasons"] == {"deleted": 1, "protected": 1}
    assert result["other_actions"] == {"scrub_geo": 1}
    assert result["in_flight"] is None and clock.slept == [30.0]
    (line,) = metrics
    emf = json.loads(line)
    assert (emf["due_after"], emf["ids_checked"], emf["deletes_sent"]) == (0, 4, 2)
    names = {m["Name"] for m in emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"due_after", "ids_checked", "deletes_sent"} <= names and emf["stage"] == "dev"

    assert {e["tweet_id"] for e in consume_the_stream(aws)} == {FOUR[0], FOUR[2]}
    assert api_status(FOUR) == {FOUR[0]: 404, FOUR[1]: 200, FOUR[2]: 404, FOUR[3]: 200}
    state = rotation_state(aws)
    (job_id,) = {str(r["job_id"]) for r in state.values()}
    assert IN_FLIGHT_SK not in state and fake.calls(f"{ft.V2_COMPLIANCE_JOBS}/{job_id}")
    assert len(state) == result["hours_checked"] == 4  # the hours holding tweets


def test_a_job_x_has_not_finished_is_collected_by_the_next_run_not_submitted_twice(
    aws: AwsHarness, fake: FakeTwitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN a run with no time to wait WHEN X has not finished its job THEN the job is
    recorded in flight (its hours not marked, not counted as due) and the next run
    collects it instead of creating another: X allows one job at a time."""
    monkeypatch.setenv("TWEETLAKE_SOURCE", "v2")
    now = datetime.now(UTC)
    store_tweets(aws, now, {IDS[0]: timedelta(hours=3)})
    fake.compliance = {IDS[0]: "suspended"}
    fake.job_polls_in_progress = 3  # X is slower than this run may wait (2 polls)
    clock = ManualClock()
    first = run_compliance({}, None, run_deps(fake, clock, now, budget_s=30.0))
    assert first["stopped_by"] == "job_running" and first["in_flight"]
    assert first["jobs_collected"] == 0 and first["due_after"] == 0
    assert clock.slept == [30.0]
    state = rotation_state(aws)
    assert set(state) == {IN_FLIGHT_SK} and state[IN_FLIGHT_SK]["job_id"] == first["in_flight"]
    assert consume_the_stream(aws) == []

    later = now + timedelta(minutes=60)
    second = run_compliance({}, None, run_deps(fake, clock, later, budget_s=120.0))
    assert second["jobs_collected"] == 1 and second["jobs_submitted"] == 0
    assert second["deletes_sent"] == 1 and second["in_flight"] is None
    creates = [r for r in fake.calls(ft.V2_COMPLIANCE_JOBS) if r.method == "POST"]
    assert len(creates) == 1
    assert IN_FLIGHT_SK not in rotation_state(aws)
    consume_the_stream(aws)
    assert api_status([IDS[0]]) == {IDS[0]: 404}


def test_a_stage_without_an_x_source_skips_the_run(aws: AwsHarness) -> None:
    """The dev stage's synthetic source has no X account: the scheduled function (invoked
    through Chalice, as Lambda would) checks nothing and asks for no credentials."""
    with Client(app, stage_name="dev") as lam:
        payload = lam.lambda_.invoke("compliance", scheduled_event()).payload
    assert payload == {"skipped": "source synthetic has no X account"}
    assert rotation_state(aws) == {}


def test_the_local_command_runs_one_step_against_the_loopback_x_server(
    aws: AwsHarness,
    fake: FakeTwitter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN a local mode's tables (moto) holding three tweets, one deleted on X WHEN
    ``python -m tweetlake_local compliance --api-url <loopback>`` runs THEN it reports one
    delete sent, and once the consumer has read the stream the tweet is 404."""
    now = datetime.now(UTC)
    store_tweets(aws, now, dict(zip(IDS, [timedelta(hours=h) for h in (1, 30, 200)], strict=True)))
    fake.compliance = {IDS[1]: "deleted"}
    monkeypatch.setenv("TWITTER_BEARER_TOKEN", fake.bearer)
    argv = ["compliance", "--aws-endpoint", aws.server.endpoint, "--api-url", fake.url]
    assert main([*argv, "--poll-s", "6", "--wait-s", "60"]) == 0
    out = capsys.readouterr().out
    assert "3 ids in 1 jobs; 1 deletes sent to tweetlake-dev-tweets; 0 hours still due" in out
    assert "withdrawn on X: 1 deleted" in out
    consume_the_stream(aws)
    assert api_status(IDS) == {IDS[0]: 200, IDS[1]: 404, IDS[2]: 200}
    assert len(rotation_state(aws)) == 3  # each hour holding a tweet, checked


def test_the_local_command_without_a_token_says_what_to_set(
    aws: AwsHarness,
    fake: FakeTwitter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("TWITTER_BEARER_TOKEN", raising=False)
    monkeypatch.delenv("TWEETLAKE_TWITTER_SECRET", raising=False)
    argv = ["compliance", "--aws-endpoint", aws.server.endpoint, "--api-url", fake.url]
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert "TWITTER_BEARER_TOKEN" in out and "synthetic source has no X account" in out
    assert fake.requests == []


def test_a_job_x_never_finishes_is_given_up_and_its_hours_stay_due(
    aws: AwsHarness, fake: FakeTwitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWEETLAKE_SOURCE", "v2")
    now = datetime.now(UTC)
    store_tweets(aws, now, {IDS[0]: timedelta(hours=3)})
    fake.job_polls_in_progress = 10**6
    clock = ManualClock()
    first = run_compliance({}, None, run_deps(fake, clock, now, budget_s=30.0))
    assert first["in_flight"]
    stale = run_compliance({}, None, run_deps(fake, clock, now + timedelta(hours=7), budget_s=0))
    assert stale["jobs_abandoned"] == 1 and stale["in_flight"] is None
    assert stale["stopped_by"] == "job_abandoned"
    assert stale["due_after"] > 0 and stale["hours_checked"] == 0  # due again, not lost
    assert rotation_state(aws) == {}


def test_a_job_x_fails_leaves_its_hours_due_and_sends_nothing(
    aws: AwsHarness, fake: FakeTwitter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN X answering the job's status with ``failed`` WHEN the run collects it THEN
    nothing reaches the stream, the job is released, and its hours stay due."""
    monkeypatch.setenv("TWEETLAKE_SOURCE", "v2")
    now = datetime.now(UTC)
    store_tweets(aws, now, {IDS[0]: timedelta(hours=3)})
    fake.compliance = {IDS[0]: "deleted"}
    first_job = "1372966999991541762"  # the fake numbers its jobs from X's example id
    failed = {"data": {"id": first_job, "type": "tweets", "status": "failed"}}
    fake.fail_next(f"{ft.V2_COMPLIANCE_JOBS}/{first_job}", ft.status(200, failed))
    result = run_compliance({}, None, run_deps(fake, ManualClock(), now, budget_s=30.0))
    assert result["jobs_failed"] == 1 and result["jobs_collected"] == 0
    assert result["deletes_sent"] == 0 and result["due_after"] == 1
    assert result["stopped_by"] == "job_failed" and result["jobs_submitted"] == 1
    assert rotation_state(aws) == {} and consume_the_stream(aws) == []


def test_the_rotation_never_sends_bluesky_ids_to_x(aws: AwsHarness) -> None:
    """GIVEN an X tweet and a Bluesky post in one hour THEN the hour's ids for X's
    compliance job are the X one only (Bluesky deletes arrive on Jetstream itself)."""
    from chalicelib.envelope.normalize import normalize_line
    from tests.support import bluesky as bs

    s = aws.settings
    created = "2026-11-24T06:10:00.000Z"
    time_us = int(datetime(2026, 11, 24, 6, 10, tzinfo=UTC).timestamp()) * 1_000_000
    frame = bs.commit(
        bs.did(1), time_us, "create", bs.tid(time_us), record=bs.post_record("湖", created)
    )
    [post] = normalize_line(json.dumps(frame))
    assert post.envelope is not None
    consume(event_of(s, [tweet_envelope(IDS[0], 70, created_at=created), post.envelope]))
    rotation = Rotation(client("dynamodb", s.region), s.tweets_table, s.state_table)
    assert list(rotation.ids_of("2026-11-24T06")) == [IDS[0]]
