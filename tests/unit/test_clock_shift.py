"""The wall clock the suite runs on: the real one, or ``TWEETLAKE_SHIFT_DAYS`` ahead.

``make test-future`` sets the variable; this test proves the travel happened (and
that a plain ``make test`` runs on the real clock), so a shifted run that passes
cannot have passed on today's date by mistake.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.conftest import shift_days
from tests.support.child_clock import child_now


def test_the_wall_clock_is_moved_by_exactly_the_days_asked() -> None:
    days = shift_days()
    before = time.time()
    real = child_now().timestamp()  # clock travel stays in this process
    after = time.time()
    expected = real + days * 86_400
    assert before - 1 <= expected <= after + 1
    seen = datetime.now(UTC)
    assert seen.year == datetime.fromtimestamp(expected, UTC).year
    if days >= 366:
        assert seen.year > datetime.fromtimestamp(real, UTC).year
    assert abs(seen - datetime.fromtimestamp(expected, UTC)) < timedelta(minutes=1)
