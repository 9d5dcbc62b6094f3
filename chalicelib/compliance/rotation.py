"""Which stored tweets the next compliance job checks: hour buckets on a rotation.

The unit of the rotation is the hour bucket the tweets table already indexes
(``by_time``: ``created_hour`` → ``created_key`` = ``<created_at>#<tweet_id>``),
so a bucket's ids come from one paginated Query and a tombstone, which has no
``created_hour``, is never checked again. Which buckets hold tweets comes from
the consumer's directory of non-empty hours (state table, ``pk="hours"``).
Each bucket's last check lives in the state table (``pk="compliance"``,
``sk=<hour>``). A bucket is due when it was never checked, or when its tier's
period has passed since: by default hours
younger than 7 days every day, older ones every week, back to the horizon
(``horizon_days``). The most overdue buckets go first, so a rotation that
falls behind catches up oldest-debt first, and :attr:`RotationBatch.due_after`
says how many are still due after this batch (what an alarm should watch).

How stale a deletion can get: a tweet deleted on X is seen at the next check of
its hour, so within a day while the tweet is younger than 7 days and within a
week after, as long as the rotation keeps up (``due_after`` stays 0).

One job at a time (X's limit): the job in flight, with the hours it covers,
is the state item ``sk="#job"`` (:meth:`Rotation.hold`), so a run that ends
before X finishes leaves it for the next run to collect rather than a second
job; its hours are marked only once its results are on the stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.dynamo.items import HOURS_PK, tweet_id_of
from chalicelib.dynamo.repository import DynamoRepository
from chalicelib.timeutil import iso_utc, parse_iso

ROTATION_PK = "compliance"
HOUR_FORMAT = "%Y-%m-%dT%H"
BATCH_GET_KEYS = 100
#: Ids a Query page brings at most: DynamoDB's 1 MB page holds ~16,000 of them; an
#: emulator without that limit would otherwise hand over a whole hour in one answer.
IDS_PAGE = 10_000
#: The state item of the job in flight ('#' sorts before every hour and is never one).
IN_FLIGHT_SK = "#job"


@dataclass(frozen=True, slots=True)
class Tier:
    """Hours younger than ``younger_than`` (None: any age) are checked every ``every``."""

    younger_than: timedelta | None
    every: timedelta


DEFAULT_TIERS = (
    Tier(timedelta(days=7), timedelta(days=1)),
    Tier(None, timedelta(days=7)),
)


@dataclass
class RotationBatch:
    """The ids of the next job, the hours they come from, and how much is still due."""

    hours: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    due_after: int = 0
    #: Ids left out: an hour holding more than a whole job is checked for its first
    #: ``max_ids`` (the oldest); the rest are counted here and logged by the caller.
    skipped: int = 0


@dataclass(frozen=True)
class InFlight:
    """The job X is working on: its id, the hours it covers, when it was submitted."""

    job_id: str
    hours: list[str]
    ids: int
    submitted_at: datetime


class Rotation:
    """Reads due hour buckets and their ids; marks buckets checked once their job is done."""

    def __init__(
        self,
        dynamodb: Any,
        tweets_table: str,
        state_table: str,
        *,
        horizon_days: int = 90,
        tiers: tuple[Tier, ...] = DEFAULT_TIERS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dynamodb = dynamodb
        self._tweets = tweets_table
        self._state = state_table
        self._horizon = timedelta(days=horizon_days)
        self._tiers = tiers
        self._now = now

    def next_batch(self, max_ids: int) -> RotationBatch:
        """Whole due buckets, most overdue first, while they fit in ``max_ids``."""
        batch = RotationBatch()
        due = self.due_hours()
        for position, hour in enumerate(due):
            ids = list(self.ids_of(hour))
            if batch.ids and len(batch.ids) + len(ids) > max_ids:
                batch.due_after = len(due) - position
                break
            batch.hours.append(hour)
            batch.skipped += max(0, len(ids) - max_ids)
            batch.ids += ids[:max_ids]
        return batch

    def due_hours(self) -> list[str]:
        now = self._now()
        hours = self._hours(now)
        checked = self._last_checked(hours)
        overdue: list[tuple[timedelta, str]] = []
        for hour in hours:
            period = self._period(now - datetime.strptime(hour, HOUR_FORMAT).replace(tzinfo=UTC))
            last = checked.get(hour)
            late = now - last - period if last is not None else self._horizon
            if last is None or late >= timedelta(0):
                overdue.append((late, hour))
        return [hour for _, hour in sorted(overdue, key=lambda x: (-x[0], x[1]))]

    def ids_of(self, hour: str) -> Iterator[str]:
        pages = self._dynamodb.get_paginator("query").paginate(
            TableName=self._tweets,
            IndexName="by_time",
            KeyConditionExpression="created_hour = :h",
            ExpressionAttributeValues={":h": {"S": hour}},
            ProjectionExpression="created_key",
            PaginationConfig={"PageSize": IDS_PAGE},
        )
        for page in pages:
            for item in page["Items"]:
                tweet_id = tweet_id_of(item["created_key"]["S"])
                if tweet_id.isdigit():  # X's compliance knows X ids; Bluesky deletes come live
                    yield tweet_id

    def mark_checked(self, hours: list[str], job_id: str) -> None:
        at = iso_utc(self._now())
        items = [
            {"pk": ROTATION_PK, "sk": hour, "checked_at": at, "job_id": job_id} for hour in hours
        ]
        DynamoRepository(self._dynamodb).put_many([(self._state, item) for item in items])

    def hold(self, job: InFlight) -> None:
        """Record the job in flight before waiting on it (a run may end first)."""
        self._dynamodb.put_item(
            TableName=self._state,
            Item={
                "pk": {"S": ROTATION_PK},
                "sk": {"S": IN_FLIGHT_SK},
                "job_id": {"S": job.job_id},
                "hours": {"L": [{"S": h} for h in job.hours]},
                "ids": {"N": str(job.ids)},
                "submitted_at": {"S": iso_utc(job.submitted_at)},
            },
        )

    def in_flight(self) -> InFlight | None:
        answer = self._dynamodb.get_item(
            TableName=self._state,
            Key={"pk": {"S": ROTATION_PK}, "sk": {"S": IN_FLIGHT_SK}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if not item:
            return None
        return InFlight(
            job_id=item["job_id"]["S"],
            hours=[h["S"] for h in item["hours"]["L"]],
            ids=int(item["ids"]["N"]),
            submitted_at=parse_iso(item["submitted_at"]["S"]),
        )

    def release(self) -> None:
        """The job in flight is collected or given up: the next run may submit another."""
        self._dynamodb.delete_item(
            TableName=self._state, Key={"pk": {"S": ROTATION_PK}, "sk": {"S": IN_FLIGHT_SK}}
        )

    def now(self) -> datetime:
        return self._now()

    def _period(self, age: timedelta) -> timedelta:
        for tier in self._tiers:
            if tier.younger_than is None or age < tier.younger_than:
                return tier.every
        return self._tiers[-1].every

    def _hours(self, now: datetime) -> list[str]:
        """The non-empty hour buckets from the horizon up to the current hour.

        The consumer keeps their directory in the state table (``pk="hours"``, the
        API's feed reads it too), so one paginated Query replaces one per hour of
        the horizon (2,160 at 90 days); an hour with no tweet needs no check.
        """
        start = (now - self._horizon).strftime(HOUR_FORMAT)
        pages = self._dynamodb.get_paginator("query").paginate(
            TableName=self._state,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": HOURS_PK},
                ":lo": {"S": start},
                ":hi": {"S": now.strftime(HOUR_FORMAT)},
            },
            ProjectionExpression="sk",
            ConsistentRead=True,
        )
        return [item["sk"]["S"] for page in pages for item in page["Items"]]

    def _last_checked(self, hours: list[str]) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        for i in range(0, len(hours), BATCH_GET_KEYS):
            keys = [
                {"pk": {"S": ROTATION_PK}, "sk": {"S": h}} for h in hours[i : i + BATCH_GET_KEYS]
            ]
            request: dict[str, Any] = {self._state: {"Keys": keys, "ConsistentRead": True}}
            while request:
                answer = self._dynamodb.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self._state, []):
                    out[item["sk"]["S"]] = parse_iso(item["checked_at"]["S"])
                request = answer.get("UnprocessedKeys") or {}
        return out


def run_rotation(
    rotation: Rotation,
    check: Callable[[list[str]], tuple[str, dict[str, Any]]],
    *,
    max_ids: int,
) -> dict[str, Any]:
    """One scheduled step: the due buckets that fit one job, checked, then marked.

    ``check`` runs the job over the ids and returns ``(job id, its summary)``
    (:func:`chalicelib.compliance.jobs.check_tweets` in production). Buckets are
    marked only after their job completed, so a failed job leaves them due.
    """
    batch = rotation.next_batch(max_ids)
    job_id, job = ("", {}) if not batch.ids else check(batch.ids)
    rotation.mark_checked(batch.hours, job_id)
    return {
        "hours_checked": len(batch.hours),
        "ids_checked": len(batch.ids),
        "hours_still_due": batch.due_after,
        "job": job,
    }
