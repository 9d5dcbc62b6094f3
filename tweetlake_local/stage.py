"""A Chalice stage's environment, read from ``.chalice/config.json``.

The test harness and the local mode take resource names from here, the same
place ``chalice deploy`` and ``chalice local`` take them from, so there is one
list of names.
"""

from __future__ import annotations

import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"


def stage_environment(stage: str = "dev", config_path: Path = CHALICE_CONFIG) -> dict[str, str]:
    """Merged top-level and stage ``environment_variables`` of a Chalice stage."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    stages = config.get("stages", {})
    if stage not in stages:
        raise SystemExit(
            f"config: stage {stage!r} is not in {config_path}: use one of {sorted(stages)}"
        )
    env = dict(config.get("environment_variables", {}))
    env.update(stages[stage].get("environment_variables", {}))
    return env
