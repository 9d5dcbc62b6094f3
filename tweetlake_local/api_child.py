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
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import re
import sys
from typing import Any

from tweetlake_local.emulator import LOOPBACK
from tweetlake_local.stage import REPO_ROOT

PORT_LINE = "Serving on http://127.0.0.1:{port}"
PORT_LINE_RE = re.compile(r"^Serving on http://127\.0\.0\.1:(\d+)$", re.MULTILINE)
TAKEN_LINE = "port {port} is taken"
PORT_TAKEN_EXIT = 3


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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
    httpd = server.server
    print(PORT_LINE.format(port=httpd.server_address[1]), flush=True)
    try:
        httpd.serve_forever()  # not server.serve_forever(): it prints the requested port
    except KeyboardInterrupt:  # SIGINT from the parent: a normal stop
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
