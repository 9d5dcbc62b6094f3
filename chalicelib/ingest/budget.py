"""The monthly post budget: stop reading before X bills past it.

On X's pay-per-use plan every post read costs ($0.005 in 2026) and a project
may read at most 3,000,000 posts a monthly billing cycle. The ingest run reads
the cycle's consumption once at its start (``GET /2/usage/tweets``,
``project_usage``), adds the posts it reads itself, and stops reading once
the sum reaches the budget (``TWEETLAKE_X_POST_BUDGET``, default the cap).
The check comes before each line, so a run that starts with the budget spent
never connects, and a run that reaches it mid-way stops within one stream
line (a recent-search page already fetched is billed whole, so a catch-up may
overshoot by up to its page size, 100 posts).

Only billed sources have a budget (the v2 source, the one that can read the
usage endpoint). When the usage endpoint cannot be read, the run counts only
its own posts and says so (``usage_source: unavailable``): stopping every
run on a transient error would cost more data than it could save money.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from chalicelib.emf import emf_document

log = logging.getLogger(__name__)

BUDGET_SETTING = "TWEETLAKE_X_POST_BUDGET"
#: X's pay-per-use cap on post reads per monthly billing cycle (since 2026-08-13).
PAY_PER_USE_CAP = 3_000_000
#: The metric the budget alarm watches (terraform/alarms.tf), in the EMF namespace.
CYCLE_METRIC = "XPostsReadThisCycle"


@runtime_checkable
class BilledSource(Protocol):
    """A source whose reads X bills: it can say what the billing cycle has used so far."""

    def cycle_usage(self) -> int | None:
        """Posts read this billing cycle according to X, or None if it cannot be read."""


@dataclass
class PostBudget:
    """The cycle's post reads against the budget: X's reading plus this run's own count."""

    limit: int
    used_at_start: int | None
    read: int = 0

    @property
    def used(self) -> int:
        return (self.used_at_start or 0) + self.read

    def count(self, posts: int = 1) -> None:
        self.read += posts

    def reached(self) -> bool:
        return self.used >= self.limit

    def summary(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "used_at_start": self.used_at_start,
            "read_this_run": self.read,
            "used": self.used,
            "usage_source": "x_usage_api" if self.used_at_start is not None else "unavailable",
        }

    def metric(self, stage: str) -> dict[str, Any]:
        """The EMF document the 80 % alarm reads (one a run)."""
        return emf_document(
            {CYCLE_METRIC: (float(self.used), "Count"), "XPostsReadThisRun": (self.read, "Count")},
            {"stage": stage},
            {"x_post_budget": self.limit},
        )


def start_budget(source: object, limit: int) -> PostBudget | None:
    """The run's budget, reading X's usage once; None for a source X does not bill."""
    if not isinstance(source, BilledSource):
        return None
    used = source.cycle_usage()
    budget = PostBudget(limit, used)
    if used is None:
        log.warning("X usage unavailable: the post budget counts only this run's reads")
    log.info("X post budget at start: %d of %d used", budget.used, limit)
    return budget
