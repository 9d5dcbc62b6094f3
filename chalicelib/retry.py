"""Bounded exponential backoff with full jitter, shared by every AWS write path.

The producer (PutRecords partial failures) and the consumer (BatchWriteItem
UnprocessedItems, throttling) both retry through this, so the policy is tuned in
one place. ``sleep`` and ``rng`` are injected so tests run instantly and
deterministically.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


class RetriesExhaustedError(RuntimeError):
    """A fault survived every retry: the caller lets the invocation fail so Lambda retries."""


@dataclass
class Backoff:
    """Delays ``uniform(0, min(cap_s, base_s * 2**n))`` for at most ``max_attempts`` tries."""

    base_s: float = 0.05
    cap_s: float = 2.0
    max_attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delays(self) -> Iterator[float]:
        """The waits between attempts (``max_attempts - 1`` of them)."""
        for attempt in range(self.max_attempts - 1):
            yield self.rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt))

    def wait(self, attempt: int) -> None:
        """Sleep before retry number ``attempt`` (0-based)."""
        self.sleep(self.rng.uniform(0, min(self.cap_s, self.base_s * 2**attempt)))
