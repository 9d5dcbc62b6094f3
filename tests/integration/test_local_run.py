"""The README's run command, as a newcomer types it: a subprocess on free ports.

No test picks a port for the local mode: it binds its own (``--api-port 0
--aws-port 0``, or a taken default moved to a free port) and the test reads the
ports it got from the banner it prints.

These start the whole local mode (moto server, ``chalice local``, the ingest
schedule, the Kinesis readers and the Firehose deliveries) and talk to it over
HTTP; the lake it writes is read back with DuckDB and the ``sql`` subcommand.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.paths import OWN_TWITTER, REPO_ROOT
from tests.support.fake_twitter import FakeTwitter

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def answered(url: str) -> tuple[int, Any] | None:
    """``(200, body)`` once ``url`` answers 200; None while it refuses or errs."""
    try:
        status, body = get(url)
    except OSError:
        return None
    return (status, body) if status == 200 else None


BANNER = {
    "api": re.compile(r"^API +: http://127\.0\.0\.1:(\d+)"),
    "aws": re.compile(r"^AWS emulation \(moto\) +: http://127\.0\.0\.1:(\d+)"),
}


@dataclass
class LocalRun:
    """The local mode as a child process, its output collected by a reader thread."""

    proc: subprocess.Popen[str]
    home: Path
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def finish(self, timeout_s: float) -> int:
        """Wait for the exit and for the reader to take every line (EOF), however slow."""
        code = self.proc.wait(timeout_s)
        if self.reader is not None:
            self.reader.join(timeout_s)
        return code

    def banner_port(self, name: str) -> int | None:
        """The port the banner shows for ``name`` ("api", "aws"); None before it is printed."""
        for line in self.lines:
            match = BANNER[name].match(line)
            if match:
                return int(match.group(1))
        return None

    @property
    def api_port(self) -> int:
        port = self.wait_for(lambda: self.banner_port("api"), 60, "the banner's API address")
        return int(port)

    @property
    def aws_port(self) -> int:
        port = self.banner_port("aws")
        assert port is not None, f"no AWS emulation address in the banner:\n{self.output}"
        return port

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def banner_line(self, name: str) -> str:
        return next(line for line in self.lines if BANNER[name].match(line))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, predicate: Any, timeout_s: float, what: str) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; output:\n{self.output}")

    def summary(self) -> dict[str, str]:
        start = self.lines.index("summary:")
        pairs = (line.strip().split(": ", 1) for line in self.lines[start + 1 :])
        return {k: v for k, v in (p for p in pairs if len(p) == 2)}


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Twitter credentials (they would pick the live source)."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("TWITTER_")}
    return {**kept, **extra}


ANY_PORTS = ("--api-port", "0", "--aws-port", "0")  # each server binds a port the OS picks


def start_local(
    home: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    ports: tuple[str, ...] = ANY_PORTS,
) -> LocalRun:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tweetlake_local",
            "run",
            *ports,
            "--dir",
            str(home),
            "--status",
            "lines",
            *extra,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env if env is not None else clean_env(),
    )
    run = LocalRun(proc, home)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            run.lines.append(line.rstrip("\n"))

    run.reader = threading.Thread(target=read, daemon=True)
    run.reader.start()
    return run


@pytest.fixture
def local_runs() -> Iterator[list[LocalRun]]:
    """Every run started by a test is killed at the end, whatever happened."""
    runs: list[LocalRun] = []
    yield runs
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait(10)


def processes_with_environment(entry: str) -> list[str]:
    """Command lines of live processes started with ``entry`` ("NAME=value") in their
    environment (Linux /proc). The run's children are started with its moto server's
    address, which no other process has."""
    found = []
    wanted = entry.encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if wanted not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append(f"{proc.name}: {cmdline}")
    return found


def assert_nothing_left(run: LocalRun) -> None:
    for port in (run.api_port, run.aws_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    endpoint = f"AWS_ENDPOINT_URL=http://127.0.0.1:{run.aws_port}"
    assert processes_with_environment(endpoint) == []


@contextmanager
def held_port(listen: bool = True) -> Iterator[int]:
    """A port this test holds (bound to port 0, so whichever was free): taken for others."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        if listen:
            sock.listen()
        yield int(sock.getsockname()[1])


def stored_count(run: LocalRun) -> int:
    for line in reversed(run.lines):
        if line.startswith("status:"):
            return int(line.split("· stored ")[1].split(" ")[0])
    return 0


