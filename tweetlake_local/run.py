"""``python -m tweetlake_local run`` (``make run``): the whole pipeline on one machine.

What runs (docs/local-mode.md has the long version):

* a moto server on 127.0.0.1 with the stage's stream, tables and bucket
  (:mod:`tweetlake_local.resources`, the same code the tests use);
* ``chalice local`` serving the API, in its own process, pointed at moto;
* in this process (:mod:`tweetlake_local.pipeline`): the ingest schedule and
  the stream's three readers (the consumer's event source mapping and the two
  Firehose deliveries, mirrored to ``.tweetlake/lake``);
* a live status, and on Ctrl-C (or SIGTERM) an orderly stop that shows its
  progress: the ingest run flushes, every reader drains the stream, the
  deliveries write their buffers, the API and moto stop, exit 0. A second
  Ctrl-C stops at once without flushing (exit 130).

Everything that can be checked before starting is checked first, and a
problem ends the command with one ``error:`` line saying what to fix.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gzip
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from chalicelib.ingest.sources.credentials import FIELDS as CREDENTIAL_VARS
from chalicelib.ingest.sources.credentials import OAUTH1_FIELDS
from tweetlake_local.flags import port, seconds, whole_number
from tweetlake_local.stage import stage_environment
from tweetlake_local.terminal import Foreground

log = logging.getLogger(__name__)

BEARER_VAR = CREDENTIAL_VARS["bearer_token"]
OAUTH1_VARS = tuple(CREDENTIAL_VARS[name] for name in OAUTH1_FIELDS)
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_FORCED = 0, 1, 2, 130
DRAIN_TICK_S = 0.25  # how often the stop's progress is redrawn
RUN_PID_FILE, API_PID_FILE = "run.pid", "api.pid"  # in the state folder (--dir)


class LocalConfigError(Exception):
    """Something to fix before the local mode can start; the message says what."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


@dataclass(frozen=True)
class PortChoice:
    """Where a server binds: ``port`` first (0: any free port), and whether it may move.

    A default (8000, 4566) may move to a free port when taken (``fallback``); a port
    the user passed may not: it fails with :meth:`taken` naming the flag.
    """

    port: int
    fallback: bool
    what: str  # "API", "AWS emulation"
    flag: str  # "--api-port", "--aws-port"

    def taken(self) -> LocalConfigError:
        """The error for a taken port; it names the holder when it is tweetlake's own."""
        return LocalConfigError(
            f"port {self.port} for the {self.what} is taken{self._holder()}: stop what uses"
            f" it, pass another {self.flag} N, or leave {self.flag} out to use a free port"
        )

    def _holder(self) -> str:
        from tweetlake_local.api_server import port_holder

        holder = port_holder(self.port)
        if holder is None or "tweetlake_local" not in holder[1]:
            return ""  # someone else's program: ss or lsof names it (troubleshooting.md)
        pid, command = holder
        kind = "API" if "tweetlake_local.api_child" in command else "local mode"
        return f" by tweetlake's own {kind} (pid {pid}), from another or a crashed local mode"


# The defaults' preferred ports. Tests move them (to a port they hold) with these
# variables, so that no test depends on 8000 or 4566 being free on its machine.
PREFERRED_PORTS = {
    "--api-port": ("TWEETLAKE_PREFERRED_API_PORT", 8000),
    "--aws-port": ("TWEETLAKE_PREFERRED_AWS_PORT", 4566),
}


def port_choice(passed: int | None, what: str, flag: str, environ: Mapping[str, str]) -> PortChoice:
    """The flag's value if passed (it must be free), else the preferred port or any."""
    if passed is not None:
        choice = PortChoice(passed, fallback=False, what=what, flag=flag)
        if passed and not port_is_free(passed):
            raise choice.taken()  # early, before anything starts; the bind checks again
        return choice
    variable, preferred = PREFERRED_PORTS[flag]
    raw = environ.get(variable, "").strip()
    if raw:
        try:
            preferred = int(raw)
        except ValueError:
            raise LocalConfigError(f"{variable} must be a port number, not {raw!r}") from None
    return PortChoice(preferred, fallback=True, what=what, flag=flag)


