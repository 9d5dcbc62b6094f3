"""Bounded exponential backoff with full jitter, shared by every AWS write path.

The producer (PutRecords partial failures), the consumer (BatchWriteItem
UnprocessedItems, throttling) and the local mode's readers (a failing consumer
batch) all retry through this, so the policy is written once. ``sleep`` and
``rng`` are injected so tests run instantly and deterministically.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import TypeVar

T = TypeVar("T")


class RetriesExhaustedError(RuntimeError):
    """A fault survived every retry: the caller lets the invocation fail so Lambda retries."""


@dataclass
class Backoff:
    """Delays ``uniform(0, min(cap_s, base_s * 2**n))`` for at most ``max_attempts`` tries.

    ``max_attempts=None`` retries for as long as the caller keeps asking (Lambda's
    default for a Kinesis batch, which the local mode's readers emulate).
    """

    base_s: float = 0.05
    cap_s: float = 2.0
    max_attempts: int | None = 8
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (0-based); the exponent stops at 30,
        where the cap has long taken over, so a long outage cannot overflow it."""
        return self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** min(attempt, 30)))

    def exhausted(self, attempts: int) -> bool:
        """Whether ``attempts`` tries used up the allowance (never, when unbounded)."""
        return self.max_attempts is not None and attempts >= self.max_attempts

    def attempts(self) -> Iterator[int]:
        """0, 1, 2, … up to the allowance (forever, when unbounded)."""
        return iter(range(self.max_attempts)) if self.max_attempts is not None else count()

    def delays(self) -> Iterator[float]:
        """The waits between attempts (``max_attempts - 1`` of them)."""
        if self.max_attempts is None:
            raise ValueError("an unbounded Backoff has no finite list of delays")
        for attempt in range(self.max_attempts - 1):
            yield self.delay(attempt)

    def wait(self, attempt: int) -> None:
        """Sleep before retry number ``attempt`` (0-based)."""
        self.sleep(self.delay(attempt))

    def call(self, operation: Callable[[], T], transient: Callable[[BaseException], bool]) -> T:
        """``operation()``, tried again after a ``transient`` error until the allowance is
        used up (then :class:`RetriesExhaustedError`); any other error goes straight up.

        For single calls with no partial results (an S3 GET or PUT, one UpdateItem);
        batch calls with leftovers keep their own loop (``chalicelib.dynamo.repository``).
        """
        for attempt in self.attempts():
            if attempt:
                self.wait(attempt - 1)
            try:
                return operation()
            except Exception as exc:
                if not transient(exc):
                    raise
                if self.exhausted(attempt + 1):
                    raise RetriesExhaustedError(
                        f"still failing after {attempt + 1} attempts: {exc}"
                    ) from exc
        raise RetriesExhaustedError("no attempt allowed")  # max_attempts=0
