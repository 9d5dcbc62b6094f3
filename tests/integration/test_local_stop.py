"""Stopping the local mode, and what a stop leaves behind.

An orderly stop (Ctrl-C, SIGINT to the run, SIGTERM) shows its progress and
exits 0, through ``make run`` too; a forced one (a second Ctrl-C) gives the
terminal back as it found it; a run started in the background with SIGINT
ignored (how a shell starts ``make run &``) still stops its API by signal, not
by the 10 s kill; ``kill -9`` leaves no process and no port; and what an older
crash left behind is named and ended by the next run.

Terminal tests run the command on a pseudo-terminal of its own: it is that
terminal's controlling process, so a ``^C`` typed there signals its foreground
process group, exactly as in a shell.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.test_local_run import (
    LocalRun,
    answered,
    assert_nothing_left,
    clean_env,
    processes_with_environment,
    start_local,
)
from tests.paths import REPO_ROOT
from tests.support import fake_twitter as ft
from tests.support.fake_twitter import FakeTwitter
from tweetlake_local.api_child import STOPPED_LINE
from tweetlake_local.api_server import ChaliceLocal
from tweetlake_local.emulator import MotoServer, aws_environment
from tweetlake_local.run import API_PID_FILE
from tweetlake_local.stage import stage_environment

pytestmark = pytest.mark.integration

STOPPED_BY_SIGNAL = STOPPED_LINE.split("{", 1)[0]  # "stopped on signal "
HIDE_CURSOR, SHOW_CURSOR = b"\x1b[?25l", b"\x1b[?25h"


@pytest.fixture
def local_runs() -> Iterator[list[LocalRun]]:
    """Every run a test starts is killed at the end, whatever happened."""
    runs: list[LocalRun] = []
    yield runs
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(10)


def api_log(home: Path) -> str:
    return (home / "logs" / "api.log").read_text(encoding="utf-8", errors="backslashreplace")


def ingested(run: LocalRun) -> int:
    for line in reversed(run.lines):
        match = re.match(r"status: +\d+ s · ingested (\d+)", line)
        if match:
            return int(match.group(1))
    return 0


@pytest.mark.slow
def test_sigint_during_a_backlog_shows_progress_and_exits_0(
    tmp_path: Path, local_runs: list[LocalRun]
) -> None:
    """GIVEN an unpaced source filling the stream WHEN the run gets SIGINT mid-load
    THEN it prints how many records are left and how many are stored while it
    drains, exits 0 with every record sent consumed, and stops the API by signal."""
    home = tmp_path / "home"
    run = start_local(home, "--rate", "0", "--tweets", "20000", "--status-every", "0.5")
    local_runs.append(run)
    run.wait_for(lambda: ingested(run) >= 500, 120, "500 records ingested")
    run.proc.send_signal(signal.SIGINT)
    assert run.finish(300) == 0, run.output
    progress = [line for line in run.lines if line.startswith("stopping: ")]
    assert progress, run.output
    assert re.search(r" · \d+ records left to consume · stored \d+ · files ", progress[0])
    summary = run.summary()
    assert summary["consumed"] == summary["sent to stream"]
    assert run.lines[-1] == "stopped cleanly"
    assert "was killed" not in run.output
    assert STOPPED_BY_SIGNAL in api_log(home)
    assert_nothing_left(run)
    assert not (home / API_PID_FILE).exists() and not (home / "run.pid").exists()


def ignoring_sigint(start: Callable[[], LocalRun]) -> LocalRun:
    """``start()`` with SIGINT ignored in the child, as a shell starts a background job."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return start()
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
def test_a_background_run_stops_its_api_by_signal(
    tmp_path: Path, local_runs: list[LocalRun]
) -> None:
    """GIVEN a run started with SIGINT ignored (``make run &`` in a script) WHEN it
    gets SIGINT THEN it stops in order and exits 0, and its API child, which
    inherited the ignored SIGINT, still stops on the signal it is sent (the stop
    does not wait 10 s to kill it)."""
    home = tmp_path / "home"
    run = ignoring_sigint(lambda: start_local(home))
    local_runs.append(run)
    run.wait_for(lambda: "Press Ctrl-C to stop." in run.lines, 120, "the banner")
    assert answered(f"{run.api}/health")
    run.proc.send_signal(signal.SIGINT)
    assert run.finish(120) == 0, run.output
    assert "was killed" not in run.output
    assert STOPPED_BY_SIGNAL in api_log(home)
    assert_nothing_left(run)


