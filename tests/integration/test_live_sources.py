"""The live sources against the loopback X server: framing, misbehaviour, waits, deadline.

Every test talks real HTTP to :class:`tests.support.fake_twitter.FakeTwitter`
on 127.0.0.1. Sleeps go to a :class:`ScriptClock` (instant, recorded), so the
documented waits (5 s, 60 s, 320 s) are checked without being waited. That
clock moves only by those waits, and reaches the run's deadline once the
client has read the server's whole script, so a run ends right after its
scripted connections are used up, however long the reads took. The deadline
tests drive the real socket timeouts from a clock the test sets once the
lines it expects have arrived.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.ingest.sources.catchup import TWITTER_EPOCH_MS
from chalicelib.ingest.sources.credentials import CredentialRejectedError, Secret
from chalicelib.ingest.sources.http_stream import StreamRequestError
from chalicelib.ingest.sources.rules import Rule, RuleRejectedError
from chalicelib.ingest.sources.v1_stream import V1StreamSource
from chalicelib.ingest.sources.v2_stream import V2_FIELDS, V2StreamSource
from tests.paths import own_lines, shared_fixture
from tests.support import fake_twitter as ft
from tests.support.clock import ManualClock, ScriptClock
from tests.support.fake_twitter import FakeTwitter

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 6, 30, tzinfo=UTC)


def snowflake(when: datetime, seq: int = 0) -> int:
    return (int(when.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22 | seq


def tweet(n: int) -> dict[str, Any]:
    return {
        "data": {"id": str(1992360000000000000 + n), "text": f"lakes {n}", "author_id": "7"},
        "includes": {"users": [{"id": "7", "username": "seven"}]},
        "matching_rules": [{"id": "1", "tag": "lakes"}],
    }


def raw(n: int) -> bytes:
    return json.dumps(tweet(n), separators=(",", ":")).encode()


@pytest.fixture
def fake() -> Iterator[FakeTwitter]:
    """The loopback server, ending its streams once it has served every script."""
    with FakeTwitter(end_when_served=True) as server:
        yield server


def v2(fake: FakeTwitter, clock: ScriptClock, **kwargs: Any) -> V2StreamSource:
    """A v2 source on ``clock``, with the clock's deadline and the production stall window."""
    options: dict[str, Any] = {
        "api_url": fake.url,
        "rules": [Rule("lakes", "lakes")],
        "catch_up_pages": 0,
        "now": lambda: NOW,
        **kwargs,
    }
    return V2StreamSource(
        Secret(fake.bearer),
        deadline=clock.deadline,
        clock=clock.now,
        sleep=clock.sleep,
        **options,
    )


def v1(fake: FakeTwitter, clock: ScriptClock) -> V1StreamSource:
    return V1StreamSource(
        Secret(fake.consumer_key),
        Secret("cs"),
        Secret("at"),
        Secret("ats"),
        stream_url=fake.url,
        track="lakes,rivers",
        deadline=clock.deadline,
        clock=clock.now,
        sleep=clock.sleep,
    )


def tweets_in(lines: list[bytes]) -> list[int]:
    data = [json.loads(x)["data"] for x in lines if x.startswith(b'{"data"')]
    return [int(d["id"]) - 1992360000000000000 for d in data]


# --- framing ---------------------------------------------------------------------------


def test_lines_arrive_raw_across_chunk_boundaries_with_keepalives(fake: FakeTwitter) -> None:
    """GIVEN lines split and joined across chunks WHEN read THEN each line once, verbatim."""
    fixture = [line.encode() for line in own_lines("v2_stream.jsonl")]
    blob = b"\r\n".join(fixture[:3]) + b"\r\n"
    fake.script(
        ft.V2_FILTER,
        ft.chunks(blob[:10], blob[10:500], blob[500:]),
        ft.keepalive(2),
        ft.chunks(raw(1)[:5], raw(1)[5:] + b"\r\n" + raw(2) + b"\r\n"),
    )
    clock = ScriptClock(fake)
    source = v2(fake, clock)
    got = list(source.lines())
    assert got == [*(line.rstrip(b"\r") for line in fixture[:3]), b"", b"", raw(1), raw(2)]
    assert source.reconnects == 0 and clock.slept == [] and source.failures == {}


