"""A batch compliance job round trip: loopback X server → delete envelopes → Kinesis
(moto server) → the consumer → the tweets X reports are tombstones in DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.aws import client
from chalicelib.compliance.jobs import ComplianceJobError, ComplianceJobs, check_tweets
from chalicelib.compliance.rotation import Rotation, run_rotation
from chalicelib.ingest.producer import KinesisProducer
from chalicelib.ingest.sources.credentials import Secret
from chalicelib.ingest.sources.v2_rest import V2Rest
from tests.conftest import AwsHarness
from tests.envelopes import tweet_envelope
from tests.integration.test_consumer import consume, event_of, scan
from tests.streams import read_stream
from tests.support import fake_twitter as ft
from tests.support.clock import ManualClock
from tests.support.fake_twitter import FakeTwitter

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
    assert third["hours_checked"] == 7 * 24 and third["ids_checked"] == 1  # hours < 7 days old


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
    # Never-checked hours are equally overdue: oldest hour first; empty hours ride along
    # until the 5-hour-old tweet fills the job; its hour is never split.
    assert batch.ids == [IDS[2]] and batch.due_after > 0
    rotation.mark_checked(batch.hours, "job-1")
    rest = rotation.next_batch(max_ids=1000)
    assert sorted(rest.ids) == sorted(IDS[:2]) and rest.due_after == 0


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
