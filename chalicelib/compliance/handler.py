"""The scheduled compliance run: rotation → X batch compliance jobs → deletes on the stream.

Every hour (``COMPLIANCE_EVERY_MINUTES``) a run asks X about the stored tweets
whose hour bucket is due (:mod:`chalicelib.compliance.rotation`), one job at a
time (X allows one concurrent job per type):

1. a job left in flight by an earlier run is collected first: when X has
   finished it, its ``delete`` results (deleted, protected, suspended,
   deactivated alike: see :mod:`chalicelib.compliance.jobs`) go onto the stream
   as delete envelopes, and only then are its hours marked checked; when X is
   still working, the run ends and leaves it for the next one; a job older
   than ``TWEETLAKE_COMPLIANCE_ABANDON_HOURS`` is given up (its hours stay due);
2. then, while the Lambda has time left, the next batch of due hours is
   submitted (create + upload), recorded as in flight, and waited for within
   the run's remaining time, down to the safety margin.

Why hourly: one job at a time means the rotation's throughput is one job of at
most 100,000 ids per run. At the 3M-post monthly cap the default tiers check
about 1.9M ids a day (docs/operations.md), 19 full jobs; an hourly schedule
allows 24, a daily one 1.

The run ends with one EMF line: ``ids_checked``, ``deletes_sent``,
``hours_checked``, ``jobs_collected`` and ``due_after`` (hours due and not in
flight after this run: the "rotation falling behind" alarm watches it). The
Twitter credentials come from the same place as the ingest's
(:func:`chalicelib.ingest.sources.credentials.load_credentials`: Secrets
Manager on AWS, the environment locally), X's base URL from
``TWEETLAKE_TWITTER_API_URL`` like the live sources'.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import aws
from chalicelib.compliance.jobs import (
    ComplianceJobError,
    ComplianceJobs,
    ComplianceReport,
    JobStillRunningError,
    collect,
    submit,
)
from chalicelib.compliance.rotation import InFlight, Rotation
from chalicelib.compliance.settings import ComplianceSettings, load_compliance_settings
from chalicelib.config import get_settings
from chalicelib.emf import emf_document, emit, stdout_line
from chalicelib.ingest.producer import KinesisProducer
from chalicelib.ingest.sources.credentials import SECRET_SETTING, load_credentials
from chalicelib.ingest.sources.v2_rest import V2Rest
from chalicelib.timeutil import iso_utc

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

#: Stages whose tweets come from X with credentials to ask about them; a synthetic or
#: replay stage skips the run (and emits no metric: the alarm sees no data).
LIVE_SOURCES = ("v2", "v1.1")
#: Without a Lambda context (the local command) a run may wait this long in all.
LOCAL_BUDGET_S = 300.0


@dataclass
class ComplianceSummary:
    """What one run did; ``stopped_by``: done, deadline, job_running, job_failed, job_abandoned."""

    jobs_submitted: int = 0
    jobs_collected: int = 0
    jobs_failed: int = 0
    jobs_abandoned: int = 0
    ids_checked: int = 0
    ids_skipped: int = 0
    deletes_sent: int = 0
    hours_checked: int = 0
    due_after: int = 0
    in_flight: str | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    other_actions: Counter[str] = field(default_factory=Counter)
    stopped_by: str = "done"
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = dict(self.reasons)
        out["other_actions"] = dict(self.other_actions)
        return out

    def add(self, report: ComplianceReport, hours: int) -> None:
        self.jobs_collected += 1
        self.ids_checked += report.ids_checked
        self.deletes_sent += report.deletes_sent
        self.hours_checked += hours
        self.reasons.update(report.reasons)
        self.other_actions.update(report.other_actions)


class ComplianceRun:
    """One scheduled step of the rotation, bounded by ``time_left`` (seconds)."""

    def __init__(
        self,
        rotation: Rotation,
        jobs: ComplianceJobs,
        producer: KinesisProducer,
        options: ComplianceSettings,
        time_left: Callable[[], float],
    ) -> None:
        self.rotation = rotation
        self.jobs = jobs
        self.producer = producer
        self.options = options
        self.time_left = time_left
        self.summary = ComplianceSummary()

    def run(self) -> ComplianceSummary:
        held = self.rotation.in_flight()
        if held is None or self._finish(held):
            self._submit_while_time_allows()
        in_flight = self.rotation.in_flight()
        self.summary.in_flight = in_flight.job_id if in_flight else None
        pending = set(in_flight.hours) if in_flight else set()
        self.summary.due_after = len(set(self.rotation.due_hours()) - pending)
        return self.summary

    def _submit_while_time_allows(self) -> None:
        while True:
            if self.time_left() < self.options.poll_s:
                self.summary.stopped_by = "deadline"
                return
            batch = self.rotation.next_batch(self.options.max_ids)
            if not batch.hours:
                return
            if batch.skipped:
                self.summary.ids_skipped += batch.skipped
                log.warning(
                    "compliance: an hour holds more ids than a job (%d): %d left unchecked",
                    self.options.max_ids,
                    batch.skipped,
                )
            if not batch.ids:  # empty hours: nothing to ask X
                self.rotation.mark_checked(batch.hours, "")
                self.summary.hours_checked += len(batch.hours)
                continue
            started = self.rotation.now()
            report = submit(self.jobs, batch.ids, name=f"tweetlake-{iso_utc(started)}")
            self.summary.jobs_submitted += 1
            held = InFlight(report.job_id, batch.hours, report.ids_checked, started)
            self.rotation.hold(held)
            if not self._finish(held):
                return

    def _finish(self, held: InFlight) -> bool:
        """Collect ``held`` if X is done; False when the run should stop here."""
        self.jobs.max_polls = max(1, int(self.time_left() // self.jobs.poll_s) + 1)
        report = ComplianceReport(job_id=held.job_id, ids_checked=held.ids)
        try:
            collect(self.jobs, report, self.producer)
        except JobStillRunningError:
            age = self.rotation.now() - held.submitted_at
            if age < timedelta(hours=self.options.abandon_hours):
                self.summary.stopped_by = "job_running"
                return False
            log.warning("compliance job %s still running after %s: given up", held.job_id, age)
            self.summary.jobs_abandoned += 1
            self.rotation.release()
            self.summary.stopped_by = "job_abandoned"
            return False  # X may still count it as the one job running: submit next run
        except ComplianceJobError as exc:
            # Its hours stay due; the next run tries again (not this one: a job X
            # fails at once would otherwise spend the run and X's rate limit in a loop).
            log.warning("compliance: %s; its %d hours stay due", exc, len(held.hours))
            self.summary.jobs_failed += 1
            self.summary.stopped_by = "job_failed"
            self.rotation.release()
            return False
        # The deletes are on the stream (collect flushed them): now the hours count as checked.
        self.rotation.mark_checked(held.hours, held.job_id)
        self.rotation.release()
        self.summary.add(report, len(held.hours))
        return True


@dataclass(frozen=True)
class ComplianceDeps:
    """Clients and clocks of a run; any left None is built from settings (tests inject)."""

    dynamodb: Any = None
    kinesis: Any = None
    rest: V2Rest | None = None
    options: ComplianceSettings | None = None
    #: Monotonic clock and sleep of the polls; wall clock of the rotation.
    clock: Callable[[], float] | None = None
    sleep: Callable[[float], None] | None = None
    now: Callable[[], datetime] | None = None
    #: Seconds the run may take when there is no Lambda context (the local command).
    budget_s: float = LOCAL_BUDGET_S
    #: Run whatever the stage's source (the local command: the operator asked, with a token).
    any_source: bool = False
    metrics_sink: Callable[[str], None] | None = None


def run_budget(context: Any, margin_s: float, local_budget_s: float) -> float:
    """Seconds this run may spend: the Lambda's remaining time less the margin."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return local_budget_s
    return float(remaining()) / 1000.0 - margin_s


