"""docs/troubleshooting.md quotes tweetlake's own messages verbatim: trigger each one
the way a newcomer would (a clean environment, a taken port) and find it in the page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.ingest.sources.credentials import (
    CredentialRejectedError,
    Secret,
    TwitterCredentials,
)
from tests.paths import REPO_ROOT, shared_fixture

pytestmark = pytest.mark.integration

PAGE = (REPO_ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tweetlake_local", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What a new machine has: no AWS variables, no ~/.aws, no instance metadata."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TWEETLAKE_"))}
    env.update(HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true", **extra)
    return env


def test_no_credentials(tmp_path: Path) -> None:
    result = run_cli(
        ["redrive", "s3://tweetlake-dev-lake/quarantine/"],
        bare_env(tmp_path, AWS_REGION="us-east-1"),
    )
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stdout.splitlines()
    assert line in PAGE


def test_region_not_set(tmp_path: Path) -> None:
    result = run_cli(
        ["backfill", "s3://tweetlake-dev-lake/raw/", "--stage", "dev"], bare_env(tmp_path)
    )
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stdout.splitlines()
    assert line.startswith("error: config: AWS_REGION is not set: set AWS_REGION or")
    assert line in PAGE


@pytest.mark.parametrize(("flag", "shown"), [("--api-port", 8000), ("--aws-port", 4566)])
def test_port_taken(tmp_path: Path, flag: str, shown: int) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = run_cli(["run", flag, str(port)], bare_env(tmp_path))
    assert result.returncode == 2
    line = result.stdout.strip().replace(str(port), str(shown))
    assert line.startswith(f"error: port {shown} for the ")
    assert " ".join(line.split()) in " ".join(PAGE.split())


def test_twitter_401_message() -> None:
    creds = TwitterCredentials({"bearer_token": Secret("x")}, "environment")
    message = str(CredentialRejectedError(creds.describe(("bearer_token",)), 401))
    assert message in PAGE


def test_shared_fixture_skip_message() -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        shared_fixture("no-such-fixture.jsonl")
    text = str(skipped.value.msg)
    assert text.endswith("(a fresh clone without ../shared)")
    assert "not found under" in text and "(a fresh clone without ../shared)" in PAGE
