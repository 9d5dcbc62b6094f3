"""The README's run command brings the stack up offline and stops cleanly."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.paths import REPO_ROOT
from tweetlake_local.emulator import free_port


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: dict[str, object] = json.loads(response.read())
        return body


@pytest.mark.slow
def test_run_serves_health_then_exits_cleanly() -> None:
    api_port, aws_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tweetlake_local",
            "run",
            "--duration",
            "6",
            "--api-port",
            str(api_port),
            "--aws-port",
            str(aws_port),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and body is None:
            try:
                body = get_json(f"http://127.0.0.1:{api_port}/health")
            except OSError:
                time.sleep(0.3)
        assert body is not None and body["status"] == "ok"
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill() if proc.poll() is None else None
    assert proc.returncode == 0, out
    assert "stopped cleanly" in out
    with socket.socket() as sock:  # nothing left listening
        assert sock.connect_ex(("127.0.0.1", api_port)) != 0


def test_taken_port_is_one_clear_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "tweetlake_local", "run", "--api-port", str(port)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stdout.strip() == (
        f"error: port {port} for the API is taken: stop what uses it or pass --api-port N"
    )