@pytest.mark.slow
def test_local_mode_serves_tweets_fills_the_lake_and_stops_on_sigint(
    tmp_path: Path, local_runs: list[LocalRun]
) -> None:
    """GIVEN the local mode on free ports with the synthetic source WHEN tweets flow
    THEN the API serves them, and after SIGINT the lake on disk holds every record
    that entered the stream, DuckDB reads its Parquet, a named query answers from it,
    and no process or port is left behind."""
    run = start_local(
        tmp_path / "home",
        "--rate",
        "100",
        "--schedule",
        "20",
        "--batching-window",
        "0.5",
        "--flush-seconds",
        "1",
        "--status-every",
        "0.5",
    )
    local_runs.append(run)
    _, body = run.wait_for(lambda: answered(f"{run.api}/health"), 60, "GET /health")
    assert body["status"] == "ok"
    run.wait_for(lambda: stored_count(run) >= 50, 60, "50 stored tweets")

    _, page = run.wait_for(
        lambda: (r := answered(f"{run.api}/tweets?limit=5")) and r[1]["items"] and r,
        30,
        "GET /tweets to list tweets",
    )
    tweet_id = page["items"][0]["tweet_id"]
    status, tweet = get(f"{run.api}/tweets/{tweet_id}")
    assert status == 200 and tweet["tweet_id"] == tweet_id

    run.proc.send_signal(signal.SIGINT)
    assert run.finish(60) == 0, run.output
    assert run.lines[-1] == "stopped cleanly", run.output
    summary = run.summary()
    sent = int(summary["sent to stream"])
    assert sent >= 50 and int(summary["consumed"]) == sent
    assert int(summary["stored"]) > 0

    lake = tmp_path / "home" / "lake"
    raw_lines = [
        json.loads(line)
        for path in sorted(lake.glob("raw/dt=*/hour=*/*.gz"))
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]
    # Drained: every record in the stream reached the raw zone, less what the purge took
    # out after the drain: each delete notice and the tweet (and copies) it deleted.
    deletes = int(summary["delete notices sent"])
    assert sent - 3 * deletes <= len(raw_lines) <= sent
    assert not [r for r in raw_lines if r["kind"] == "delete"]  # purged with their tweets
    parquet = str(lake / "curated" / "**" / "*.parquet")
    con = duckdb.connect()
    rows, tweets = con.execute(
        "SELECT count(*), count(DISTINCT tweet_id) FILTER (WHERE kind = 'tweet')"
        " FROM read_parquet(?, hive_partitioning = true)",
        [parquet],
    ).fetchone() or (0, 0)
    # curated/ holds what the consumer stored, one row each, deleted ones purged
    assert rows == tweets == len({r["tweet_id"] for r in raw_lines if r["kind"] == "tweet"})
    assert 0 < tweets <= int(summary["stored"])

    query = subprocess.run(
        [sys.executable, "-m", "tweetlake_local", "sql", "tweets_per_hour", "--lake", str(lake)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert query.returncode == 0, query.stdout + query.stderr
    counts = [int(line.split()[-1]) for line in query.stdout.splitlines() if line[:2] == "20"]
    assert sum(counts) == tweets

    assert_nothing_left(run)


@pytest.mark.slow
def test_until_drained_replay_prints_exact_counts(
    tmp_path: Path, local_runs: list[LocalRun]
) -> None:
    """GIVEN our v2 stream fixture (5 good tweets, 1 without time or author, a line cut
    mid-object, a keep-alive and an operational disconnect) WHEN replayed with
    --until-drained THEN the summary counts each line once, names every count (zeros
    included, keep-alives apart from notices) and the command exits 0."""
    fixture = OWN_TWITTER / "v2_stream.jsonl"
    # A flush interval past the run's length: the file counts below then do not depend
    # on how long a loaded machine takes between the first record and the drain.
    run = start_local(
        tmp_path / "home", "--replay", str(fixture), "--until-drained", "--flush-seconds", "60"
    )
    local_runs.append(run)
    assert run.finish(120) == 0, run.output
    summary = run.summary()
    names = ("read", "sent to stream", "delete notices sent", "consumed", "stored")
    assert {k: summary[k] for k in names} == {
        "read": "9",
        "sent to stream": "6",
        "delete notices sent": "0",
        "consumed": "6",
        "stored": "6",  # the line without time or author is stored too
    }
    assert (summary["duplicates"], summary["deleted"], summary["suppressed"]) == ("0", "0", "0")
    assert (summary["keep-alives"], summary["notices"]) == ("1", "1")
    assert summary["notice types"] == "operational_disconnect 1"
    assert summary["quarantined"] == "1"  # the cut line (ingest)
    assert summary["note"].startswith("stored counts tweets written once; the API shows")
    # Raw: one file per arrival hour (a run that crosses an hour writes two). Curated: one
    # per hour the tweets were posted, whenever they arrive: five at 06:0x on 2026-11-24,
    # and the one without a time at its Snowflake id's, 2025-11-22T22.
    lake = tmp_path / "home" / "lake"
    raw = sorted(f.parent.relative_to(lake / "raw") for f in (lake / "raw").rglob("*.gz"))
    curated = [f.relative_to(lake / "curated") for f in (lake / "curated").rglob("*.parquet")]
    assert raw == sorted(set(raw)) and len(raw) in (1, 2)
    assert sorted({c.parent.as_posix() for c in curated}) == [
        "dt=2025-11-22/hour=22",
        "dt=2026-11-24/hour=06",
    ]
    files = len(raw) + len(curated)
    assert summary["files written"] == (
        f"{len(raw)} raw, {len(curated)} Parquet, 0 conversion-error ({files})"
    )
    assert run.lines[-1] == "stopped cleanly"
    assert_quarantined_on_disk(lake, fixture)
    assert_nothing_left(run)


@pytest.mark.slow
def test_replayed_old_tweets_land_in_the_day_they_were_posted(
    tmp_path: Path, local_runs: list[LocalRun]
) -> None:
    """GIVEN a v2 replay file with a tweet posted 2018-12-31T23:59:59Z and one claiming
    2005 (before X existed) WHEN replayed today with --until-drained THEN the first is in
    curated/dt=2018-12-31/hour=23, the second in dt=unknown/hour=unknown, and the named
    queries' table (the sql view) shows the first by its day and not the second."""
    lines = [
        {"data": {"id": "1992360000000000101", "text": "new year", "author_id": "7",
                  "created_at": "2018-12-31T23:59:59.000Z"}},
        {"data": {"id": "1992360000000000102", "text": "too early", "author_id": "7",
                  "created_at": "2005-06-01T00:00:00.000Z"}},
    ]  # fmt: skip
    replay = tmp_path / "old.jsonl"
    replay.write_text("".join(json.dumps(line) + "\r\n" for line in lines))
    run = start_local(tmp_path / "home", "--replay", str(replay), "--until-drained")
    local_runs.append(run)
    assert run.finish(120) == 0, run.output
    lake = tmp_path / "home" / "lake"
    con = duckdb.connect()
    placed = {
        p.parent.relative_to(lake / "curated").as_posix(): [
            r[0] for r in con.execute("SELECT tweet_id FROM read_parquet(?)", [str(p)]).fetchall()
        ]
        for p in (lake / "curated").rglob("*.parquet")
    }
    assert placed == {
        "dt=2018-12-31/hour=23": ["1992360000000000101"],
        "dt=unknown/hour=unknown": ["1992360000000000102"],
    }
    shown = subprocess.run(
        [sys.executable, "-m", "tweetlake_local", "sql", "--lake", str(lake),
         "SELECT dt, hour, tweet_id FROM tweets"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "2018-12-31  23    1992360000000000101" in shown.stdout, shown.stdout
    assert "1992360000000000102" not in shown.stdout
    assert_nothing_left(run)


def assert_quarantined_on_disk(lake: Path, fixture: Path) -> None:
    """The cut line is on disk under ``quarantine/``, its exact bytes with a reason, after
    the run stopped (the emulated bucket it was also written to is gone by then)."""
    cut = fixture.read_bytes().split(b"\r\n")[-2]  # the last line, without its CRLF
    assert cut == b'{"data":{"id":"1992360000000000001","text":"Morning mist ove'
    objects = sorted((lake / "quarantine").rglob("*.jsonl"))
    entries = [json.loads(line) for path in objects for line in path.read_bytes().splitlines()]
    assert len(entries) == 1, objects
    assert re.fullmatch(r"dt=\d{4}-\d{2}-\d{2}", objects[0].parent.name)
    assert objects[0].name.startswith("producer-")
    assert base64.b64decode(entries[0]["data_b64"]) == cut
    assert entries[0]["reason"].startswith("not JSON: Unterminated string")


@pytest.mark.slow
def test_refused_credentials_end_with_one_line(tmp_path: Path, local_runs: list[LocalRun]) -> None:
    """GIVEN a bearer token X (a loopback stand-in) refuses WHEN the local mode starts
    THEN it stops by itself, exit 2, its last line naming the credential to fix."""
    with FakeTwitter(bearer="the-right-token") as fake:
        env = clean_env(
            TWITTER_BEARER_TOKEN="a-revoked-token",
            TWEETLAKE_TWITTER_API_URL=fake.url,
            TWEETLAKE_V2_STREAM="sample",
        )
        run = start_local(tmp_path / "home", "--duration", "60", env=env)
        local_runs.append(run)
        assert run.finish(90) == 2, run.output
    assert run.lines[-1].startswith("error: X refused the bearer token (TWITTER_BEARER_TOKEN")
    assert "HTTP 401" in run.lines[-1]
    assert "a-revoked-token" not in run.output
    assert_nothing_left(run)


@pytest.mark.slow
def test_taken_default_ports_move_to_free_ones(tmp_path: Path, local_runs: list[LocalRun]) -> None:
    """GIVEN the ports the defaults prefer are taken (two ports this test holds, made the
    preferred ones in place of 8000 and 4566) WHEN the local mode starts without port
    flags THEN it serves on free ports, and its banner shows them and says why."""
    fixture = OWN_TWITTER / "v2_stream.jsonl"
    with held_port() as api_held, held_port() as aws_held:
        env = clean_env(
            TWEETLAKE_PREFERRED_API_PORT=str(api_held),
            TWEETLAKE_PREFERRED_AWS_PORT=str(aws_held),
        )
        run = start_local(
            tmp_path / "home",
            "--replay",
            str(fixture),
            "--until-drained",
            "--serve",
            env=env,
            ports=(),
        )
        local_runs.append(run)
        serving = f"serving the API at {run.api} until Ctrl-C"
        run.wait_for(lambda: serving in run.lines, 120, serving)
        status, body = get(f"{run.api}/health")
        assert status == 200 and body["status"] == "ok"
        assert run.api_port != api_held and run.aws_port != aws_held
        assert run.banner_line("api").startswith(f"API                  : {run.api}")
        assert f"{run.api} ({api_held} was taken)   try: curl {run.api}/health" in run.output
        assert run.banner_line("aws").endswith(f":{run.aws_port} ({aws_held} was taken)")
        run.proc.send_signal(signal.SIGINT)
        assert run.finish(60) == 0, run.output
    assert run.lines[-1] == "stopped cleanly", run.output
    assert_nothing_left(run)


@pytest.mark.parametrize(("flag", "what"), [("--api-port", "API"), ("--aws-port", "AWS emulation")])
@pytest.mark.parametrize("listening", [True, False], ids=["listening", "bound-only"])
def test_taken_explicit_port_is_one_clear_line(
    tmp_path: Path, flag: str, what: str, listening: bool
) -> None:
    """An explicit port never moves. A listening one is found before anything starts;
    one only bound (a probe sees nothing) is found by the server's own bind, after the
    other server started: the same line either way, and nothing left running."""
    with held_port(listen=listening) as port:
        other = "--aws-port" if flag == "--api-port" else "--api-port"
        argv = ["run", flag, str(port), other, "0", "--dir", str(tmp_path / "home")]
        result = subprocess.run(
            [sys.executable, "-m", "tweetlake_local", *argv],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(),
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.strip() == (
        f"error: port {port} for the {what} is taken: stop what uses it,"
        f" pass another {flag} N, or leave {flag} out to use a free port"
    )
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("options", "env", "expected"),
    [
        (
            ["--replay", "{tmp}/capture.jsonl"],
            {},
            "error: cannot read the replay file {tmp}/capture.jsonl: No such file or directory:"
            " pass a readable JSON-lines file of raw Twitter payloads (.gz allowed)",
        ),
        (
            [],
            {"TWEETLAKE_SYNTHETIC_RATE": "fast"},
            "error: config: TWEETLAKE_SYNTHETIC_RATE is malformed ('fast'):"
            " use a number from 0 to 1e+06",
        ),
        (
            ["--stage", "qa"],
            {},
            "error: config: stage 'qa' is not in {repo}/.chalice/config.json: use one of ['dev']",
        ),
        (
            [],
            {"TWITTER_ACCESS_TOKEN": "t"},
            "error: TWITTER_ACCESS_TOKEN set but not TWITTER_CONSUMER_KEY,"
            " TWITTER_CONSUMER_SECRET, TWITTER_ACCESS_TOKEN_SECRET: set all four for the v1.1"
            " stream, or TWITTER_BEARER_TOKEN for v2, or unset them for synthetic tweets",
        ),
    ],
)
def test_bad_local_config_is_one_clear_line(
    tmp_path: Path, options: list[str], env: dict[str, str], expected: str
) -> None:
    """Checked before anything starts: exit 2, one line, no server left."""
    argv = [o.format(tmp=tmp_path) for o in options]
    result = subprocess.run(
        [sys.executable, "-m", "tweetlake_local", "run", *argv],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(**env),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.strip() == expected.format(tmp=tmp_path, repo=REPO_ROOT)
    assert result.stderr == ""
