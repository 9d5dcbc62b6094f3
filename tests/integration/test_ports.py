"""Servers bind their own ports: a taken one fails at once, or moves when allowed.

Every port here is one this test holds (bound to port 0, so whichever the OS had
free): no test depends on a particular port being free.
"""

from __future__ import annotations

import errno
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tweetlake_local.emulator import MotoServer, bind_loopback

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
