"""Optional settings of the ingest function, with defaults.

Kept apart from :mod:`chalicelib.config` (the settings every function needs)
so the ingest knobs can grow without touching the shared loader. Same rules:
read from the environment when a run starts, and a malformed value raises
:class:`~chalicelib.config.ConfigError` naming the variable and the fix.

=============================  =======  =============================================
variable                       default  meaning
=============================  =======  =============================================
TWEETLAKE_SAFETY_MARGIN_S      30       stop reading this long before the Lambda timeout
TWEETLAKE_PRODUCER_LINGER_S    0.5      longest a record waits in the producer's buffer
TWEETLAKE_REPLAY_URI           (none)   JSON-lines file for the replay source: a local
                                        path or s3://bucket/key
TWEETLAKE_SYNTHETIC_SEED       42       seed of the synthetic source
TWEETLAKE_SYNTHETIC_RATE       50       synthetic lines per second (0: as fast as possible)
TWEETLAKE_SYNTHETIC_LIMIT      0        stop the synthetic source after this many lines
                                        (0: no limit)
TWEETLAKE_X_POST_BUDGET        3000000  posts X may bill a monthly cycle; the v2 run
                                        stops reading at it (chalicelib.ingest.budget)
=============================  =======  =============================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.aws import parse_s3_uri
from chalicelib.config import ConfigError, env_integer, env_number
from chalicelib.ingest.budget import BUDGET_SETTING, PAY_PER_USE_CAP


@dataclass(frozen=True, slots=True)
class IngestSettings:
    safety_margin_s: float = 30.0
    linger_s: float = 0.5
    replay_uri: str | None = None
    synthetic_seed: int = 42
    synthetic_rate: float = 50.0
    synthetic_limit: int = 0
    post_budget: int = PAY_PER_USE_CAP


def load_ingest_settings(env: Mapping[str, str]) -> IngestSettings:
    """Parse the optional ingest settings from an environment mapping."""
    replay_uri = env.get("TWEETLAKE_REPLAY_URI", "").strip() or None
    if replay_uri and replay_uri.startswith("s3://"):
        try:
            parse_s3_uri(replay_uri)
        except ValueError:
            raise ConfigError(
                "TWEETLAKE_REPLAY_URI",
                f"is malformed ({replay_uri!r})",
                "use s3://bucket/key or a local path",
            ) from None
    return IngestSettings(
        safety_margin_s=env_number(env, "TWEETLAKE_SAFETY_MARGIN_S", 30.0, 0.0, 900.0),
        linger_s=env_number(env, "TWEETLAKE_PRODUCER_LINGER_S", 0.5, 0.0, 60.0),
        replay_uri=replay_uri,
        synthetic_seed=env_integer(env, "TWEETLAKE_SYNTHETIC_SEED", 42, 0, 2**63 - 1),
        synthetic_rate=env_number(env, "TWEETLAKE_SYNTHETIC_RATE", 50.0, 0.0, 1_000_000.0),
        synthetic_limit=env_integer(env, "TWEETLAKE_SYNTHETIC_LIMIT", 0, 0, 10**12),
        post_budget=env_integer(env, BUDGET_SETTING, PAY_PER_USE_CAP, 1, 10**12),
    )
