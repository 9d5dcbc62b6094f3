"""Session-wide test harness: the moto server and the resources a stage uses.

Unit tests (``tests/unit``) never touch these fixtures and open no socket.
Integration tests (``tests/integration``) request ``aws``: a moto server on
127.0.0.1 started once per session, reset before each test, with the dev
stage's stream, tables and bucket created from the same definitions the local
mode uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chalicelib.aws import reset_clients
from chalicelib.config import Settings, get_settings
from tweetlake_local.emulator import MotoServer, aws_environment
from tweetlake_local.resources import create_resources
from tweetlake_local.stage import stage_environment


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
    create_resources(settings)
    yield AwsHarness(server=moto_server, settings=settings, env=env)
    reset_clients()
