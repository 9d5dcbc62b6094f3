"""X batch compliance jobs, and their results turned into delete envelopes on the stream.

On pay-per-use the filtered stream carries no delete notices (compliance
streams are Enterprise-only), so a tweet deleted on X after we stored it stays
stored unless we ask. X's batch compliance endpoints answer that: create a
job (``POST /2/compliance/jobs``, type ``tweets``), upload the ids, one per
line, to the job's ``upload_url`` (a signed URL: no bearer token), poll the
job (``GET /2/compliance/jobs/{id}``) until ``complete``, then download the
results from ``download_url``: one JSON line per id X has something to say
about, e.g. ``{"id": "…", "action": "delete", "created_at": "…",
"redacted_at": "…", "reason": "deleted"}`` (reasons: deleted, protected,
suspended, deactivated; ``scrub_geo`` lines have their own action).

A ``delete`` line is exactly what :func:`chalicelib.envelope.normalize.normalize_line`
already maps to a delete envelope, so each goes onto the stream unchanged and
the consumer handles it like any delete: the item becomes a tombstone, later
copies are suppressed, whatever the reason (a protected or suspended account's
tweets are withdrawn the same way). Other actions are counted, not sent.

Which ids a job checks is :mod:`chalicelib.compliance.rotation`'s business;
the scheduled function (:mod:`chalicelib.compliance.handler`) submits a job
(:func:`submit`), and collects it (:func:`collect`) in the same run if X
finishes it in time, else in a later run (:class:`JobStillRunningError`). X's
limits live in :mod:`chalicelib.compliance.settings`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from chalicelib.envelope.normalize import normalize_line
from chalicelib.ingest.producer import KinesisProducer, encode_record
from chalicelib.ingest.sources.http_stream import USER_AGENT
from chalicelib.ingest.sources.v2_rest import V2Rest
from chalicelib.timeutil import now_iso

JOBS_PATH = "/2/compliance/jobs"
FINAL_STATUSES = frozenset({"complete", "failed", "expired"})
TRANSFER_TIMEOUT_S = 60.0


class ComplianceJobError(RuntimeError):
    """A job X did not complete (failed, expired) or did not finish in time."""


class JobStillRunningError(ComplianceJobError):
    """X has not finished the job within the polls allowed: collect it later."""


@dataclass
class ComplianceReport:
    """What one job found, for the run's summary."""

    job_id: str = ""
    status: str = ""
    ids_checked: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    other_actions: Counter[str] = field(default_factory=Counter)
    deletes_sent: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "ids_checked": self.ids_checked,
            "reasons": dict(self.reasons),
            "other_actions": dict(self.other_actions),
            "deletes_sent": self.deletes_sent,
        }


class ComplianceJobs:
    """One tweets compliance job at a time: create, upload, wait, download."""

    def __init__(
        self,
        rest: V2Rest,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 30.0,
        max_polls: int = 120,
    ) -> None:
        self.rest = rest
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.sleep = sleep
        self.poll_s = poll_s
        self.max_polls = max_polls

    def create(self, name: str) -> dict[str, Any]:
        job = self.rest.call(JOBS_PATH, "POST", json_body={"type": "tweets", "name": name})
        return dict(job["data"])

    def upload(self, job: dict[str, Any], ids: Iterable[str]) -> int:
        """PUT the ids, one a line, to the signed upload URL (no bearer token goes there)."""
        lines = [str(i) for i in ids]
        response = self.session.put(
            job["upload_url"],
            data="\n".join(lines).encode("ascii"),
            headers={"Content-Type": "text/plain"},
            timeout=TRANSFER_TIMEOUT_S,
        )
        response.raise_for_status()
        return len(lines)

    def wait(self, job_id: str) -> dict[str, Any]:
        """Poll until the job is complete; raises if X failed or expired it, or time ran out."""
        for attempt in range(self.max_polls):
            job = dict(self.rest.call(f"{JOBS_PATH}/{job_id}")["data"])
            if job.get("status") == "complete":
                return job
            if job.get("status") in FINAL_STATUSES:
                raise ComplianceJobError(f"compliance job {job_id} ended {job['status']}")
            if attempt + 1 < self.max_polls:
                self.sleep(self.poll_s)
        raise JobStillRunningError(
            f"compliance job {job_id} not complete after {self.max_polls} polls"
        )

    def results(self, job: dict[str, Any]) -> Iterator[bytes]:
        """The result lines (JSON, one per id X reports on) from the signed download URL."""
        response = self.session.get(job["download_url"], timeout=TRANSFER_TIMEOUT_S)
        response.raise_for_status()
        for line in response.content.splitlines():
            if line.strip():
                yield line.strip()


def submit(jobs: ComplianceJobs, ids: list[str], *, name: str) -> ComplianceReport:
    """Create a job and upload ``ids`` (within the upload URL's 15 minutes)."""
    report = ComplianceReport()
    job = jobs.create(name)
    report.job_id = str(job["id"])
    report.status = str(job.get("status") or "created")
    report.ids_checked = jobs.upload(job, ids)
    return report


def collect(
    jobs: ComplianceJobs,
    report: ComplianceReport,
    producer: KinesisProducer,
    *,
    now: Callable[[], str] = now_iso,
) -> ComplianceReport:
    """Wait for the job, then send a delete envelope for every ``delete`` result.

    Raises :class:`JobStillRunningError` when X is not done within the polls allowed,
    :class:`ComplianceJobError` when X failed or expired the job.
    """
    done = jobs.wait(report.job_id)
    report.status = str(done.get("status"))
    for line in jobs.results(done):
        result = json.loads(line)
        if result.get("action") != "delete":
            report.other_actions[str(result.get("action"))] += 1
            continue
        report.reasons[str(result.get("reason") or "unknown")] += 1
        for item in normalize_line(line, source_api="v2", ingested_at=now()):
            if item.envelope is not None and item.kind == "delete":
                data, key, _ = encode_record(item.envelope)
                producer.put(data, key)
                report.deletes_sent += 1
    producer.flush()
    return report


def check_tweets(
    jobs: ComplianceJobs,
    ids: list[str],
    producer: KinesisProducer,
    *,
    name: str,
    now: Callable[[], str] = now_iso,
) -> ComplianceReport:
    """Run one job over ``ids`` start to end: :func:`submit`, then :func:`collect`."""
    return collect(jobs, submit(jobs, ids, name=name), producer, now=now)
