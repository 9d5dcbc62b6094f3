"""The command line as a shell user meets it: pipes that close, folders that are not there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT
from tweetlake_local.cli import main


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """GIVEN stdout is a pipe whose reader has gone (``… | head``) WHEN a command prints
    THEN it exits 1 with nothing on stderr, not a BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tweetlake_local", "cost", "--table", "--markdown"],
            cwd=REPO_ROOT,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")


def test_sql_on_a_lake_that_is_not_there_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo"
    assert main(["sql", "top_hashtags", "--lake", str(missing)]) == 2
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"error: no lake at {missing}: pass --lake DIR")
    (tmp_path / "empty").mkdir()
    assert main(["sql", "top_hashtags", "--lake", str(tmp_path / "empty")]) == 0