def test_the_stream_request_asks_for_the_fields_the_envelope_needs(fake: FakeTwitter) -> None:
    list(v2(fake, ScriptClock(fake)).lines())
    (call,) = fake.calls(ft.V2_FILTER)
    assert call.headers["authorization"] == "Bearer test-bearer"
    assert {k: call.param(k) for k in V2_FIELDS} == V2_FIELDS
    assert "author_id" in call.param("expansions")  # type: ignore[operator]
    for needed in ("created_at", "lang", "entities", "referenced_tweets", "note_tweet"):
        assert needed in call.param("tweet.fields")  # type: ignore[operator]


# --- misbehaviour and the reconnect schedule ---------------------------------------------


def test_a_line_cut_mid_way_is_dropped_and_the_stream_resumes(fake: FakeTwitter) -> None:
    fake.script(ft.V2_FILTER, ft.lines(raw(1)), ft.drop(raw(2)[:20]))
    fake.script(ft.V2_FILTER, ft.lines(raw(3)))
    clock = ScriptClock(fake, waits_s=0.25)
    source = v2(fake, clock)
    assert tweets_in(list(source.lines())) == [1, 3]
    assert clock.slept == [0.25]
    assert source.reconnects == 1 and source.failures["network"] == 1


def test_silence_longer_than_the_stall_window_reconnects(fake: FakeTwitter) -> None:
    """The stall window is short (0.4 s): the only silence it can see is the scripted one,
    since what a script sends before a silence reaches the client in one write."""
    fake.script(ft.V2_FILTER, ft.lines(raw(1)), ft.stall(5))
    fake.script(ft.V2_FILTER, ft.lines(raw(2)))
    clock = ScriptClock(fake, waits_s=0.25)
    source = v2(fake, clock, stall_s=0.4)
    assert tweets_in(list(source.lines())) == [1, 2]
    assert source.failures == {"stall": 1} and clock.slept == [0.25]
    assert source.reconnects == 1


def test_the_stall_windows_are_20s_for_v2_and_90s_for_v1() -> None:
    assert V2StreamSource.stall_s == 20.0 and V1StreamSource.stall_s == 90.0


def test_http_errors_back_off_exponentially_from_5s(fake: FakeTwitter) -> None:
    for _ in range(3):
        fake.script(ft.V2_FILTER, ft.status(503))
    fake.script(ft.V2_FILTER, ft.lines(raw(1)))
    clock = ScriptClock(fake, waits_s=35)
    source = v2(fake, clock)
    assert tweets_in(list(source.lines())) == [1]
    assert clock.slept == [5, 10, 20]
    assert source.reconnects == 3


def test_429_backs_off_from_a_minute_and_honours_retry_after(fake: FakeTwitter) -> None:
    fake.script(ft.V2_FILTER, ft.status(429))
    fake.script(ft.V2_FILTER, ft.status(429, retry_after="300"))
    fake.script(ft.V2_FILTER, ft.lines(raw(1)))
    clock = ScriptClock(fake, waits_s=360)
    source = v2(fake, clock)
    assert tweets_in(list(source.lines())) == [1]
    assert clock.slept == [60, 300]


def test_the_fake_answers_too_many_connections_as_x_does() -> None:
    body = json.loads(shared_fixture("http_429_v2_stream_too_many_connections.json").read_text())
    assert body == ft.TOO_MANY_CONNECTIONS


