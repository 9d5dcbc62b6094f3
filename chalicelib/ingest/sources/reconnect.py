"""When to reconnect a streaming connection, and how long to wait first.

X documents one back-off schedule per kind of failure (``handling
disconnections`` in the filtered-stream guide, the same table as v1.1's):

* network trouble (refused or reset connections, a line cut off, a stall with
  no byte for the keep-alive window, an ``operational-disconnect``): linear,
  +250 ms an attempt, at most 16 s;
* HTTP errors worth retrying (5xx and friends): exponential from 5 s,
  doubling, at most 320 s;
* rate limits (HTTP 429, and v1.1's 420 "Enhance Your Calm"): exponential
  from 60 s, doubling. X names no ceiling; ours is 960 s, and the run's
  deadline caps every wait anyway;
* a 429 ``TooManyConnections`` is the one 429 that waiting does not cure
  quickly: the slot is held by a connection X has not noticed is dead (an
  earlier run's, cut by the Lambda timeout). The v2 source clears it through
  the Connections API and reconnects without waiting; only when it cannot
  (or it already did, twice, this run) does the rate-limit schedule apply.

Each kind counts its own consecutive failures and every count restarts once a
connection delivers data again, so one bad minute does not make the next run
wait 320 s. The first wait after a healthy connection drops is 250 ms rather
than X's "reconnect immediately", so a server that accepts and drops at once
cannot drive a hot loop.

The policy owns no socket: it is given the clock and the sleep, and it never
waits past the deadline, which is what lets the ingest function stop on time
and lets tests check the schedule without waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum


class Failure(Enum):
    """Why a connection ended or could not be made."""

    NETWORK = "network"
    STALL = "stall"
    OPERATIONAL_DISCONNECT = "operational_disconnect"
    HTTP = "http"
    RATE_LIMIT = "rate_limit"
    #: HTTP 429 ``TooManyConnections``: the app's stream slot is taken, often by a stale
    #: connection of an earlier run. A source that can clear it reconnects at once;
    #: otherwise it waits like any rate limit.
    TOO_MANY_CONNECTIONS = "too_many_connections"


@dataclass(frozen=True)
class Schedule:
    """``first * factor**n`` (or ``first * (n + 1)`` when linear), capped at ``cap``."""

    first_s: float
    cap_s: float
    linear: bool = False

    def delay(self, attempt: int) -> float:
        """The wait before retry ``attempt`` (0 for the first retry of a run of failures)."""
        if self.linear:
            return min(self.cap_s, self.first_s * (attempt + 1))
        return min(self.cap_s, self.first_s * 2 ** min(attempt, 32))


NETWORK_SCHEDULE = Schedule(first_s=0.25, cap_s=16.0, linear=True)
HTTP_SCHEDULE = Schedule(first_s=5.0, cap_s=320.0)
RATE_LIMIT_SCHEDULE = Schedule(first_s=60.0, cap_s=960.0)

_SCHEDULE_OF = {
    Failure.NETWORK: NETWORK_SCHEDULE,
    Failure.STALL: NETWORK_SCHEDULE,
    Failure.OPERATIONAL_DISCONNECT: NETWORK_SCHEDULE,
    Failure.HTTP: HTTP_SCHEDULE,
    Failure.RATE_LIMIT: RATE_LIMIT_SCHEDULE,
    Failure.TOO_MANY_CONNECTIONS: RATE_LIMIT_SCHEDULE,
}


def schedule_for(failure: Failure) -> Schedule:
    return _SCHEDULE_OF[failure]


@dataclass
class Deadline:
    """A stop time on an injected monotonic clock; ``None`` means no stop time."""

    at: float | None = None
    clock: Callable[[], float] = time.monotonic

    def remaining(self) -> float:
        """Seconds left (``inf`` without a stop time, never negative)."""
        if self.at is None:
            return float("inf")
        return max(0.0, self.at - self.clock())

    def passed(self) -> bool:
        return self.remaining() <= 0.0


@dataclass
class ReconnectPolicy:
    """Counts failures per schedule and sleeps the documented wait, deadline first.

    ``waits`` records every wait asked for as ``(failure, seconds)``, the
    figure the run summary and the tests look at; the time actually slept can
    be shorter when the deadline cuts it.
    """

    deadline: Deadline = field(default_factory=Deadline)
    sleep: Callable[[float], None] = time.sleep
    waits: list[tuple[Failure, float]] = field(default_factory=list)
    _attempts: dict[Schedule, int] = field(default_factory=dict)

    def next_delay(self, failure: Failure, retry_after_s: float | None = None) -> float:
        """The wait before the next attempt; a server's ``Retry-After`` only lengthens it."""
        schedule = schedule_for(failure)
        attempt = self._attempts.get(schedule, 0)
        self._attempts[schedule] = attempt + 1
        delay = schedule.delay(attempt)
        if retry_after_s is not None and retry_after_s > delay:
            delay = retry_after_s
        return delay

    def wait(self, failure: Failure, retry_after_s: float | None = None) -> bool:
        """Sleep before reconnecting; False when the deadline came first (do not reconnect)."""
        delay = self.next_delay(failure, retry_after_s)
        self.waits.append((failure, delay))
        if delay >= self.deadline.remaining():
            # Nothing can be read during the wait, so the run ends now, before its
            # stop time, instead of sleeping up to it.
            return False
        if delay > 0:
            self.sleep(delay)
        return not self.deadline.passed()

    def connected(self) -> None:
        """A connection delivered data: every schedule starts again from its first step."""
        self._attempts.clear()
