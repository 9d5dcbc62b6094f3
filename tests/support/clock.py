"""Clocks for tests: time that moves only when the test says so.

:class:`ManualClock` is plain virtual time: a test moves ``now``; code that
sleeps or waits on it moves it too (instantly, recorded in ``slept``).

:class:`ScriptClock` is virtual time for a live source's run against the
loopback X server: stands still but for the waits the run sleeps (instant,
recorded): however long a socket read or a Kinesis call takes on a busy
machine, the clock does not move, so no deadline can come in the middle of
the script. The run's deadline comes when the script is over: the server
(``FakeTwitter(end_when_served=True)``) ends its idle streams once it has
served every scripted response, and once the client has closed each of them
(it read them to their end), the clock reads the deadline. The run then
stops at its deadline right after the last line the server sent, never
before it, on any machine.

The deadline is :data:`READ_WINDOW_S` after the scripted waits: longer than
either stall window (20 s v2, 90 s v1.1), so no read before the end of the
script can be cut by it, only a silence the script asked for.
"""

from __future__ import annotations

from tests.support.fake_twitter import FakeTwitter

READ_WINDOW_S = 120.0


class ManualClock:
    """``clock()`` reads ``now``; ``sleep``/``wait`` pass time at once and record it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def wait(self, seconds: float) -> bool:
        """An ``Event.wait`` that nobody sets: over at once, the time moved on."""
        self.sleep(seconds)
        return False


class ScriptClock:
    """``now()``: the seconds slept so far, then the deadline once the script is read."""

    def __init__(
        self, server: FakeTwitter, *, waits_s: float = 0.0, deadline: float | None = None
    ) -> None:
        if not server.end_when_served:
            raise ValueError("the clock needs FakeTwitter(end_when_served=True)")
        self.server = server
        #: When the run must have stopped reading: its waits plus the read window.
        self.deadline = waits_s + READ_WINDOW_S if deadline is None else deadline
        self.slept: list[float] = []
        self._first_stream = server.stream_count
        self._script_read = False

    def now(self) -> float:
        if not self._script_read:
            self._script_read = self.server.client_closed_every_stream(since=self._first_stream)
        slept = sum(self.slept)
        return max(slept, self.deadline) if self._script_read else slept

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