def test_a_stale_connection_is_cleared_before_connecting(fake: FakeTwitter) -> None:
    """GIVEN X still counts an earlier run's connection (limit 1) WHEN a run starts
    THEN it lists, clears it, and its first connection is accepted: no 429, no wait."""
    fake.stream_limit = 1
    fake.add_stale_connection()
    fake.script(ft.V2_FILTER, ft.lines(raw(1)))
    clock = ScriptClock(fake)
    source = v2(fake, clock)
    assert tweets_in(list(source.lines())) == [1]
    assert [r.method for r in fake.calls(ft.V2_KILL_CONNECTIONS)] == ["DELETE"]
    assert fake.open_connections() == [] and source.failures == {}
    assert clock.slept == [] and source.summary()["stale_connections_cleared"] == 1


def test_too_many_connections_clears_and_reconnects_within_the_run(fake: FakeTwitter) -> None:
    """GIVEN a stale connection holds the slot (limit 1) and the start-up check could
    not list it (GET /2/connections answered 503) WHEN the stream answers 429
    TooManyConnections THEN the run clears it through DELETE /2/connections/all and
    reconnects at once, without the 60 s back-off."""
    fake.stream_limit = 1
    fake.add_stale_connection()
    fake.fail_next(ft.V2_CONNECTIONS, ft.status(503))
    fake.script(ft.V2_FILTER, ft.lines(raw(1)))
    clock = ScriptClock(fake)
    source = v2(fake, clock)
    assert tweets_in(list(source.lines())) == [1]
    assert source.failures == {"too_many_connections": 1} and source.reconnects == 1
    assert clock.slept == [] and source.summary()["waits_s"] == []
    assert source.summary()["stale_connections_cleared"] == 1
    assert len(fake.calls(ft.V2_KILL_CONNECTIONS)) == 1


def test_too_many_connections_that_persists_falls_back_to_the_rate_limit_wait(
    fake: FakeTwitter,
) -> None:
    for _ in range(3):
        fake.script(ft.V2_FILTER, ft.status(429, ft.TOO_MANY_CONNECTIONS))
    fake.script(ft.V2_FILTER, ft.lines(raw(1)))
    clock = ScriptClock(fake, waits_s=60)
    source = v2(fake, clock)
    assert tweets_in(list(source.lines())) == [1]
    assert len(fake.calls(ft.V2_KILL_CONNECTIONS)) == 2  # MAX_STALE_CLEARS, then the wait
    assert clock.slept == [60] and source.failures == {"too_many_connections": 3}


def test_operational_disconnect_reconnects_on_the_network_schedule(fake: FakeTwitter) -> None:
    fake.script(ft.V2_FILTER, ft.lines(raw(1)), ft.operational_disconnect(), ft.lines(raw(9)))
    fake.script(ft.V2_FILTER, ft.lines(raw(2)))
    clock = ScriptClock(fake, waits_s=0.25)
    source = v2(fake, clock)
    got = list(source.lines())
    assert tweets_in(got) == [1, 2]  # nothing after the disconnect line is read
    assert b"operational-disconnect" in got[1]  # handed on, so the run counts it
    assert source.failures == {"operational_disconnect": 1} and clock.slept == [0.25]


def test_schedules_restart_after_a_connection_delivers_data(fake: FakeTwitter) -> None:
    fake.script(ft.V2_FILTER, ft.drop(b""))  # cut before any data
    fake.script(ft.V2_FILTER, ft.drop(b""))
    fake.script(ft.V2_FILTER, ft.lines(raw(1)), ft.drop(b""))
    fake.script(ft.V2_FILTER, ft.lines(raw(2)))
    clock = ScriptClock(fake, waits_s=1.0)
    source = v2(fake, clock)
    assert tweets_in(list(source.lines())) == [1, 2]
    assert clock.slept == [0.25, 0.5, 0.25]