def build_rest(settings_region: str, options: ComplianceSettings) -> V2Rest:
    """The bearer-token client, credentials as the ingest reads them."""
    secret = os.environ.get(SECRET_SETTING, "").strip()
    secrets = aws.client("secretsmanager", settings_region) if secret else None
    bearer = load_credentials(secrets_client=secrets).bearer()
    return V2Rest(bearer, base_url=options.api_url)


def run_compliance(event: Any, context: Any, deps: ComplianceDeps | None = None) -> dict[str, Any]:
    """One scheduled run (the composition root); returns the run summary."""
    started = time.monotonic()
    deps = deps or ComplianceDeps()
    settings = get_settings()
    if settings.source not in LIVE_SOURCES and not deps.any_source:
        log.info("compliance: source %s has no X account; nothing to check", settings.source)
        return {"skipped": f"source {settings.source} has no X account"}
    options = deps.options or load_compliance_settings(os.environ)
    dynamodb = deps.dynamodb or aws.client("dynamodb", settings.region)
    kinesis = deps.kinesis or aws.client("kinesis", settings.region)
    rest = deps.rest or build_rest(settings.region, options)
    clock = deps.clock or time.monotonic
    ends_at = clock() + run_budget(context, options.safety_margin_s, deps.budget_s)
    jobs = ComplianceJobs(rest, sleep=deps.sleep or time.sleep, poll_s=options.poll_s)
    rotation = Rotation(
        dynamodb,
        settings.tweets_table,
        settings.state_table,
        horizon_days=options.horizon_days,
        tiers=options.tiers(),
        now=deps.now or (lambda: datetime.now(UTC)),
    )
    producer = KinesisProducer(kinesis, settings.stream_name, linger_s=0)
    summary = ComplianceRun(rotation, jobs, producer, options, lambda: ends_at - clock()).run()
    summary.duration_s = round(time.monotonic() - started, 3)
    result = summary.as_dict()
    log.info("compliance run %s", json.dumps(result))
    emit(metric(summary, settings.stage), deps.metrics_sink or stdout_line)
    return result


def metric(summary: ComplianceSummary, stage: str) -> dict[str, Any]:
    """The run's EMF document; ``due_after`` is what the falling-behind alarm watches."""
    return emf_document(
        {
            "due_after": (summary.due_after, "Count"),
            "ids_checked": (summary.ids_checked, "Count"),
            "deletes_sent": (summary.deletes_sent, "Count"),
            "hours_checked": (summary.hours_checked, "Count"),
            "jobs_collected": (summary.jobs_collected, "Count"),
        },
        {"stage": stage},
        {"event": "compliance_run", "function": "compliance", "stopped_by": summary.stopped_by},
    )
