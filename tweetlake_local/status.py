"""The local mode's progress: a live panel on a terminal, plain lines elsewhere.

On a terminal, rich redraws a small table in place. When the output is a pipe
or a file (CI, tests, ``| tee``), a plain ``status:`` line is printed every few
seconds instead, since escape codes would only clutter a log.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tweetlake_local.pipeline import Snapshot


def venv_python() -> str:
    """The interpreter running this, as a fresh shell in the repository can type it.

    ``python -m tweetlake_local sql …`` works only with the virtualenv's python
    (DuckDB is installed there, not in the system's), which a new shell does not
    have on its PATH: hints name it, relative to the current folder when inside it.
    """
    path = Path(sys.executable)
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


@dataclass(frozen=True)
class Hints:
    """The commands the banner and panel suggest; each is run by a test
    (tests/integration/test_docs_commands.py), against a running local mode."""

    health: str
    tweets: str
    tweet: str  # ``<tweet_id>`` stands for an id from /tweets
    sql: str

    @classmethod
    def for_run(cls, api_url: str, lake: Path | None, python: str | None = None) -> Hints:
        """``lake``: the lake folder when not the default one (then ``--lake`` is added)."""
        sql = f"{python or venv_python()} -m tweetlake_local sql top_hashtags"
        if lake is not None:
            sql += f" --lake {lake}"
        return cls(
            health=f"curl {api_url}/health",
            tweets=f"curl '{api_url}/tweets?limit=5'",
            tweet=f"curl {api_url}/tweets/<tweet_id>",
            sql=sql,
        )


def lag_text(snap: Snapshot) -> str:
    seconds = snap.lag_ms / 1000
    return f"{snap.lag_records} records ({seconds:.1f} s behind)"


def files_text(snap: Snapshot) -> str:
    text = f"{snap.raw_files} raw + {snap.curated_files} Parquet"
    if snap.error_files:
        text += f" + {snap.error_files} conversion-error"
    return text


def status_line(snap: Snapshot, elapsed_s: float) -> str:
    return (
        f"status: {elapsed_s:6.0f} s · ingested {snap.sent} · stored {snap.stored}"
        f" · quarantined {snap.quarantined} · consumer lag {lag_text(snap)}"
        f" · files {files_text(snap)}"
    )


def stopping_line(note: str, snap: Snapshot) -> str:
    """The stop's progress: what is left to consume and what is stored so far."""
    return (
        f"stopping: {note} · {snap.lag_records} records left to consume"
        f" · stored {snap.stored} · files {files_text(snap)}"
    )


STOPPING_NOTE = "stopping in order · Ctrl-C again: force, buffers lost"
KEEP_ALIVE = "keep_alive"
#: How ``stored`` relates to what the API shows, printed under the counts.
API_NOTE = (
    "stored counts tweets written once; the API shows those not deleted since"
    " (a tweet stored then deleted counts in stored and in deleted; deleted also"
    " counts notices for tweets never stored)"
)


def summary_lines(snap: Snapshot, files: dict[str, int], elapsed_s: float) -> list[str]:
    """The end-of-run summary, one ``name: value`` a line (scripts can grep it).

    Every line is printed, zeros included, so a script finds the same names in
    every run.
    """
    counts = snap.consumer_counts
    types = dict(snap.control_types)
    keep_alives = types.pop(KEEP_ALIVE, 0)
    notices = snap.control - keep_alives
    lines = [
        f"read: {snap.read}",
        f"sent to stream: {snap.sent}",
        f"delete notices sent: {snap.deletes}",
        f"consumed: {snap.consumer_records}",
        f"stored: {snap.stored}",
        *(f"{key}: {counts.get(key, 0)}" for key in ("duplicates", "deleted", "suppressed")),
        f"keep-alives: {keep_alives}",
        f"notices: {notices}",
        "notice types: "
        + (", ".join(f"{name} {n}" for name, n in sorted(types.items())) or "none"),
        f"quarantined: {snap.quarantined}",
        "files written: "
        + ", ".join(f"{n} {name}" for name, n in files.items())
        + f" ({sum(files.values())})",
        f"elapsed: {elapsed_s:.1f} s",
        f"note: {API_NOTE}",
    ]
    return lines


class Status:
    """Shows a :class:`Snapshot` now and then; ``live`` picks the rich panel."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        header: list[tuple[str, str]],
        *,
        live: bool | None = None,
        every_s: float = 5.0,
        out: TextIO = sys.stdout,
    ) -> None:
        self._snapshot = snapshot
        self._header = header
        self._live_wanted = out.isatty() if live is None else live
        self._every_s = every_s
        self._out = out
        self._started = time.monotonic()
        self._last_line = 0.0
        self._last_progress: float | None = None
        self._live: Any = None

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def start(self) -> None:
        if self._live_wanted:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(
                self._panel(),
                console=Console(file=self._out),
                refresh_per_second=4,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        else:
            for name, value in self._header:
                print(f"{name:<21}: {value}", file=self._out, flush=True)

    def tick(self, note: str | None = None) -> None:
        if self._live is not None:
            self._live.update(self._panel(note))
            return
        now = time.monotonic()
        if now - self._last_line >= self._every_s:
            self._last_line = now
            print(status_line(self._snapshot(), self.elapsed_s), file=self._out, flush=True)

    def progress(self, note: str) -> None:
        """The orderly stop's progress: the panel's records-left row redrawn, or a
        ``stopping:`` line at once and then every few seconds."""
        snap = self._snapshot()
        if self._live is not None:
            left = f"{note} · {snap.lag_records} records left to consume"
            self._live.update(self._panel(STOPPING_NOTE, stopping=left, snap=snap))
            return
        now = time.monotonic()
        if self._last_progress is None or now - self._last_progress >= self._every_s:
            self._last_progress = now
            print(stopping_line(note, snap), file=self._out, flush=True)

    def abandon(self) -> None:
        """A forced stop: no redraw (the process exits now), but the cursor the
        panel hid is shown again and the prompt starts on a line of its own."""
        if self._live is not None:
            self._out.write("\x1b[?25h\n")
            self._out.flush()

    def say(self, text: str) -> None:
        """A line above the panel (or in the log)."""
        if self._live is not None:
            self._live.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self._out, flush=True)

    def stop(self) -> None:
        if self._live is not None:
            self._live.update(self._panel())
            self._live.stop()
            self._live = None

    def _panel(
        self, note: str | None = None, *, stopping: str | None = None, snap: Snapshot | None = None
    ) -> Any:
        from rich.panel import Panel
        from rich.table import Table

        snap = snap or self._snapshot()
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for name, value in self._header:
            table.add_row(name, value)
        table.add_row("", "")
        ingest = f"{snap.sent} records into the stream ({snap.read} lines read"
        ingest += f" in {snap.ingest_runs} finished runs"
        ingest += ", a run is reading)" if snap.ingest_running else ")"
        table.add_row("ingested", ingest)
        table.add_row("stored", f"{snap.stored} tweets in DynamoDB")
        table.add_row("quarantined", str(snap.quarantined))
        keep_alives = snap.control_types.get(KEEP_ALIVE, 0)
        table.add_row("keep-alives", str(keep_alives))
        table.add_row("notices", str(snap.control - keep_alives))
        table.add_row("consumer lag", lag_text(snap))
        table.add_row("files written", files_text(snap))
        if snap.last_error:
            table.add_row("last ingest error", snap.last_error)
        if stopping:
            table.add_row("stopping", stopping)
        title = f"tweetlake local · {self.elapsed_s:.0f} s"
        subtitle = note or "Ctrl-C: flush and stop · twice: force"
        return Panel(table, title=title, subtitle=subtitle, expand=False)
