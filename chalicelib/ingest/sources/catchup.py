"""Catch up what the stream missed between runs, through v2 recent search.

The standard filtered stream has no backfill, and the ingest function is
not connected between two scheduled runs. The run therefore remembers the
last tweet id it delivered (the checkpoint) and the next run asks recent
search, rule by rule, for tweets newer than it (``since_id``). Search pages
go newest → oldest; at most ``max_pages`` pages are fetched in all, so a long
outage costs a bounded number of (billed) reads and the report says how far
back it got. Recent search covers the last 7 days: an older checkpoint is
reported and not attempted.

Results are re-shaped as stream lines (``data``, ``includes.users`` with the
author, ``matching_rules`` naming the rule that found it), deduplicated by
id across rules, and emitted oldest first. Overlap with the live stream is
expected and harmless: the consumer collapses duplicates on ``hash_line``.

What it cannot recover: since 2026-05-04 recent search returns no retweets,
so a retweet posted in the gap is lost for good. The catch-up cannot count
those retweets (nothing lists them), so it reports what it can tell: that
retweets are not recoverable, how many of the rules admit retweets (a rule
with ``-is:retweet`` never wanted them: nothing lost there), and how long
the gap was (``gap_s``, from the checkpoint's tweet time to the search).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.ingest.sources.reconnect import Deadline
from chalicelib.ingest.sources.rules import ActiveRule
from chalicelib.ingest.sources.v2_rest import RateLimitedError, V2Rest

log = logging.getLogger(__name__)

SEARCH_PATH = "/2/tweets/search/recent"
TWITTER_EPOCH_MS = 1288834974657
SEARCH_WINDOW = timedelta(days=7)
#: Keep clear of the window's edge: X rejects a since_id older than it.
WINDOW_MARGIN = timedelta(minutes=5)
PAGE_SIZE = 100
DEFAULT_MAX_PAGES = 10
#: From this day on recent search returns no retweets (X's changelog).
SEARCH_WITHOUT_RETWEETS_SINCE = datetime(2026, 5, 4, tzinfo=UTC)
RETWEETS_NOT_RECOVERABLE = (
    "recent search returns no retweets since 2026-05-04: retweets posted in the gap are "
    "not recovered"
)


def tweet_time(tweet_id: str) -> datetime | None:
    """Creation time encoded in a snowflake id (ids since late 2010); None for older ids."""
    try:
        value = int(tweet_id)
    except ValueError:
        return None
    if value < 1 << 42:  # sequential pre-2010 ids (below ~3e10) carry no time
        return None
    ms = (value >> 22) + TWITTER_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass
class CatchUpReport:
    """What the catch-up did, for the run summary.

    ``status``: ``done`` (the whole gap was read), ``truncated`` (page budget
    spent; tweets between ``since_id`` and ``oldest_id`` may be missing),
    ``rate_limited``, ``too_old`` (checkpoint outside the 7-day window, not
    attempted), ``no_checkpoint`` (first run), ``no_rules``, ``not_run``
    (the deadline came first).
    """

    status: str = "not_run"
    since_id: str | None = None
    pages: int = 0
    tweets: int = 0
    oldest_id: str | None = None
    newest_id: str | None = None
    detail: str = ""
    queries: list[str] = field(default_factory=list)
    #: Seconds from the checkpoint's tweet to the search: the gap the stream did not see.
    gap_s: float | None = None
    #: Rules without ``-is:retweet``: each may have matched retweets search cannot return.
    rules_admitting_retweets: int = 0
    retweets: str | None = None

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "since_id": self.since_id,
            "pages": self.pages,
            "tweets": self.tweets,
            "oldest_id": self.oldest_id,
            "newest_id": self.newest_id,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.retweets is not None:
            out["gap_s"] = self.gap_s
            out["rules_admitting_retweets"] = self.rules_admitting_retweets
            out["retweets"] = self.retweets
        return out


@dataclass
class CatchUp:
    """One run's catch-up; :meth:`lines` performs it and fills :attr:`report`."""

    rest: V2Rest
    rules: list[ActiveRule]
    since_id: str | None
    fields: dict[str, str]
    max_pages: int = DEFAULT_MAX_PAGES
    page_size: int = PAGE_SIZE
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    deadline: Deadline = field(default_factory=Deadline)
    report: CatchUpReport = field(default_factory=CatchUpReport)

    def lines(self) -> Iterator[bytes]:
        report = self.report
        report.since_id = self.since_id
        if self.since_id is None:
            report.status = "no_checkpoint"
            return
        if not self.rules:
            report.status = "no_rules"
            return
        created = tweet_time(self.since_id)
        oldest_allowed = self.now() - SEARCH_WINDOW + WINDOW_MARGIN
        if created is None or created < oldest_allowed:
            report.status = "too_old"
            report.detail = (
                f"checkpoint {self.since_id} is from {created or 'before 2010'}; recent search "
                "covers 7 days, so that gap was not attempted"
            )
            return
        self._report_retweet_loss(created)
        found: dict[int, tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]] = {}
        report.status = "done"
        try:
            for rule in self.rules:
                if not self._search(rule, found):
                    break
        except RateLimitedError as exc:
            report.status = "rate_limited"
            report.detail = str(exc)
        report.tweets = len(found)
        if found:
            report.oldest_id, report.newest_id = str(min(found)), str(max(found))
        for key in sorted(found):
            tweet, author, matched = found[key]
            line = {
                "data": tweet,
                "includes": {"users": [author] if author else []},
                "matching_rules": matched,
            }
            yield json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()

    def _report_retweet_loss(self, gap_start: datetime) -> None:
        """Say what search cannot bring back; a rule excluding retweets lost none."""
        now = self.now()
        if now < SEARCH_WITHOUT_RETWEETS_SINCE:
            return
        admitting = [r for r in self.rules if "-is:retweet" not in r.value]
        self.report.gap_s = round((now - gap_start).total_seconds(), 3)
        self.report.rules_admitting_retweets = len(admitting)
        self.report.retweets = RETWEETS_NOT_RECOVERABLE if admitting else "excluded_by_rules"
        if admitting:
            log.warning(
                "catch-up: %s (%d rule(s) admit retweets; gap %.0f s)",
                RETWEETS_NOT_RECOVERABLE,
                len(admitting),
                self.report.gap_s,
            )

    def _search(self, rule: ActiveRule, found: dict[int, Any]) -> bool:
        """All pages for one rule within the budget; False when the budget or time ran out."""
        params: dict[str, Any] = {
            "query": rule.value,
            "since_id": self.since_id,
            "max_results": self.page_size,
            **self.fields,
        }
        self.report.queries.append(rule.value)
        matched = {"id": rule.id, "tag": rule.tag}
        while True:
            if self.report.pages >= self.max_pages or self.deadline.passed():
                self.report.status = "truncated" if self.report.pages else "not_run"
                self.report.detail = f"page budget ({self.max_pages}) or run time spent"
                return False
            page = self.rest.call(SEARCH_PATH, "GET", params)
            self.report.pages += 1
            users = {str(u.get("id")): u for u in (page.get("includes") or {}).get("users") or []}
            for tweet in page.get("data") or []:
                key = int(tweet["id"])
                if key in found:
                    found[key][2].append(matched)
                else:
                    author = users.get(str(tweet.get("author_id")))
                    found[key] = (tweet, author, [matched])
            token = (page.get("meta") or {}).get("next_token")
            if not token:
                return True
            params["next_token"] = token
