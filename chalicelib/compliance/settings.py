"""X's batch compliance limits and the compliance function's settings, in one place.

X's documented limits (read 2026-12-02 from stored copies of docs.x.com
``/x-api/compliance/batch-compliance/introduction`` and developer.x.com
``…/batch-compliance/api-reference/post-compliance-jobs``; docs/operations.md
cites them):

- one concurrent job per job type ("You can run one batch job at a time"), so
  a run has at most one ``tweets`` job in flight and the rotation's rate is
  jobs per schedule period, never jobs in parallel;
- ``POST /2/compliance/jobs``: 150 requests per 15-minute window per app, far
  above one job an hour; ``GET /2/compliance/jobs/{id}`` has the same limit,
  which bounds the poll interval (15 min / 150 = 6 s: :data:`MIN_POLL_S`);
- the upload URL expires 15 minutes after the job is created, the download
  URL a week after; results arrive asynchronously (no stated processing time).

Ids per job: the brief reports "up to 100,000 ids per upload"; the stored X
pages state no number, so :data:`MAX_IDS_PER_JOB` keeps that reported figure as
the ceiling a setting may not exceed. Price: X's pay-per-use pricing lists no
price for compliance jobs (docs/operations.md gives the formula if X bills
them).

===========================================  =======  ======================================
variable                                     default  meaning
===========================================  =======  ======================================
TWEETLAKE_COMPLIANCE_HORIZON_DAYS            90       tweets older than this are not checked
TWEETLAKE_COMPLIANCE_RECENT_DAYS             7        hours younger than this are "recent"
TWEETLAKE_COMPLIANCE_RECENT_EVERY_HOURS      24       how often a recent hour is checked
TWEETLAKE_COMPLIANCE_OLDER_EVERY_HOURS       168      how often an older hour is checked
TWEETLAKE_COMPLIANCE_MAX_IDS                 100000   ids per job (at most MAX_IDS_PER_JOB)
TWEETLAKE_COMPLIANCE_POLL_S                  30       seconds between status polls (>= 6)
TWEETLAKE_COMPLIANCE_SAFETY_MARGIN_S         30       stop waiting this long before the timeout
TWEETLAKE_COMPLIANCE_ABANDON_HOURS           6        give up on a job still running after this
TWEETLAKE_TWITTER_API_URL                    X's      the same base URL the live sources use
===========================================  =======  ======================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.compliance.rotation import Tier
from chalicelib.config import ConfigError, env_integer, env_number
from chalicelib.ingest.sources.live_settings import load_api_url
from chalicelib.ingest.sources.v2_rest import DEFAULT_API_URL

#: X: app rate limit of POST /2/compliance/jobs (and of GET …/{id}) per 15-minute window.
REQUESTS_PER_15_MIN = 150
#: Reported ceiling of ids per upload (not stated in the X pages we could read).
MAX_IDS_PER_JOB = 100_000
#: The poll interval's floor: faster than 150 polls per 15 minutes (6 s) exhausts the limit.
MIN_POLL_S = 15 * 60 / REQUESTS_PER_15_MIN


@dataclass(frozen=True, slots=True)
class ComplianceSettings:
    api_url: str = DEFAULT_API_URL
    horizon_days: int = 90
    recent_days: int = 7
    recent_every_hours: int = 24
    older_every_hours: int = 168
    max_ids: int = MAX_IDS_PER_JOB
    poll_s: float = 30.0
    safety_margin_s: float = 30.0
    abandon_hours: int = 6

    def tiers(self) -> tuple[Tier, ...]:
        """Recent hours on their period, the rest on theirs (rotation.Tier)."""
        return (
            Tier(timedelta(days=self.recent_days), timedelta(hours=self.recent_every_hours)),
            Tier(None, timedelta(hours=self.older_every_hours)),
        )


def load_compliance_settings(env: Mapping[str, str]) -> ComplianceSettings:
    """Parse the compliance settings; a bad value raises ConfigError naming it."""
    horizon = env_integer(env, "TWEETLAKE_COMPLIANCE_HORIZON_DAYS", 90, 1, 3650)
    recent = env_integer(env, "TWEETLAKE_COMPLIANCE_RECENT_DAYS", 7, 0, 3650)
    if recent > horizon:
        raise ConfigError(
            "TWEETLAKE_COMPLIANCE_RECENT_DAYS",
            f"is beyond the horizon ({recent} > {horizon} days)",
            "make it at most TWEETLAKE_COMPLIANCE_HORIZON_DAYS",
        )
    return ComplianceSettings(
        api_url=load_api_url(env),
        horizon_days=horizon,
        recent_days=recent,
        recent_every_hours=env_integer(
            env, "TWEETLAKE_COMPLIANCE_RECENT_EVERY_HOURS", 24, 1, 24 * 365
        ),
        older_every_hours=env_integer(
            env, "TWEETLAKE_COMPLIANCE_OLDER_EVERY_HOURS", 168, 1, 24 * 365
        ),
        max_ids=env_integer(
            env, "TWEETLAKE_COMPLIANCE_MAX_IDS", MAX_IDS_PER_JOB, 1, MAX_IDS_PER_JOB
        ),
        poll_s=env_number(env, "TWEETLAKE_COMPLIANCE_POLL_S", 30.0, MIN_POLL_S, 600.0),
        safety_margin_s=env_number(env, "TWEETLAKE_COMPLIANCE_SAFETY_MARGIN_S", 30.0, 0.0, 900.0),
        abandon_hours=env_integer(env, "TWEETLAKE_COMPLIANCE_ABANDON_HOURS", 6, 1, 24 * 7),
    )
