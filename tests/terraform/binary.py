"""Running a real ``terraform`` binary when the machine has one (CI may not)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def terraform_binary() -> str:
    """Path of ``terraform``, or skip the test saying the check needs one."""
    found = os.environ.get("TERRAFORM_BIN") or shutil.which("terraform")
    if not found:
        pytest.skip(
            "no terraform binary on PATH (set TERRAFORM_BIN to use one): this check adds"
            " Terraform's own evaluation to the static tests, which cover the same ground"
        )
    return found


def run(
    args: list[str], cwd: Path, cli_config: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``terraform <args>`` offline: no checkpoint calls, no colours, no prompts."""
    env = {
        **os.environ,
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "TF_CLI_CONFIG_FILE": str(cli_config) if cli_config else os.devnull,
    }
    return subprocess.run(
        [terraform_binary(), *args, "-no-color"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
