"""Servers bind their own ports: a taken one fails at once, or moves when allowed.

Every port here is one this test holds (bound to port 0, so whichever the OS had
free): no test depends on a particular port being free.
"""

from __future__ import annotations

import errno
import os
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tweetlake_local.api_child import PORT_LINE
from tweetlake_local.api_server import ChaliceLocal
from tweetlake_local.emulator import MotoServer, aws_environment, bind_loopback
from tweetlake_local.stage import stage_environment

pytestmark = pytest.mark.integration


@contextmanager
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_bind_loopback_moves_a_taken_port_only_when_allowed() -> None:
    with held_port() as port:
        with pytest.raises(OSError) as taken:
            bind_loopback(port)
        assert taken.value.errno == errno.EADDRINUSE
        with bind_loopback(port, fallback=True) as sock:
            host, moved = sock.getsockname()
    assert host == "127.0.0.1" and moved not in (0, port)


def test_moto_server_on_a_taken_port_raises_instead_of_waiting() -> None:
    """moto's ThreadedMotoServer binds in its thread and waits forever on a taken port;
    MotoServer binds before it starts the thread, so the caller hears of it."""
    with held_port() as port, pytest.raises(OSError) as taken:
        MotoServer(port).start()
    assert taken.value.errno == errno.EADDRINUSE


def test_moto_server_falls_back_and_reports_the_port_it_got() -> None:
    with held_port() as port:
        server = MotoServer(port, fallback=True).start()
        try:
            assert server.port != port
            assert server.endpoint == f"http://127.0.0.1:{server.port}"
            assert server.port_note == f" ({port} was taken)"
            server.reset()  # it answers there
        finally:
            server.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0  # stopped: port released


def test_moto_server_on_port_0_gets_a_free_one() -> None:
    server = MotoServer().start()
    try:
        assert server.port > 0 and server.port_note == ""
        url = f"{server.endpoint}/moto-api/"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
    finally:
        server.stop()


@pytest.fixture
def api_env(moto_server: MotoServer) -> dict[str, str]:
    return {**os.environ, **stage_environment("dev"), **aws_environment(moto_server.endpoint)}


def test_api_child_reports_the_port_it_bound(api_env: dict[str, str], tmp_path: Path) -> None:
    """``chalice local --port 0`` would print port 0: the child prints the real one."""
    api = ChaliceLocal(0, "dev", api_env, tmp_path / "api.log").start()
    try:
        assert api.wait_ready(60), api.log_tail()
        assert api.port and api.url == f"http://127.0.0.1:{api.port}"
        assert api.port_note == ""
    finally:
        api.stop()


def test_api_child_on_a_taken_port(api_env: dict[str, str], tmp_path: Path) -> None:
    """Explicit: it exits saying so (the parent names the flag). Fallback: it moves."""
    with held_port() as port:
        log = tmp_path / "api.log"
        log.write_text(PORT_LINE.format(port=1) + "\n")  # an earlier run's line: not ours
        strict = ChaliceLocal(port, "dev", api_env, log).start()
        assert not strict.wait_ready(60)
        assert strict.port_taken and strict.port is None
        moved = ChaliceLocal(port, "dev", api_env, log, fallback=True).start()
        try:
            assert moved.wait_ready(60), moved.log_tail()
            assert moved.port not in (None, 1, port)
            assert moved.port_note == f" ({port} was taken)"
        finally:
            moved.stop()
