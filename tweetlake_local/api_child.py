"""``python -m tweetlake_local.api_child --port P --stage S [--fallback]``: the API process.

It does what ``chalice local --no-autoreload`` does (the stage's configuration,
its environment variables set before ``app.py`` is imported, the routes
validated as ``chalice deploy`` would, chalice's local server, its logging) with
one addition: once bound, it prints the port it got, as :data:`PORT_LINE`.
``chalice local --port 0`` binds a port the OS picks but prints
``Serving on http://127.0.0.1:0``, so its parent could not learn the port; and
only the process that serves a port can pick a free one without a race (a port
picked by the parent may be taken before the child binds it).

``--fallback``: a taken ``--port`` gives a free port instead (the local mode's
defaults). Without it, a taken port prints :data:`TAKEN_LINE` and exits with
:data:`PORT_TAKEN_EXIT`, so the parent can name the flag to change.

``--parent-pid``: the process that started it. The API runs in its own session
(so a Ctrl-C in the terminal reaches only the local mode), which also means no
terminal hang-up or process-group signal ends it: without a link to its parent
it would outlive a ``kill -9`` of the run and keep the port. So it dies with
that parent: Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``) ends it
at once, and a watcher thread that sees its parent change (every
:data:`PARENT_POLL_S`) ends it elsewhere, or if the parent died before the
signal was armed.

SIGINT and SIGTERM both stop it cleanly. Both are set here rather than
inherited: a shell starts background jobs with SIGINT ignored, and an ignored
signal stays ignored across ``exec``, so the parent's stop request would wait
out its timeout (:data:`STOPPED_LINE` in the log says the stop was clean).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from tweetlake_local.emulator import LOOPBACK
from tweetlake_local.stage import REPO_ROOT

PORT_LINE = "Serving on http://127.0.0.1:{port}"
PORT_LINE_RE = re.compile(r"^Serving on http://127\.0\.0\.1:(\d+)$", re.MULTILINE)
TAKEN_LINE = "port {port} is taken"
PORT_TAKEN_EXIT = 3
STOPPED_LINE = "stopped on signal {signum}"
PARENT_POLL_S = 0.5
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def arm_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` when the parent exits; False where that is not possible.

    The kernel ties the signal to the parent *thread* that started this process,
    so the parent starts it from its main thread (the local mode does).
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent_pid: int, on_gone: Any, every_s: float = PARENT_POLL_S) -> threading.Thread:
    """A daemon thread that calls ``on_gone()`` once this process's parent is no longer
    ``parent_pid`` (an orphan is adopted by init or a subreaper)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every_s)
        on_gone()

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


class Stop(Exception):
    """Raised in the main thread by SIGINT or SIGTERM: leave ``serve_forever`` cleanly."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise Stop(signum)


def die_with_parent(parent_pid: int | None) -> None:
    """SIGINT/SIGTERM stop the server; with ``parent_pid``, so does the parent's end."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_stop)
    if parent_pid is None:
        return
    arm_parent_death_signal(signal.SIGTERM)
    # The parent may have died before the signal was armed: then it never comes.
    watch_parent(parent_pid, lambda: os.kill(os.getpid(), signal.SIGTERM))


def local_server(stage: str, port: int, *, fallback: bool) -> Any:
    """chalice's ``create_local_server``, except that a taken port may fall back.

    Raises OSError(EADDRINUSE) for a taken ``port`` without ``fallback``.
    """
    from chalice.cli.factory import CLIFactory
    from chalice.deploy.validate import validate_routes
    from chalice.local import LocalDevServer, create_local_server

    # environ=os.environ: loading the app sets the stage's variables there first,
    # as `chalice local` does (the app reads them at import and per request).
    factory = CLIFactory(project_dir=str(REPO_ROOT), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = config.chalice_app
    validate_routes(app.routes)
    try:
        return create_local_server(app, config, LOOPBACK, port)
    except OSError as exc:
        if not (fallback and port and exc.errno == errno.EADDRINUSE):
            raise
    # create_local_server already made ``app`` a local app (it swaps its class, which
    # must happen once): only the bind is tried again, on a port the OS picks.
    return LocalDevServer(app, config, LOOPBACK, 0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tweetlake_local.api_child")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: a free one)")
    parser.add_argument("--stage", default="dev", help="Chalice stage (default dev)")
    parser.add_argument("--fallback", action="store_true", help="a free port if --port is taken")
    parser.add_argument(
        "--parent-pid", type=int, help="exit when this process (the local mode) is gone"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    die_with_parent(args.parent_pid)
    os.chdir(REPO_ROOT)  # chalice's CLI runs from the project directory
    os.environ["AWS_CHALICE_CLI_MODE"] = "true"  # set by chalice's CLI for apps that check
    # As `chalice local`: the app's log lines on stdout, as they would be in Lambda.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    try:
        server = local_server(args.stage, args.port, fallback=args.fallback)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(TAKEN_LINE.format(port=args.port), flush=True)
        return PORT_TAKEN_EXIT
    except Stop:  # stopped while loading the app
        return 0
    httpd = server.server
    try:
        print(PORT_LINE.format(port=httpd.server_address[1]), flush=True)
        httpd.serve_forever()  # not server.serve_forever(): it prints the requested port
    except Stop as stop:  # from the parent, or the parent is gone: a normal stop
        print(STOPPED_LINE.format(signum=stop.signum), flush=True)
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
