"""The moto server as a child process: the local mode's emulated AWS, off its GIL."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

from tweetlake_local.emulator import LOCAL_APART, MotoServer

pytestmark = pytest.mark.integration


@contextmanager
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_stream_is_served_apart_from_the_tables() -> None:
    """GIVEN the local mode's servers WHEN a stream is created at the Kinesis endpoint
    THEN the Kinesis server holds it and the main one does not; reset() empties both
    and stop() frees both ports."""
    server = MotoServer(process=True, apart=LOCAL_APART).start()
    env = server.environment()
    kinesis_port = int(env["AWS_ENDPOINT_URL_KINESIS"].rsplit(":", 1)[1])
    try:
        assert env["AWS_ENDPOINT_URL"] == server.endpoint and kinesis_port != server.port
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )
        apart = session.client("kinesis", endpoint_url=env["AWS_ENDPOINT_URL_KINESIS"])
        main = session.client("kinesis", endpoint_url=server.endpoint)
        apart.create_stream(StreamName="s", ShardCount=1)
        assert apart.list_streams()["StreamNames"] == ["s"]
        assert main.list_streams()["StreamNames"] == []
        server.reset()  # both forget
        assert apart.list_streams()["StreamNames"] == []
    finally:
        server.stop()
    assert not port_open(server.port) and not port_open(kinesis_port)


def test_a_taken_port_raises_and_leaves_nothing_running() -> None:
    with held_port() as port, pytest.raises(OSError) as taken:
        MotoServer(port, process=True, apart=LOCAL_APART).start()
    assert taken.value.errno == errno.EADDRINUSE


PARENT = """
import sys
from tweetlake_local.emulator import MotoServer
server = MotoServer(process=True).start()
print(server.port, flush=True)
sys.stdin.read()
"""


def test_the_server_process_ends_when_its_parent_is_killed() -> None:
    """GIVEN a process that started a moto server process WHEN it is SIGKILLed (no
    stop() runs) THEN the server ends too and its port is free: no orphan."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    port = int(parent.stdout.readline())
    assert port_open(port)
    parent.kill()
    parent.wait(10)
    deadline = time.monotonic() + 10
    while port_open(port):
        assert time.monotonic() < deadline, f"port {port} still served after the parent died"
        time.sleep(0.1)
