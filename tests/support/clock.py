"""A clock whose sleeps are instant but which still sees real time pass.

``now()`` = real seconds elapsed since creation + every second "slept". So
backoff waits of 60 s or 320 s cost nothing, while socket reads (which take
real time) still move the clock toward the deadline: a run with
``deadline = clock.now() + sum(expected waits) + 1`` ends after about one real
second once its scripted connections are used up.
"""

from __future__ import annotations

import time


class FakeClock:
    def __init__(self) -> None:
        self._start = time.monotonic()
        self.slept: list[float] = []

    def now(self) -> float:
        return time.monotonic() - self._start + sum(self.slept)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