@pytest.mark.parametrize("code", [401, 403])
def test_refused_credentials_end_the_run_at_once_naming_them(fake: FakeTwitter, code: int) -> None:
    fake.script(ft.V2_FILTER, ft.lines(raw(1)), ft.drop(b""))
    fake.script(ft.V2_FILTER, ft.status(code, {"title": "Unauthorized"}))
    clock = ScriptClock(fake, waits_s=0.25)
    source = v2(fake, clock, credential_label="bearer token (TWITTER_BEARER_TOKEN)")
    got: list[bytes] = []
    with pytest.raises(CredentialRejectedError) as err:
        got.extend(source.lines())
    assert tweets_in(got) == [1]
    assert err.value.status == code
    assert "TWITTER_BEARER_TOKEN" in str(err.value) and "test-bearer" not in str(err.value)
    assert clock.slept == [0.25] and len(fake.calls(ft.V2_FILTER)) == 2


def test_a_wrong_token_is_refused_by_the_server(fake: FakeTwitter) -> None:
    source = V2StreamSource(Secret("wrong"), api_url=fake.url, rules=None, catch_up_pages=0)
    with pytest.raises(CredentialRejectedError):
        list(source.lines())


def test_a_request_x_will_never_accept_is_not_retried(fake: FakeTwitter) -> None:
    fake.script(ft.V2_FILTER, ft.status(400, {"title": "Invalid Request"}))
    clock = ScriptClock(fake)
    with pytest.raises(StreamRequestError, match="400"):
        list(v2(fake, clock).lines())
    assert clock.slept == []


# --- the deadline always wins -------------------------------------------------------------


def silent_after(server: FakeTwitter, clock: ManualClock, *lines: ft.Action) -> V2StreamSource:
    """A v2 source whose connection opens an hour before its deadline, so the read
    timeout it opens with is the 20 s stall window, on a server silent after ``lines``."""
    server.script(ft.V2_FILTER, *lines, ft.stall(30))
    return V2StreamSource(
        Secret(server.bearer),
        api_url=server.url,
        rules=None,
        catch_up_pages=0,
        deadline=3600.0,
        clock=clock,
        sleep=clock.sleep,
    )


def test_the_deadline_interrupts_a_silent_connection() -> None:
    """GIVEN a tweet, then silence WHEN 0.5 s of the run are left THEN the read ends at
    the deadline: not at the 20 s stall window, not after the 30 s silence.

    The clock is set once the tweet is in, so nothing but the silence races the
    deadline. A read left on the connection's own timeout would end at the stall
    window (the bound on ``waited``); one taken for a stall would be counted as one,
    the clock standing still."""
    clock = ManualClock()
    with FakeTwitter() as server:
        source = silent_after(server, clock, ft.lines(raw(1)))
        stream = source.lines()
        assert tweets_in([next(stream)]) == [1]
        clock.now = 3600.0 - 0.5
        started = time.monotonic()
        assert list(stream) == []
        waited = time.monotonic() - started
    assert 0.5 <= waited < source.stall_s
    assert source.failures == {} and source.reconnects == 0 and clock.slept == []


def test_each_read_is_cut_at_the_deadline_not_at_the_connect_time_timeout() -> None:
    """GIVEN a connection opened with the 20 s stall window as its read timeout and a
    keep-alive read with 1 s left WHEN 0.5 s are left THEN the next read ends at the
    deadline. A read on the connection's own timeout would wait the stall window."""
    clock = ManualClock()
    with FakeTwitter() as server:
        source = silent_after(server, clock, ft.lines(raw(1)), ft.keepalive())
        stream = source.lines()
        assert next(stream) == raw(1)
        clock.now = 3600.0 - 1.0
        assert next(stream) == b""
        clock.now = 3600.0 - 0.5
        started = time.monotonic()
        assert list(stream) == []
        waited = time.monotonic() - started
    assert 0.5 <= waited < source.stall_s
    assert source.failures == {} and source.reconnects == 0


def test_a_long_wait_is_not_started_when_it_would_cross_the_deadline(fake: FakeTwitter) -> None:
    fake.script(ft.V2_FILTER, ft.status(429))
    clock = ScriptClock(fake, deadline=30.0)  # 60 s would cross it
    source = v2(fake, clock)
    assert list(source.lines()) == []
    assert clock.slept == [] and source.summary()["waits_s"] == [60.0]
    assert source.connections == 1  # the run ended instead of waiting to reconnect


