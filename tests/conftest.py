"""Session-wide test harness: clock travel, the moto server and a stage's resources.

``TWEETLAKE_SHIFT_DAYS=N`` (``make test-future``) moves this process's wall
clock N days ahead for the whole run, collection included, so a test that
compares a fixed date with the real now fails today rather than next year.
time-machine patches ``time.time``, ``datetime.now`` and friends in every
thread of the process (the in-thread moto server too); ``time.monotonic`` and
child processes keep the real clock.

Unit tests (``tests/unit``) never touch these fixtures and open no socket.
Integration tests (``tests/integration``) request ``aws``: a moto server on
127.0.0.1 started once per session, reset before each test, with the dev
stage's stream, tables and bucket created from the same definitions the local
mode uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.aws import reset_clients
from chalicelib.config import Settings, get_settings
from tweetlake_local.emulator import MotoServer, aws_environment
from tweetlake_local.resources import create_resources
from tweetlake_local.stage import stage_environment

SHIFT_ENV = "TWEETLAKE_SHIFT_DAYS"
#: The harness's stream has two shards (the local mode: the dev stage's one), so
#: that per-shard order and interleaving across shards are exercised.
HARNESS_SHARDS = 2


def shift_days() -> int:
    """Days the wall clock is moved ahead for this run (0: the real clock)."""
    raw = os.environ.get(SHIFT_ENV, "").strip()
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError:
        message = f"{SHIFT_ENV} must be a whole number of days, got {raw!r}"
        raise pytest.UsageError(message) from None


def pytest_configure(config: pytest.Config) -> None:
    """Start the clock travel before collection, so module-level times shift too."""
    days = shift_days()
    if days:
        import time_machine

        traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
        traveller.start()
        config.stash[_TRAVELLER] = traveller


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_TRAVELLER, None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> list[str]:
    days = shift_days()
    return [f"clock: {days} days ahead, now {datetime.now(UTC):%Y-%m-%dT%H:%MZ}"] if days else []


_TRAVELLER: pytest.StashKey[object] = pytest.StashKey()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Layers by marker (``make test-unit`` / ``test-integration``): a test under
    tests/integration must carry ``integration``, and no other test may."""
    wrong = sorted(
        {
            item.nodeid.split("::")[0]
            for item in items
            if ("integration" in item.path.parts)
            != (item.get_closest_marker("integration") is not None)
        }
    )
    if wrong:
        raise pytest.UsageError(
            "the integration marker must be on every test under tests/integration and on no"
            f" other: {', '.join(wrong)}"
        )


@dataclass
class AwsHarness:
    server: MotoServer
    settings: Settings
    env: dict[str, str]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsHarness]:
    """A clean emulated account with the dev stage's resources; env points boto3 at it."""
    moto_server.reset()
    env = {**stage_environment("dev"), **aws_environment(moto_server.endpoint)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_clients()
    settings = get_settings()
    create_resources(settings, shards=HARNESS_SHARDS)
    yield AwsHarness(server=moto_server, settings=settings, env=env)
    reset_clients()
