"""A batch compliance job round trip: loopback X server → delete envelopes → Kinesis
(moto server) → the consumer → the tweets X reports are tombstones in DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chalicelib.aws import client
from chalicelib.compliance.jobs import ComplianceJobError, ComplianceJobs, check_tweets
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