def choose_ports(
    args: argparse.Namespace, environ: Mapping[str, str]
) -> tuple[PortChoice, PortChoice]:
    """(API, AWS emulation): explicit ports checked; a default clashing with one moves."""
    api = port_choice(args.api_port, "API", "--api-port", environ)
    aws = port_choice(args.aws_port, "AWS emulation", "--aws-port", environ)
    if api.port and api.port == aws.port:
        if not (api.fallback or aws.fallback):
            raise LocalConfigError("--api-port and --aws-port must differ")
        # The moto server binds first: a default it shares with the API's port
        # would take that port from the API, or be taken by an explicit one.
        if aws.fallback:
            aws = PortChoice(0, fallback=True, what=aws.what, flag=aws.flag)
        else:
            api = PortChoice(0, fallback=True, what=api.what, flag=api.flag)
    return api, aws


@dataclass
class Plan:
    """The checked options: what to run and with which environment."""

    source: str
    source_text: str
    env: dict[str, str]
    bounded_source: bool  # the source ends by itself (a file, a --tweets limit)
    api_port: PortChoice = field(default_factory=lambda: PortChoice(0, True, "API", "--api-port"))
    aws_port: PortChoice = field(
        default_factory=lambda: PortChoice(0, True, "AWS emulation", "--aws-port")
    )