def test_stop_from_another_thread_ends_a_blocked_read() -> None:
    """GIVEN a read blocked on a silent connection WHEN stop() comes from another thread
    THEN the read ends: not at the 20 s stall window, not after the 30 s silence.

    The stop is sent once the tweet is in (a stop before the read starts ends the
    run just the same, before that read)."""
    with FakeTwitter() as server:
        server.script(ft.V2_FILTER, ft.lines(raw(1)), ft.stall(30))
        source = V2StreamSource(
            Secret(server.bearer), api_url=server.url, rules=None, catch_up_pages=0
        )
        stream = source.lines()
        assert tweets_in([next(stream)]) == [1]
        timer = threading.Timer(0.2, source.stop)
        started = time.monotonic()
        timer.start()
        assert list(stream) == []
        waited = time.monotonic() - started
    assert waited < source.stall_s
    assert source.failures == {} and source.reconnects == 0


# --- rules --------------------------------------------------------------------------------


def test_rules_sync_validates_then_adds_missing_and_deletes_stale(fake: FakeTwitter) -> None:
    fake.rules = {"11": {"value": "old rule"}, "12": {"value": "lakes", "tag": "lakes"}}
    source = v2(fake, ScriptClock(fake), rules=[Rule("lakes", "lakes"), Rule("rivers")])
    list(source.lines())
    posts = [c for c in fake.calls(ft.V2_RULES) if c.method == "POST"]
    assert [(c.param("dry_run"), c.json()) for c in posts] == [
        ("true", {"add": [{"value": "rivers"}]}),
        (None, {"delete": {"ids": ["11"]}}),
        (None, {"add": [{"value": "rivers"}]}),
    ]
    assert sorted(r["value"] for r in fake.rules.values()) == ["lakes", "rivers"]
    assert source.summary()["rules"] == {"added": 1, "deleted": 1, "active": 2}


def test_a_rejected_rule_changes_nothing_and_says_why(fake: FakeTwitter) -> None:
    fake.rules = {"11": {"value": "old rule"}}
    source = v2(fake, ScriptClock(fake), rules=[Rule("good"), Rule("INVALID ((")])
    with pytest.raises(RuleRejectedError, match=r"INVALID \(\(.*Invalid rule syntax"):
        list(source.lines())
    assert [c.param("dry_run") for c in fake.calls(ft.V2_RULES) if c.method == "POST"] == ["true"]
    assert fake.rules == {"11": {"value": "old rule"}}
    assert fake.calls(ft.V2_FILTER) == []


# --- catch-up -----------------------------------------------------------------------------


def test_catch_up_asks_for_exactly_the_gap_and_bounds_its_pages(fake: FakeTwitter) -> None:
    checkpoint = snowflake(datetime(2026, 11, 24, 6, 0, tzinfo=UTC))
    for i in range(1, 8):
        fake.add_tweet(checkpoint + i * 1000, f"lakes {i}")
    fake.add_tweet(checkpoint - 1000, "lakes before the checkpoint")
    fake.script(ft.V2_FILTER, ft.lines(raw(1)))
    source = v2(
        fake,
        ScriptClock(fake),
        since_id=str(checkpoint),
        catch_up_pages=2,
        catch_up_delay_s=0,
        catch_up_page_size=3,
    )
    got = list(source.lines())
    searches = fake.calls(ft.V2_SEARCH)
    assert [s.param("since_id") for s in searches] == [str(checkpoint)] * 2
    assert [s.param("query") for s in searches] == ["lakes", "lakes"]
    assert searches[0].param("tweet.fields") == V2_FIELDS["tweet.fields"]
    caught = [json.loads(x) for x in got if b'"lakes ' in x and x != raw(1)]
    ids = [int(c["data"]["id"]) for c in caught]
    # Newest pages first from search, 2 pages of 3 → tweets 2..7, emitted oldest first.
    assert ids == sorted(ids) and len(ids) == 6 == len(set(ids))
    assert all(
        c["matching_rules"] == [{"id": c["matching_rules"][0]["id"], "tag": "lakes"}]
        for c in caught
    )
    report = source.summary()["catch_up"]
    assert report["status"] == "truncated" and report["pages"] == 2
    assert report["oldest_id"] == str(checkpoint + 2000)
    # NOW is 30 minutes after the checkpoint; the rule admits retweets search cannot return.
    assert report["gap_s"] == 1800.0 and report["rules_admitting_retweets"] == 1
    assert report["retweets"].startswith("recent search returns no retweets since 2026-05-04")


