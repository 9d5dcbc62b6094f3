"""The stop's parts that need no server: progress text, hints, leftovers, the parent watch.

The whole stop (signals, a terminal, make, ``kill -9``) is exercised end to end
in tests/integration/test_local_stop.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.paths import REPO_ROOT
from tests.unit.test_local_mode import snapshot
from tweetlake_local.api_child import watch_parent
from tweetlake_local.api_server import end_leftover, process_command_line
from tweetlake_local.status import Hints, Status, stopping_line, venv_python


def test_stopping_line_says_what_is_left_and_what_is_stored() -> None:
    snap = snapshot(lag_records=120, stored=4_500, raw_files=2, curated_files=3)
    line = stopping_line("draining the stream", snap)
    assert line == (
        "stopping: draining the stream · 120 records left to consume · stored 4500"
        " · files 2 raw + 3 Parquet"
    )


def test_progress_prints_at_once_then_every_few_seconds() -> None:
    """Plain output: the first progress line at once (a stop never looks frozen), the
    next only after ``every_s``."""
    out = io.StringIO()
    status = Status(lambda: snapshot(), [], live=False, every_s=3600, out=out)
    status.progress("flushing the ingest run")
    status.progress("draining the stream")
    assert out.getvalue().splitlines() == [
        stopping_line("flushing the ingest run", snapshot()),
    ]


def test_abandon_shows_the_cursor_only_for_the_panel() -> None:
    out = io.StringIO()
    Status(lambda: snapshot(), [], live=False, out=out).abandon()
    assert out.getvalue() == ""


def test_hints_name_the_interpreter_a_new_shell_can_use() -> None:
    hints = Hints.for_run("http://127.0.0.1:8000", None, python=".venv/bin/python")
    assert hints.health == "curl http://127.0.0.1:8000/health"
    assert hints.tweets == "curl 'http://127.0.0.1:8000/tweets?limit=5'"
    assert hints.tweet == "curl http://127.0.0.1:8000/tweets/<tweet_id>"
    assert hints.sql == ".venv/bin/python -m tweetlake_local sql top_hashtags"
    custom = Hints.for_run("http://127.0.0.1:1", Path("/tmp/lake"), python="/venv/bin/python")
    assert custom.sql == "/venv/bin/python -m tweetlake_local sql top_hashtags --lake /tmp/lake"
    # This interpreter, relative to the current folder when inside it.
    assert Path(venv_python()).resolve() == Path(sys.executable).resolve()


def test_an_unrelated_process_named_in_api_pid_is_left_alone(tmp_path: Path) -> None:
    """GIVEN api.pid naming a pid now used by another program THEN it is not signalled,
    and the stale file is removed."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = tmp_path / "api.pid"
        pid_file.write_text(f"{other.pid}\n", encoding="ascii")
        assert end_leftover(pid_file) is None
        assert other.poll() is None
        assert not pid_file.exists()
    finally:
        other.kill()
        other.wait(10)


def test_a_leftover_api_child_is_ended(tmp_path: Path) -> None:
    """GIVEN api.pid naming a live process started as the API child (here one that only
    waits: no server is needed to recognise it) THEN it is ended and its pid returned."""
    code = "import time; time.sleep(60)"
    child = subprocess.Popen(
        [sys.executable, "-c", code, "tweetlake_local.api_child"],
        cwd=REPO_ROOT,
        start_new_session=True,
    )
    try:
        # The command line appears once the child has exec'd: wait for it, however slow.
        deadline = time.monotonic() + 30
        while "tweetlake_local.api_child" not in (process_command_line(child.pid) or ""):
            assert time.monotonic() < deadline, "the child never showed its command line"
            time.sleep(0.05)
        pid_file = tmp_path / "api.pid"
        pid_file.write_text(f"{child.pid}\n", encoding="ascii")
        assert end_leftover(pid_file) == child.pid
        assert child.wait(10) is not None
    finally:
        child.kill()
        child.wait(10)


def test_a_garbled_pid_file_is_removed(tmp_path: Path) -> None:
    pid_file = tmp_path / "api.pid"
    pid_file.write_text("not a pid", encoding="ascii")
    assert end_leftover(pid_file) is None
    assert not pid_file.exists()
    assert end_leftover(tmp_path / "absent.pid") is None


def test_the_parent_watch_fires_once_the_parent_is_not_the_one_given() -> None:
    """The watch compares its process's parent with the pid it was given: a different
    one means the parent died and the process was adopted."""
    gone = threading.Event()
    watch_parent(os.getppid() + 1_000_000, gone.set, every_s=0.01)  # not our parent
    assert gone.wait(10)
