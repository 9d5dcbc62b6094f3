"""The Jetstream source against the loopback instance (tests/support/fake_jetstream.py).

Real websockets on 127.0.0.1: the subscription query (collections, DIDs,
cursor), replay from a cursor, an instance that drops mid-stream (the source
resumes from the last ``time_us`` it yielded, on the next instance), a refused
handshake, a cursor older than the replay window (clamped by the server, flagged
by the source), at-least-once redelivery.

The source's clock reads the deadline once the source has yielded the last
event the test expects, so no test depends on how fast the machine is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.ingest.sources.base import SourceRefusedError
from chalicelib.ingest.sources.jetstream import (
    REPLAY_WINDOW_S,
    JetstreamSettings,
    JetstreamSource,
    frame_time_us,
)
from chalicelib.retry import Backoff
from tests.support import bluesky as bs
from tests.support.fake_jetstream import FakeJetstream, Instance

pytestmark = pytest.mark.integration

T0 = 1_748_779_200_000_000
A, B = bs.did(1), bs.did(2)
DEADLINE = 1_000.0


def posts(n: int, author: str = A, start_s: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        time_us = T0 + (start_s + i) * 1_000_000
        rkey = bs.tid(time_us)
        out.append(
            bs.commit(
                author, time_us, "create", rkey, record=bs.post_record(f"p{i}", bs.iso(time_us))
            )
        )
    return out


class UntilSeen:
    """A clock at 0 until the source has yielded ``last_us``, then at the deadline."""

    def __init__(self, last_us: int) -> None:
        self.last_us = last_us
        self.source: JetstreamSource | None = None
        self.slept: list[float] = []

    def __call__(self) -> float:
        seen = self.source.summary()["last_time_us"] if self.source else None
        return DEADLINE if seen is not None and seen >= self.last_us else 0.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def source(
    urls: list[str],
    clock: UntilSeen,
    checkpoint_us: int | None,
    wall_s: float = T0 / 1e6 + 60,
    **settings: Any,
) -> JetstreamSource:
    made = JetstreamSource(
        JetstreamSettings(urls=tuple(urls), **settings),
        checkpoint_us=checkpoint_us,
        deadline=DEADLINE,
        clock=clock,
        sleep=clock.sleep,
        wall=lambda: wall_s,
        backoff=Backoff(base_s=0.5, cap_s=4.0, max_attempts=4, sleep=clock.sleep),
        open_timeout_s=5,
    )
    clock.source = made
    return made


def frames(made: JetstreamSource) -> list[int]:
    """The ``time_us`` of every non-empty frame the source yields, in order."""
    out = []
    for frame in made.lines():
        if frame:
            time_us = frame_time_us(frame)
            assert time_us is not None
            out.append(time_us)
    return out


@pytest.fixture
def servers() -> Iterator[list[FakeJetstream]]:
    with FakeJetstream() as one, FakeJetstream() as two:
        yield [one, two]


def test_replays_from_the_rewound_checkpoint_with_the_filters_asked(
    servers: list[FakeJetstream],
) -> None:
    server = servers[0]
    events = posts(10) + posts(3, author=B, start_s=20)
    like = bs.commit(A, T0 + 30_000_000, "create", bs.tid(T0), collection="app.bsky.feed.like")
    server.add([*events, like])
    clock = UntilSeen(events[9]["time_us"])
    made = source([server.url], clock, checkpoint_us=events[5]["time_us"], rewind_s=2, dids=(A,))
    got = frames(made)
    # checkpoint - 2 s: events 3..9 of A; B and the like filtered by the server.
    assert got == [e["time_us"] for e in events[3:10]]
    [query] = server.requests
    assert query["wantedCollections"] == ["app.bsky.feed.post"]
    assert query["wantedDids"] == [A]
    assert query["cursor"] == [str(events[5]["time_us"] - 2_000_000)]
    summary = made.summary()
    assert summary["lag_s"] == 51.0 and summary["connections"] == 1


def test_a_dropped_instance_resumes_on_the_next_from_the_last_cursor(
    servers: list[FakeJetstream],
) -> None:
    events = posts(8)
    for server in servers:
        server.add(events)
    servers[0].instance = Instance(drop_after=3)
    clock = UntilSeen(events[-1]["time_us"])
    made = source([s.url for s in servers], clock, checkpoint_us=events[0]["time_us"], rewind_s=0)
    got = frames(made)
    # At least once: the third event again (its time_us is the resume cursor), nothing lost.
    assert got == [e["time_us"] for e in events[:3]] + [e["time_us"] for e in events[2:]]
    assert servers[1].requests[0]["cursor"] == [str(events[2]["time_us"])]
    assert made.reconnects == 1 and len(clock.slept) == 1
    assert (
        "closed" in made.summary()["failures"][0] or "Connection" in made.summary()["failures"][0]
    )


def test_an_instance_that_answers_503_is_skipped_and_a_400_refuses(
    servers: list[FakeJetstream],
) -> None:
    events = posts(2)
    servers[1].add(events)
    servers[0].instance = Instance(refuse_status=503)
    clock = UntilSeen(events[-1]["time_us"])
    made = source([s.url for s in servers], clock, checkpoint_us=events[0]["time_us"], rewind_s=0)
    assert frames(made) == [e["time_us"] for e in events]
    assert "HTTP 503" in made.summary()["failures"][0]

    servers[0].instance = Instance(refuse_status=400)
    refused = source([servers[0].url], UntilSeen(0), checkpoint_us=None)
    with pytest.raises(SourceRefusedError, match="HTTP 400"):
        frames(refused)


def test_a_cursor_older_than_the_replay_window_is_clamped_by_the_server_and_flagged(
    servers: list[FakeJetstream],
) -> None:
    server = servers[0]
    events = posts(6)
    server.add(events)
    server.instance = Instance(retention_us=events[3]["time_us"])
    clock = UntilSeen(events[-1]["time_us"])
    old = events[0]["time_us"]
    wall = old / 1e6 + REPLAY_WINDOW_S + 3600
    made = source([server.url], clock, checkpoint_us=old, wall_s=wall, rewind_s=0)
    assert frames(made) == [e["time_us"] for e in events[3:]]
    assert made.summary()["cursor_too_old"] is True


def test_redelivered_frames_are_yielded_again_for_the_consumer_to_dedupe(
    servers: list[FakeJetstream],
) -> None:
    server = servers[0]
    events = posts(5)
    server.add(events)
    server.instance = Instance(redeliver=2)
    clock = UntilSeen(events[-1]["time_us"])
    made = source([server.url], clock, checkpoint_us=events[3]["time_us"], rewind_s=0)
    assert frames(made) == [e["time_us"] for e in events[1:]]


def test_a_quiet_socket_yields_keep_alives_until_the_deadline(
    servers: list[FakeJetstream],
) -> None:
    ticks = iter([0.0, 0.0, 0.0, 0.0, DEADLINE])

    made = JetstreamSource(
        JetstreamSettings(urls=(servers[0].url,)),
        checkpoint_us=None,
        deadline=DEADLINE,
        clock=lambda: next(ticks, DEADLINE),
        sleep=lambda _: None,
    )
    got = list(made.lines())
    assert got and set(got) == {""}
    assert json.loads(json.dumps(made.summary()))["frames"] == 0