def check_replay_file(path: Path) -> None:
    """Open and read the first bytes (decompressed for .gz): fail now, not mid-run."""
    try:
        with path.open("rb") as raw:
            if path.suffix == ".gz":
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    unzipped.read(1)
            else:
                raw.read(1)
    except (OSError, EOFError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise LocalConfigError(
            f"cannot read the replay file {path}: {reason}: pass a readable JSON-lines file"
            " of raw Twitter payloads (.gz allowed)"
        ) from exc


@dataclass(frozen=True)
class Credentials:
    """Which X credentials the environment holds (names only; values stay there)."""

    bearer: bool
    oauth1_set: tuple[str, ...]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Credentials:
        def present(var: str) -> bool:
            return bool(environ.get(var, "").strip())

        return cls(present(BEARER_VAR), tuple(v for v in OAUTH1_VARS if present(v)))

    @property
    def oauth1_complete(self) -> bool:
        return len(self.oauth1_set) == len(OAUTH1_VARS)

    def auto_source(self) -> str:
        """v2 with a bearer token, v1.1 with all four OAuth 1.0a values, else synthetic."""
        if self.bearer:
            return "v2"
        if not self.oauth1_set:
            return "synthetic"
        if not self.oauth1_complete:
            missing = ", ".join(v for v in OAUTH1_VARS if v not in self.oauth1_set)
            raise LocalConfigError(
                f"{', '.join(self.oauth1_set)} set but not {missing}: set all four for the"
                f" v1.1 stream, or {BEARER_VAR} for v2, or unset them for synthetic tweets"
            )
        return "v1.1"


def _wanted_source(args: argparse.Namespace, credentials: Credentials) -> str:
    """The source the options and credentials ask for, checked for what it needs."""
    wanted = str(args.source)
    if args.replay:
        if wanted not in ("auto", "replay"):
            raise LocalConfigError(f"--replay reads a file: drop --source {wanted}")
        wanted = "replay"
    if wanted == "auto":
        wanted = credentials.auto_source()
    if wanted == "v2" and not credentials.bearer:
        raise LocalConfigError(f"--source v2 needs {BEARER_VAR} in the environment")
    if wanted == "v1.1" and not credentials.oauth1_complete:
        raise LocalConfigError(f"--source v1.1 needs {', '.join(OAUTH1_VARS)} in the environment")
    if args.tweets is not None and wanted != "synthetic":
        raise LocalConfigError("--tweets limits the synthetic source: drop it")
    return wanted


# Each source's settings: (args, environ, env to fill) → (banner text, ends by itself).
SourceSetup = Callable[[argparse.Namespace, Mapping[str, str], dict[str, str]], tuple[str, bool]]


def _replay_setup(
    args: argparse.Namespace, environ: Mapping[str, str], env: dict[str, str]
) -> tuple[str, bool]:
    path = Path(args.replay).expanduser().resolve()
    check_replay_file(path)
    env["TWEETLAKE_REPLAY_URI"] = str(path)
    return f"replay of {args.replay}", True


def _synthetic_setup(
    args: argparse.Namespace, environ: Mapping[str, str], env: dict[str, str]
) -> tuple[str, bool]:
    if args.seed is not None:
        env["TWEETLAKE_SYNTHETIC_SEED"] = str(args.seed)
    rate = args.rate
    if rate is None and args.until_drained and "TWEETLAKE_SYNTHETIC_RATE" not in environ:
        rate = 0.0  # a bounded load goes as fast as the pipeline takes it
    if rate is not None:
        env["TWEETLAKE_SYNTHETIC_RATE"] = f"{rate:g}"
    if args.tweets is not None:
        env["TWEETLAKE_SYNTHETIC_LIMIT"] = str(args.tweets)
    seed = env.get("TWEETLAKE_SYNTHETIC_SEED") or environ.get("TWEETLAKE_SYNTHETIC_SEED", "42")
    shown = env.get("TWEETLAKE_SYNTHETIC_RATE") or environ.get("TWEETLAKE_SYNTHETIC_RATE", "50")
    try:
        pace = "unpaced" if float(shown) == 0 else f"{shown} lines/s"
    except ValueError:  # reported with the fix by load_ingest_settings later
        pace = f"{shown!r} lines/s"
    limit = f", {args.tweets} lines" if args.tweets is not None else ""
    return f"synthetic (seed {seed}, {pace}{limit})", args.tweets is not None


def _live_setup(
    args: argparse.Namespace, environ: Mapping[str, str], env: dict[str, str]
) -> tuple[str, bool]:
    return f"live X {env['TWEETLAKE_SOURCE']} stream", False


def _bluesky_setup(
    args: argparse.Namespace, environ: Mapping[str, str], env: dict[str, str]
) -> tuple[str, bool]:
    """Jetstream needs no credentials; TWEETLAKE_JETSTREAM_* settings pass through,
    checked here so a bad one stops the run before anything starts."""
    from chalicelib.config import ConfigError
    from chalicelib.ingest.sources.jetstream import load_jetstream_settings

    try:
        settings = load_jetstream_settings(environ)
    except ConfigError as exc:
        raise LocalConfigError(str(exc)) from exc
    where = settings.urls[0] if len(settings.urls) == 1 else f"{len(settings.urls)} instances"
    return f"live Bluesky Jetstream ({where})", False


SOURCE_SETUPS: dict[str, SourceSetup] = {
    "replay": _replay_setup,
    "synthetic": _synthetic_setup,
    "v2": _live_setup,
    "v1.1": _live_setup,
    "bluesky": _bluesky_setup,
}


def choose_source(args: argparse.Namespace, environ: Mapping[str, str]) -> Plan:
    """The source and its settings, from the options and the credentials in ``environ``."""
    wanted = _wanted_source(args, Credentials.from_env(environ))
    env = {"TWEETLAKE_SOURCE": wanted}
    text, bounded = SOURCE_SETUPS[wanted](args, environ, env)
    if args.until_drained and not bounded and not args.duration:
        raise LocalConfigError(
            "--until-drained needs a source with an end: pass --tweets N (synthetic),"
            " --replay FILE, or --duration S"
        )
    return Plan(source=wanted, source_text=text, env=env, bounded_source=bounded)


def build_plan(args: argparse.Namespace, environ: Mapping[str, str]) -> Plan:
    """Every check that needs no server: ports, options, source, settings."""
    api_port, aws_port = choose_ports(args, environ)
    if args.serve and not (args.until_drained or args.duration):
        raise LocalConfigError("--serve keeps the API up after --until-drained or --duration")
    plan = choose_source(args, environ)
    plan.api_port, plan.aws_port = api_port, aws_port
    from chalicelib.config import ConfigError, load_settings
    from chalicelib.ingest.settings import load_ingest_settings

    try:
        stage_env = stage_environment(args.stage)
    except SystemExit as exc:  # the stage is not in .chalice/config.json
        raise LocalConfigError(str(exc)) from exc
    env = {**environ, **stage_env, **plan.env}
    env.setdefault(
        # Scaled from AWS, where a run stops reading 30 s before its 570 s timeout.
        "TWEETLAKE_SAFETY_MARGIN_S",
        f"{min(30.0, 0.05 * args.schedule):g}",
    )
    try:
        from tweetlake_local.emulator import aws_environment

        load_settings({**env, **aws_environment("http://127.0.0.1:1")})
        load_ingest_settings(env)
    except ConfigError as exc:
        raise LocalConfigError(str(exc)) from exc
    plan.env = env
    return plan


class Stopper:
    """SIGINT/SIGTERM: the first asks for an orderly stop, the second forces one."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.force: Any = None  # set by run() before anything starts

    def __call__(self, _signum: int, _frame: FrameType | None) -> None:
        if not self.requested.is_set():
            self.requested.set()
            return
        if self.force is not None:
            self.force()


def configure_logging(log_dir: Path) -> logging.FileHandler:
    """Everything the functions log goes to ``log_dir/local.log``, not over the status."""
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "local.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    return handler


def run(args: argparse.Namespace) -> int:
    """The ``run`` command; returns the exit code."""
    try:
        plan = build_plan(args, os.environ)
    except LocalConfigError as exc:
        print(f"error: {exc}", flush=True)
        return EXIT_CONFIG
    home = Path(args.dir)
    lake_dir = Path(args.lake) if args.lake else home / "lake"
    configure_logging(home / "logs")
    return LocalMode(args, plan, home, lake_dir).run()


class LocalMode:
    """One run of the local mode: start, watch, stop; owns every process and thread."""

    def __init__(self, args: argparse.Namespace, plan: Plan, home: Path, lake_dir: Path) -> None:
        self.args = args
        self.plan = plan
        self.home = home
        self.lake_dir = lake_dir
        self.server: Any = None
        self.api: Any = None
        self.pipeline: Any = None
        self.stopper = Stopper()
        self.foreground = Foreground()
        self.status: Any = None
        self._owns_home = False
        # Not under "tweetlake": Chalice sets its app logger (named after the app) to ERROR.
        self._consumer_log = logging.getLogger("tweetlake_local.consumer")

    # --- start -----------------------------------------------------------------

    def _start_moto(self) -> Any:
        """The moto server; an explicit ``--aws-port`` taken since the check fails here."""
        from tweetlake_local.emulator import LOCAL_APART, MotoServer

        choice = self.plan.aws_port
        try:
            return MotoServer(
                choice.port, fallback=choice.fallback, process=True, apart=LOCAL_APART
            ).start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise choice.taken() from exc

    def _api_failure(self) -> str:
        """Why the API did not come up (raises for a taken explicit ``--api-port``)."""
        if self.api.port_taken:
            raise self.plan.api_port.taken()
        if self.api.port is None:
            return f"chalice local did not start: {self.api.log_tail()}"
        return f"chalice local did not answer on {self.api.url}: {self.api.log_tail()}"

    def _start(self) -> str | None:
        """Bring everything up; an error line if something failed.

        Raises LocalConfigError if an explicit port was taken after the early check.
        """
        from chalicelib.config import load_settings
        from tweetlake_local.api_server import ChaliceLocal
        from tweetlake_local.resources import create_resources

        args = self.args
        self._claim_home()
        self.server = self._start_moto()
        env = {**self.plan.env, **self.server.environment()}
        # Set once, before any thread starts; never changed after (see pipeline.py).
        os.environ.update(env)
        settings = load_settings(env)
        create_resources(settings)
        api_port = self.plan.api_port
        self.api = ChaliceLocal(
            api_port.port,
            args.stage,
            env,
            self.home / "logs" / "api.log",
            fallback=api_port.fallback,
            pid_path=self.home / API_PID_FILE,
        )
        self.api.start()
        from chalicelib.consume.handler import handle_batch
        from tweetlake_local.pipeline import Pipeline

        self.pipeline = Pipeline(
            settings,
            lake_dir=self.lake_dir,
            state_dir=self.home,
            interval_s=args.schedule,
            bounded=self.plan.bounded_source,
            batching_window_s=args.batching_window,
            poll_interval_s=args.poll_interval,
            buffer_seconds=args.flush_seconds,
            consumer=handle_batch,
            log_line=self._consumer_log.info,
        )
        if not self.api.wait_ready(timeout_s=60):
            return self._api_failure()
        self.pipeline.start()
        return None

    def _claim_home(self) -> None:
        """Refuse a state folder a live run uses; end the API a crashed one left behind.

        ``run.pid`` names the run using the folder and ``api.pid`` its API child.
        The child dies with its parent, but one from a crash of an older version,
        or one whose parent was killed before it could notice, would still hold
        its port: it is ended here and named, never left as a mystery.
        """
        from tweetlake_local.api_server import end_leftover, process_command_line

        self.home.mkdir(parents=True, exist_ok=True)
        run_pid = self.home / RUN_PID_FILE
        with contextlib.suppress(OSError, ValueError):
            other = int(run_pid.read_text(encoding="ascii").strip())
            command = process_command_line(other) or ""
            if other != os.getpid() and "tweetlake_local run" in command:
                raise LocalConfigError(
                    f"another local mode (pid {other}) is running with --dir {self.home}:"
                    f" stop it (kill -INT {other}) or pass another --dir"
                )
        run_pid.write_text(f"{os.getpid()}\n", encoding="ascii")
        self._owns_home = True
        leftover = end_leftover(self.home / API_PID_FILE)
        if leftover is not None:
            print(
                f"note: stopped the API (pid {leftover}) that a crashed run left behind",
                flush=True,
            )

    def _header(self) -> list[tuple[str, str]]:
        """The banner (and the panel's head): the addresses actually bound."""
        from tweetlake_local.status import Hints

        api = self.api.url
        lake = self.lake_dir
        custom_lake = bool(self.args.lake or self.args.dir != ".tweetlake")
        hints = Hints.for_run(api, lake if custom_lake else None)
        if self.plan.bounded_source:
            schedule = "one ingest run, reading the source to its end"
        else:
            schedule = (
                f"ingest every {self.args.schedule:g} s"
                f" (timeout {self.pipeline.scheduler.timeout_s:g} s)"
            )
        window = self.pipeline.mapping.batching_window_s
        return [
            ("AWS emulation (moto)", f"{self.server.endpoint}{self.server.port_note}"),
            ("API", f"{api}{self.api.port_note}   try: {hints.health}"),
            ("", f"{hints.tweets}   {hints.tweet}"),
            ("source", f"{self.plan.source_text}; {schedule}"),
            (
                "consumer",
                f"batches of up to {self.pipeline.mapping.batch_size}, window {window:g} s",
            ),
            ("lake", f"{lake}/   try: {hints.sql}"),
            ("logs", f"{self.home / 'logs'}/"),
        ]

    # --- the run -----------------------------------------------------------------

    def run(self) -> int:
        # Before anything starts: a Ctrl-C from now on reaches this process only
        # (terminal.py), and is handled here; the API child is started with the
        # handler in place, so it does not inherit an ignored SIGINT either.
        self.foreground.take()
        self.stopper.force = self._force
        previous = {
            sig: signal.signal(sig, self.stopper) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            code, last_line = self._run_started()
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.foreground.give_back()
        if last_line is not None:
            print(last_line, flush=True)
        return code

    def _run_started(self) -> tuple[int, str | None]:
        """Start, watch, drain: (exit code, last line to print)."""
        from tweetlake_local.status import Status

        refused = self._start_or_exit_code()
        if refused is not None:
            return refused, None
        status = self.status = Status(
            self.pipeline.snapshot,
            self._header(),
            live=None if self.args.status == "auto" else self.args.status == "panel",
            every_s=self.args.status_every,
        )
        try:
            status.start()
            if not self._bounded():
                status.say("Press Ctrl-C to stop.")
            code, last_line = self._drain_and_report(status, *self._watch(status))
            if code == EXIT_OK and self.args.serve and not self.stopper.requested.is_set():
                code, last_line = self._serve_until_stopped()
        finally:
            status.stop()
        if last_line is None:
            last_line = "stopped cleanly" if code == EXIT_OK else "stopped"
        return code, last_line

    def _start_or_exit_code(self) -> int | None:
        """Start everything; on failure stop what started and return the exit code."""
        try:
            failure = self._start()  # a Ctrl-C meanwhile is honoured once it is up
        except LocalConfigError as exc:
            self._shutdown()
            print(f"error: {exc}", flush=True)
            return EXIT_CONFIG
        except BaseException:
            self._shutdown()
            raise
        if failure is not None:
            self._shutdown()
            print(f"error: {failure}", flush=True)
            return EXIT_FAILED
        return None

    def _drain_and_report(self, status: Any, code: int, reason: str) -> tuple[int, str | None]:
        """Stop reading, drain the stream, print the summary: (exit code, last line)."""
        fatal = self.pipeline.scheduler.fatal
        if fatal is None and code == EXIT_OK:
            status.say(f"{reason}: flushing the ingest run and draining the stream…")
        if not self._drain_showing_progress(status):
            status.say("warning: the ingest run did not stop within 60 s")
        status.stop()
        if fatal is not None:
            # Settings or credentials the next run would trip on too: say what to fix.
            return EXIT_CONFIG, f"error: {fatal}"
        self._summary(status.elapsed_s)
        failed = self.pipeline.totals.last_error
        if self.args.until_drained and failed and code == EXIT_OK:
            return EXIT_FAILED, f"error: the ingest run failed: {failed}"
        return code, None

    def _drain_showing_progress(self, status: Any) -> bool:
        """Flush the ingest run and drain the stream in a worker thread, while this
        thread shows what is left; False if the ingest run did not stop in time.

        A drain can take a while after an unpaced backlog: a screen that shows
        nothing invites the second Ctrl-C, which throws the buffers away.
        """
        pipeline = self.pipeline
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["ingest_stopped"] = pipeline.stop_ingest()
                outcome["phase"] = "draining the stream"
                if not pipeline.thread_errors:
                    pipeline.drain()
            except BaseException as exc:  # handed to the main thread below
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="tweetlake-drain", daemon=True)
        worker.start()
        while worker.is_alive():
            phase = outcome.get("phase", "flushing the ingest run")
            status.progress(phase)
            worker.join(DRAIN_TICK_S)
        if "error" in outcome:
            raise outcome["error"]
        return bool(outcome.get("ingest_stopped", False))

    def _serve_until_stopped(self) -> tuple[int, str | None]:
        print(f"serving the API at {self.api.url} until Ctrl-C", flush=True)
        while not self.stopper.requested.wait(0.5):
            if self.api.exited():
                return EXIT_FAILED, "error: chalice local exited unexpectedly"
        return EXIT_OK, None

    def _bounded(self) -> bool:
        return bool(self.args.until_drained or self.args.duration)

    def _watch(self, status: Any) -> tuple[int, str]:
        """Until something ends the run: (exit code, why)."""
        args = self.args
        deadline = time.monotonic() + args.duration if args.duration else None
        pipeline = self.pipeline
        while True:
            if self.stopper.requested.is_set():
                return EXIT_OK, "stop requested"
            if deadline is not None and time.monotonic() >= deadline:
                return EXIT_OK, f"{args.duration:g} s are up"
            if self.api.exited():
                status.say(f"error: chalice local exited unexpectedly: {self.api.log_tail()}")
                return EXIT_FAILED, "API stopped"
            if pipeline.thread_errors:
                name, exc = next(iter(pipeline.thread_errors.items()))
                status.say(f"error: the {name} thread failed: {type(exc).__name__}: {exc}")
                return EXIT_FAILED, "failure"
            if pipeline.scheduler.fatal is not None:
                return EXIT_OK, "ingest refused to run"
            if args.until_drained and pipeline.ingest_finished:
                return EXIT_OK, "the source ended"
            status.tick()
            time.sleep(0.25)

    def _summary(self, elapsed_s: float) -> None:
        from tweetlake_local.status import summary_lines

        snap = self.pipeline.snapshot()
        files = {
            "raw": snap.raw_files,
            "Parquet": snap.curated_files,
            "conversion-error": snap.error_files,
        }
        print("summary:", flush=True)
        for line in summary_lines(snap, files, elapsed_s):
            print(f"  {line}", flush=True)

    # --- stop ------------------------------------------------------------------

    def _force(self) -> None:
        """Second Ctrl-C: kill the API, leave buffers unflushed, exit now.

        The terminal is put back first (cursor shown, foreground returned to the
        parent): ``os._exit`` runs no ``finally``.
        """
        if self.status is not None:
            self.status.abandon()
        print("\nforced stop: buffered records were not flushed", flush=True)
        if self.pipeline is not None:
            self.pipeline.force_stop()
        if self.api is not None:
            self.api.kill()
        self._release_home()
        self.foreground.give_back()
        os._exit(EXIT_FORCED)

    def _shutdown(self) -> None:
        """Stop the API and moto side by side (each takes a moment), then forget them."""
        if self.api is not None:
            self.api.request_stop()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.api is not None and not self.api.stop():
            print("warning: the API did not stop within 10 s and was killed", flush=True)
        self.api = None
        self._release_home()

    def _release_home(self) -> None:
        if self._owns_home:
            (self.home / RUN_PID_FILE).unlink(missing_ok=True)
            self._owns_home = False


def add_run_command(sub: Any) -> None:
    """Register ``run`` on the main parser's subparsers."""
    p = sub.add_parser(
        "run",
        help="run the whole pipeline offline on this machine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--stage", default="dev", help="Chalice stage whose names to use (default dev)")
    p.add_argument(
        "--api-port",
        type=port,
        metavar="N",
        help="the API's port (default: 8000, or a free port if 8000 is taken; 0: any free port)",
    )
    p.add_argument(
        "--aws-port",
        type=port,
        metavar="N",
        help="the moto server's port (default: 4566, or a free one if taken; 0: any free port)",
    )
    src = p.add_argument_group("source (default: synthetic, or live X with credentials)")
    src.add_argument("--replay", metavar="FILE", help="replay a JSON-lines file of raw payloads")
    src.add_argument(
        "--source",
        choices=("auto", "synthetic", "replay", "v2", "v1.1", "bluesky"),
        default="auto",
        help="auto: live X if TWITTER_* credentials are set, else synthetic;"
        " bluesky: Bluesky's public Jetstream (no account)",
    )
    src.add_argument(
        "--tweets",
        type=whole_number(1),
        metavar="N",
        help="stop the synthetic source after N lines (N >= 1; leave it out for no limit)",
    )
    src.add_argument("--rate", type=seconds(0), help="synthetic lines per second (0: unpaced)")
    src.add_argument(
        "--seed", type=whole_number(0), help="synthetic seed (TWEETLAKE_SYNTHETIC_SEED, 42)"
    )
    end = p.add_argument_group("how it ends (default: Ctrl-C)")
    end.add_argument(
        "--until-drained",
        action="store_true",
        help="run the source to its end, drain every stage, print a summary, exit",
    )
    end.add_argument(
        "--duration", type=seconds(0), default=0, help="stop after this many seconds (0: never)"
    )
    end.add_argument(
        "--serve", action="store_true", help="keep the API up after the run ends (until Ctrl-C)"
    )
    tune = p.add_argument_group("timing")
    tune.add_argument(
        "--schedule",
        type=seconds(1, above=True),
        default=60.0,
        metavar="S",
        help="seconds between ingest runs (AWS: 600); each run times out at 95%% of it",
    )
    tune.add_argument(
        "--batching-window",
        type=seconds(0, high=300),
        metavar="S",
        help="consumer batching window (default: the deployed trigger's, 0)",
    )
    tune.add_argument(
        "--poll-interval",
        type=seconds(0, above=True),
        default=0.25,
        metavar="S",
        help="idle wait between GetRecords rounds (0.25; Lambda: about 1)",
    )
    tune.add_argument(
        "--flush-seconds",
        type=seconds(0, high=900),
        metavar="S",
        help="Firehose buffer interval (default 5; AWS: 0-900)",
    )
    out = p.add_argument_group("where things go")
    out.add_argument("--dir", default=".tweetlake", help="state folder: lake/, logs/ (.tweetlake)")
    out.add_argument("--lake", help="the lake folder (default DIR/lake)")
    out.add_argument(
        "--status",
        choices=("auto", "panel", "lines"),
        default="auto",
        help="live panel on a terminal, status lines otherwise (auto)",
    )
    out.add_argument(
        "--status-every",
        type=seconds(0, above=True),
        default=5.0,
        metavar="S",
        help="seconds between lines",
    )
    p.set_defaults(func=run)
