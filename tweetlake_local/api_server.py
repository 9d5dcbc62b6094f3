"""``chalice local`` as a child process, pointed at the emulation.

It runs in its own session (process group), so a Ctrl-C in the terminal
reaches only the local mode, which then stops the API itself after the
pipeline has drained; and so that stopping it takes any child it started.
Its log goes to a file: an unread pipe would fill and stall the server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tweetlake_local.stage import REPO_ROOT


def wait_for_http(url: str, timeout_s: float, alive: subprocess.Popen[bytes] | None = None) -> bool:
    """True once ``url`` answers (any status); False on timeout or if ``alive`` exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback URL)
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except OSError:
            time.sleep(0.2)
    return False


class ChaliceLocal:
    """``chalice local --no-autoreload`` on 127.0.0.1:``port`` for ``stage``."""

    def __init__(self, port: int, stage: str, env: dict[str, str], log_path: Path) -> None:
        self.port = port
        self.stage = stage
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChaliceLocal:
        chalice = Path(sys.executable).with_name("chalice")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 (our own venv's chalice, fixed arguments)
                [
                    str(chalice),
                    "local",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--stage",
                    self.stage,
                    "--no-autoreload",
                ],
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout_s: float = 60) -> bool:
        return wait_for_http(f"{self.url}/health", timeout_s, alive=self.proc)

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def log_tail(self, chars: int = 400) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " ".join(text[-chars:].split())

    def stop(self, timeout_s: float = 10) -> None:
        """SIGINT to its process group, then SIGKILL if it lingers."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(timeout=10)
