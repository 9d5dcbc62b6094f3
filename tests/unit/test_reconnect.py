"""The reconnect schedule X documents, and the deadline that overrides it."""

from __future__ import annotations

import pytest

from chalicelib.ingest.sources.reconnect import (
    Deadline,
    Failure,
    ReconnectPolicy,
)
from tests.support.clock import ManualClock


def policy(deadline: float | None = None) -> tuple[ReconnectPolicy, ManualClock]:
    clock = ManualClock()
    return ReconnectPolicy(deadline=Deadline(deadline, clock), sleep=clock.sleep), clock


def test_network_errors_back_off_linearly_from_250ms_to_16s() -> None:
    p, clock = policy()
    for _ in range(70):
        assert p.wait(Failure.NETWORK)
    assert clock.slept[:4] == [0.25, 0.5, 0.75, 1.0]
    assert clock.slept[63] == 16.0 and clock.slept[64:] == [16.0] * 6
    assert max(clock.slept) == 16.0


def test_stalls_and_operational_disconnects_share_the_network_schedule() -> None:
    p, clock = policy()
    for failure in (Failure.STALL, Failure.OPERATIONAL_DISCONNECT, Failure.NETWORK):
        p.wait(failure)
    assert clock.slept == [0.25, 0.5, 0.75]


def test_http_errors_back_off_exponentially_from_5s_to_320s() -> None:
    p, clock = policy()
    for _ in range(9):
        p.wait(Failure.HTTP)
    assert clock.slept == [5, 10, 20, 40, 80, 160, 320, 320, 320]


def test_rate_limits_back_off_exponentially_from_a_minute() -> None:
    p, clock = policy()
    for _ in range(6):
        p.wait(Failure.RATE_LIMIT)
    assert clock.slept == [60, 120, 240, 480, 960, 960]


def test_schedules_count_separately_and_restart_once_data_flows() -> None:
    """GIVEN failures of two kinds WHEN a connection then delivers data THEN both restart."""
    p, clock = policy()
    p.wait(Failure.HTTP)
    p.wait(Failure.NETWORK)
    p.wait(Failure.HTTP)
    p.connected()
    p.wait(Failure.HTTP)
    p.wait(Failure.NETWORK)
    assert clock.slept == [5, 0.25, 10, 5, 0.25]


def test_retry_after_only_lengthens_the_wait() -> None:
    p, clock = policy()
    p.wait(Failure.RATE_LIMIT, retry_after_s=90)
    p.wait(Failure.RATE_LIMIT, retry_after_s=30)
    assert clock.slept == [90, 120]


@pytest.mark.parametrize("deadline", [4.0, 5.0])
def test_a_wait_that_would_cross_the_deadline_is_not_taken(deadline: float) -> None:
    """GIVEN 4-5 s left WHEN the schedule asks for 5 s THEN no sleep and the run should end."""
    p, clock = policy(deadline)
    assert p.wait(Failure.HTTP) is False
    assert clock.slept == []
    assert p.waits == [(Failure.HTTP, 5.0)]


def test_waits_within_the_deadline_are_taken_then_refused() -> None:
    p, clock = policy(deadline=16.0)
    assert p.wait(Failure.HTTP) and p.wait(Failure.HTTP)  # 5 + 10 = 15 s
    assert p.wait(Failure.HTTP) is False  # 20 s more would cross 16 s
    assert clock.slept == [5, 10] and clock.now < 16.0
