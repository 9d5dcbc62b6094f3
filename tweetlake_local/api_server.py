"""The API as a child process (``chalice local``'s server), pointed at the emulation.

It runs in its own session (process group), so a Ctrl-C in the terminal
reaches only the local mode, which then stops the API itself after the
pipeline has drained; and so that stopping it takes any child it started.
It is told its parent's pid and dies with it (:mod:`tweetlake_local.api_child`),
and its pid is written to a file while it runs, so a run that finds the file
of one that crashed can name (and end) what it left behind
(:func:`end_leftover`). Its log goes to a file: an unread pipe would fill and
stall the server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tweetlake_local.api_child import PORT_LINE_RE, PORT_TAKEN_EXIT
from tweetlake_local.emulator import fallback_note
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
    """The API (:mod:`tweetlake_local.api_child`, ``chalice local --no-autoreload``) for ``stage``.

    The child binds ``port`` itself (0: a free one; with ``fallback``, a free one if
    ``port`` is taken) and prints the port it got: :meth:`wait_port` reads it from the
    log, and :attr:`url` uses it. No port is picked here and handed over, since
    another process could take it in between.
    """

    def __init__(
        self,
        port: int,
        stage: str,
        env: dict[str, str],
        log_path: Path,
        *,
        fallback: bool = False,
        pid_path: Path | None = None,
    ) -> None:
        self.requested_port = port
        self.pid_path = pid_path
        self.fallback = fallback
        self.port: int | None = None  # known once the child has bound it
        self.stage = stage
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_start = 0  # the log is appended to: this run's part starts here

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the API's port is not known before wait_port()")
        return f"http://127.0.0.1:{self.port}"

    @property
    def port_note(self) -> str:
        """`` (8000 was taken)`` if it serves elsewhere than the port asked for, else ''."""
        return fallback_note(self.requested_port, self.port or 0)

    @property
    def port_taken(self) -> bool:
        """The child exited because ``port`` was taken (and there was no fallback)."""
        return self.proc is not None and self.proc.poll() == PORT_TAKEN_EXIT

    def start(self) -> ChaliceLocal:
        argv = [sys.executable, "-m", "tweetlake_local.api_child"]
        argv += ["--port", str(self.requested_port), "--stage", self.stage]
        argv += ["--parent-pid", str(os.getpid())]
        if self.fallback:
            argv.append("--fallback")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._log_start = log.seek(0, os.SEEK_END)
            self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
                argv,
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self.pid_path is not None:
            self.pid_path.write_text(f"{self.proc.pid}\n", encoding="ascii")
        return self

    def _reported_port(self) -> int | None:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                # The port line is ASCII; the rest of the log may hold any bytes.
                text = log.read().decode("ascii", errors="backslashreplace")
        except OSError:
            return None
        match = PORT_LINE_RE.search(text)
        return int(match.group(1)) if match else None

    def wait_port(self, timeout_s: float = 60) -> int | None:
        """The port the child bound, once it prints it; None if it exits or times out first."""
        deadline = time.monotonic() + timeout_s
        while self.port is None:
            # Checked before the read, so a line printed just before exiting still counts.
            last_look = self.exited() or time.monotonic() >= deadline
            self.port = self._reported_port()
            if last_look:
                break
            if self.port is None:
                time.sleep(0.05)
        return self.port

    def wait_ready(self, timeout_s: float = 60) -> bool:
        """True once the child has bound its port and answers ``/health`` there."""
        deadline = time.monotonic() + timeout_s
        if self.wait_port(timeout_s) is None:
            return False
        remaining = max(0.0, deadline - time.monotonic())
        return wait_for_http(f"{self.url}/health", remaining, alive=self.proc)

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def log_tail(self, chars: int = 400) -> str:
        try:
            # Display only: the log's tail for an error message, odd bytes escaped.
            text = self.log_path.read_text(encoding="utf-8", errors="backslashreplace")
        except OSError:
            return ""
        return " ".join(text[-chars:].split())

    def request_stop(self) -> None:
        """SIGTERM to its process group, without waiting (:meth:`stop` waits)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)

    def stop(self, timeout_s: float = 10) -> bool:
        """SIGTERM to its process group, then SIGKILL if it lingers: False if it had to."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            self._forget_pid()
            return True
        try:
            self.request_stop()
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        except ProcessLookupError:
            pass
        self._forget_pid()
        return True

    def kill(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            self._forget_pid()
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        proc.wait(timeout=10)
        self._forget_pid()

    def _forget_pid(self) -> None:
        if self.pid_path is not None:
            self.pid_path.unlink(missing_ok=True)


def process_command_line(pid: int) -> str | None:
    """``pid``'s command line (Linux /proc), or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # A zombie (exited, not yet reaped) has an empty command line: gone too.
    return raw.replace(b"\0", b" ").decode("utf-8", errors="backslashreplace").strip() or None


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on ``port``, any address (Linux /proc/net)."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/net/{table}").read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local = fields[1]
            if fields[3] == "0A" and local.endswith(f":{port:04X}"):  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def port_holder(port: int) -> tuple[int, str] | None:
    """(pid, command line) of a process of this user listening on ``port``, if found.

    Linux only (/proc); other users' processes cannot be seen, and then None.
    """
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(proc.name), process_command_line(int(proc.name)) or ""
    return None


def end_leftover(pid_path: Path, timeout_s: float = 5) -> int | None:
    """End the API a crashed run left behind, if ``pid_path`` names one: its pid, else None.

    The pid is trusted only if that process is still an API child (its command
    line says so): a pid reused by an unrelated process is left alone. The file
    is removed either way.
    """
    try:
        pid = int(pid_path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        pid_path.unlink(missing_ok=True)
        return None
    pid_path.unlink(missing_ok=True)
    command = process_command_line(pid)
    if command is None or "tweetlake_local.api_child" not in command:
        return None
    try:
        os.killpg(pid, signal.SIGTERM)  # its own session: the group is its pid
    except ProcessLookupError:
        return None
    deadline = time.monotonic() + timeout_s
    while process_command_line(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process_command_line(pid) is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    return pid