def wait_until(predicate: Callable[[], object], timeout_s: float, what: object) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what!r}")
        time.sleep(0.1)


@pytest.mark.slow
def test_kill_9_leaves_no_process_or_port_and_the_next_run_starts(
    tmp_path: Path, local_runs: list[LocalRun]
) -> None:
    """GIVEN a running local mode WHEN it is killed with SIGKILL THEN its API child
    dies with it (no orphan holding the port), and a run started next on the same
    folder starts and stops cleanly."""
    home = tmp_path / "home"
    run = start_local(home)
    local_runs.append(run)
    run.wait_for(lambda: answered(f"{run.api}/health"), 120, "the API")
    endpoint = f"AWS_ENDPOINT_URL=http://127.0.0.1:{run.aws_port}"
    assert processes_with_environment(endpoint)  # the API child
    run.proc.kill()
    run.finish(30)
    wait_until(lambda: not processes_with_environment(endpoint), 30, "the API child to exit")
    assert_nothing_left(run)

    again = start_local(home, "--tweets", "20", "--until-drained")
    local_runs.append(again)
    assert again.finish(120) == 0, again.output
    assert "left behind" not in again.output  # nothing was: the child had died
    assert again.lines[-1] == "stopped cleanly"


@pytest.fixture
def own_moto() -> Iterator[MotoServer]:
    server = MotoServer(0).start()
    yield server
    server.stop()


@pytest.mark.slow
def test_an_api_a_crashed_run_left_behind_is_named_and_ended(
    tmp_path: Path, local_runs: list[LocalRun], own_moto: MotoServer
) -> None:
    """GIVEN an API child still running, named in the state folder's api.pid (what
    a crash leaves) WHEN a run starts on that folder THEN it says which process it
    ended and why, ends it, and runs."""
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    env = {**os.environ, **stage_environment("dev"), **aws_environment(own_moto.endpoint)}
    old_log = home / "logs" / "old-api.log"
    leftover = ChaliceLocal(0, "dev", env, old_log, pid_path=home / API_PID_FILE).start()
    try:
        assert leftover.wait_ready(60), leftover.log_tail()
        assert leftover.proc is not None
        pid = leftover.proc.pid
        run = start_local(home, "--tweets", "20", "--until-drained")
        local_runs.append(run)
        assert run.finish(120) == 0, run.output
        assert f"note: stopped the API (pid {pid}) that a crashed run left behind" in run.lines
        assert leftover.proc.wait(10) is not None
    finally:
        leftover.kill()


@pytest.mark.slow
def test_a_port_held_by_a_tweetlake_api_names_it(
    tmp_path: Path, local_runs: list[LocalRun], own_moto: MotoServer
) -> None:
    """GIVEN an API child (from another run, or an older crash without a pid file)
    holding a port WHEN a run asks for that port THEN its one error line says the
    holder is tweetlake's own API and gives its pid, not just "taken"."""
    env = {**os.environ, **stage_environment("dev"), **aws_environment(own_moto.endpoint)}
    holder = ChaliceLocal(0, "dev", env, tmp_path / "holder.log").start()
    try:
        assert holder.wait_ready(60), holder.log_tail()
        assert holder.proc is not None and holder.port is not None
        ports = ("--api-port", str(holder.port), "--aws-port", "0")
        run = start_local(tmp_path / "home", ports=ports)
        local_runs.append(run)
        assert run.finish(60) == 2, run.output
        assert run.lines == [
            f"error: port {holder.port} for the API is taken by tweetlake's own API"
            f" (pid {holder.proc.pid}), from another or a crashed local mode: stop what"
            f" uses it, pass another --api-port N, or leave --api-port out to use a free port"
        ]
    finally:
        holder.stop()


@pytest.mark.slow
def test_a_second_run_on_a_folder_in_use_is_refused(
    tmp_path: Path, local_runs: list[LocalRun]
) -> None:
    home = tmp_path / "home"
    first = start_local(home)
    local_runs.append(first)
    first.wait_for(lambda: "Press Ctrl-C to stop." in first.lines, 120, "the banner")
    second = start_local(home)
    local_runs.append(second)
    assert second.finish(60) == 2, second.output
    pid = first.proc.pid
    assert second.lines == [
        f"error: another local mode (pid {pid}) is running with --dir {home}:"
        f" stop it (kill -INT {pid}) or pass another --dir"
    ]
    first.proc.send_signal(signal.SIGINT)
    assert first.finish(120) == 0, first.output