def test_rules_that_exclude_retweets_lost_none_in_the_gap(fake: FakeTwitter) -> None:
    fake.script(ft.V2_FILTER, ft.lines(raw(1)))
    source = v2(
        fake,
        ScriptClock(fake),
        rules=[Rule("lakes -is:retweet", "lakes")],
        since_id=str(snowflake(NOW)),
        catch_up_delay_s=0,
        catch_up_pages=1,
    )
    list(source.lines())
    report = source.summary()["catch_up"]
    assert report["rules_admitting_retweets"] == 0 and report["retweets"] == "excluded_by_rules"


def test_catch_up_without_a_checkpoint_or_too_old_is_not_attempted(fake: FakeTwitter) -> None:
    old = snowflake(datetime(2026, 11, 10, tzinfo=UTC))
    for since, status in ((None, "no_checkpoint"), (str(old), "too_old")):
        source = v2(fake, ScriptClock(fake), since_id=since, catch_up_delay_s=0, catch_up_pages=5)
        list(source.lines())
        assert source.summary()["catch_up"]["status"] == status
    assert fake.calls(ft.V2_SEARCH) == []


def test_catch_up_rate_limited_is_reported_and_the_stream_goes_on(fake: FakeTwitter) -> None:
    fake.fail_next(ft.V2_SEARCH, ft.status(429))
    fake.script(ft.V2_FILTER, ft.lines(raw(1)))
    source = v2(
        fake, ScriptClock(fake), since_id=str(snowflake(NOW)), catch_up_delay_s=0, catch_up_pages=5
    )
    assert tweets_in(list(source.lines())) == [1]
    assert source.summary()["catch_up"]["status"] == "rate_limited"


# --- v1.1 through twython ----------------------------------------------------------------


def test_v1_signs_with_oauth1_and_passes_control_messages_raw(fake: FakeTwitter) -> None:
    control = [line for line in own_lines("v1_control.jsonl") if line.strip()]
    statuses = own_lines("v1_statuses.jsonl")[:2]
    fake.script(ft.V1_FILTER, ft.lines(*statuses, *control), ft.end())
    fake.script(ft.V1_FILTER, ft.status(420, {"errors": [{"message": "Enhance Your Calm"}]}))
    fake.script(ft.V1_FILTER, ft.lines(statuses[0]))
    clock = ScriptClock(fake, waits_s=60.25)
    source = v1(fake, clock)
    got = list(source.lines())
    assert got == [s.encode() for s in [*statuses, *control, statuses[0]]]
    assert clock.slept == [0.25, 60]
    call = fake.calls(ft.V1_FILTER)[0]
    assert call.method == "POST" and call.headers["authorization"].startswith("OAuth ")
    assert 'oauth_signature="' in call.headers["authorization"]
    assert b"track=lakes%2Crivers" in call.body and b"stall_warnings=true" in call.body


def test_v1_refused_names_the_oauth_credentials(fake: FakeTwitter) -> None:
    fake.script(ft.V1_FILTER, ft.status(401, {"errors": [{"code": 32, "message": "Could not"}]}))
    with pytest.raises(CredentialRejectedError, match=r"OAuth 1\.0a"):
        list(v1(fake, ScriptClock(fake)).lines())