# --- on a terminal ---------------------------------------------------------------------


class TerminalRun:
    """A command on a pseudo-terminal it controls; everything it writes is kept."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        try:
            master, slave = os.openpty()
        except OSError as exc:  # a sandbox without /dev/ptmx
            pytest.skip(f"no pseudo-terminal on this machine: {exc}")
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 220, 0, 0))
        self.master = master
        self.output = bytearray()
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            # After setsid: the terminal becomes the child's controlling terminal.
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                return
            if not data:
                return
            self.output += data

    def type_ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def wait_for(self, text: bytes, timeout_s: float) -> None:
        wait_until(lambda: text in self.output or self.proc.poll() is not None, timeout_s, text)
        assert text in self.output, self.text

    def finish(self, timeout_s: float) -> int:
        code = self.proc.wait(timeout_s)
        self.reader.join(timeout_s)
        os.close(self.master)
        return code

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="backslashreplace")

    def cursor_shown_at_the_end(self) -> bool:
        return self.output.rfind(SHOW_CURSOR) > self.output.rfind(HIDE_CURSOR)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def terminal_runs() -> Iterator[list[TerminalRun]]:
    runs: list[TerminalRun] = []
    yield runs
    for run in runs:
        run.kill()


@pytest.mark.slow
def test_ctrl_c_under_make_run_exits_0_and_restores_the_cursor(
    tmp_path: Path, terminal_runs: list[TerminalRun]
) -> None:
    """GIVEN ``make run`` on a terminal (the live panel) WHEN Ctrl-C is typed THEN the
    run stops in order and make exits 0 (not 130: make did not get the SIGINT),
    with the cursor the panel hid shown again."""
    venv = Path(sys.executable).parent.parent
    args = f"--api-port 0 --aws-port 0 --dir {tmp_path / 'home'}"
    # -o: the virtualenv this test runs in is taken as built.
    argv = ["make", "-s", "-o", f"{venv}/.installed", f"VENV={venv}", "run", f"ARGS={args}"]
    run = TerminalRun(argv, clean_env())
    terminal_runs.append(run)
    run.wait_for(b"Ctrl-C: flush and stop", 120)
    run.type_ctrl_c()
    assert run.finish(120) == 0, run.text
    assert "stopped cleanly" in run.text
    assert "Error" not in run.text  # make reports no failed recipe
    assert run.cursor_shown_at_the_end()


@pytest.mark.slow
def test_a_forced_stop_restores_the_cursor_and_leaves_nothing(
    tmp_path: Path, terminal_runs: list[TerminalRun]
) -> None:
    """GIVEN a live source that has gone silent (the ingest run can notice a stop only
    between two lines, so the orderly stop waits) WHEN Ctrl-C is typed, and again
    while the stop shows its progress THEN it exits 130 at once, says the buffers
    were not flushed, shows the cursor again and leaves no process behind."""
    with FakeTwitter() as fake:
        fake.script(ft.V2_SAMPLE, ft.keepalive())  # then silent, held open
        env = clean_env(
            TWITTER_BEARER_TOKEN=fake.bearer,
            TWEETLAKE_TWITTER_API_URL=fake.url,
            TWEETLAKE_V2_STREAM="sample",
        )
        argv = [sys.executable, "-m", "tweetlake_local", "run", "--api-port", "0"]
        argv += ["--aws-port", "0", "--dir", str(tmp_path / "home")]
        run = TerminalRun(argv, env)
        terminal_runs.append(run)
        run.wait_for(b"Ctrl-C: flush and stop", 120)
        wait_until(lambda: fake.stream_count >= 1, 60, "the stream connection")
        run.type_ctrl_c()
        run.wait_for(b"stopping", 60)
        run.type_ctrl_c()
        assert run.finish(60) == 130, run.text
    assert "forced stop: buffered records were not flushed" in run.text
    assert run.cursor_shown_at_the_end()
    styled = rb"AWS emulation \(moto\)(?:\x1b\[[0-9;]*m|\s)*http://127\.0\.0\.1:(\d+)"
    aws_port = re.search(styled, run.output)
    assert aws_port is not None, run.text
    endpoint = f"AWS_ENDPOINT_URL=http://127.0.0.1:{int(aws_port.group(1))}"
    wait_until(lambda: not processes_with_environment(endpoint), 30, "no process left")
