"""The local command line.

``run`` brings up the offline stack: a moto server on 127.0.0.1 holding the
dev stage's resources and ``chalice local`` serving the API against it. The
pipeline stages (schedule, Kinesis poller, Firehose deliveries, SQL) join it as
their issues land.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tweetlake_local.cost_cli import add_cost_command
from tweetlake_local.emulator import MotoServer, aws_environment
from tweetlake_local.lake_cli import add_lake_commands, add_redrive_command
from tweetlake_local.stage import REPO_ROOT, stage_environment


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex((host, port)) != 0


def wait_for_http(url: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback URL)
                return True
        except OSError:
            time.sleep(0.2)
    return False


def run(args: argparse.Namespace) -> int:
    for port, what, flag in (
        (args.api_port, "API", "--api-port"),
        (args.aws_port, "AWS emulation", "--aws-port"),
    ):
        if not port_is_free(port):
            print(f"error: port {port} for the {what} is taken: stop what uses it or pass {flag} N")
            return 2
    from chalicelib.config import load_settings
    from tweetlake_local.resources import create_resources

    server = MotoServer(port=args.aws_port).start()
    env = {**os.environ, **stage_environment(args.stage), **aws_environment(server.endpoint)}
    os.environ.update(env)
    create_resources(load_settings(env))
    chalice = Path(sys.executable).with_name("chalice")
    api = subprocess.Popen(  # noqa: S603 (our own venv's chalice, fixed arguments)
        [
            str(chalice),
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.api_port),
            "--stage",
            args.stage,
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    api_url = f"http://127.0.0.1:{args.api_port}"
    try:
        if not wait_for_http(f"{api_url}/health", timeout_s=30):
            err = (
                api.stderr.read().decode(errors="replace")
                if api.poll() is not None and api.stderr
                else ""
            )
            print(f"error: chalice local did not answer on {api_url}: {err[-500:]}")
            return 1
        print(f"AWS emulation (moto) : {server.endpoint}")
        print(f"API                  : {api_url}   try: curl {api_url}/health")
        print("Press Ctrl-C to stop." if not args.duration else f"Running for {args.duration:g} s.")
        deadline = time.monotonic() + args.duration if args.duration else None
        while deadline is None or time.monotonic() < deadline:
            if api.poll() is not None:
                print("error: chalice local exited unexpectedly")
                return 1
            time.sleep(0.2)
    except KeyboardInterrupt:
        print("\nstopping…")
    finally:
        if api.poll() is None:
            os.killpg(api.pid, signal.SIGINT)
            try:
                api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(api.pid, signal.SIGKILL)
        server.stop()
    print("stopped cleanly")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tweetlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the pipeline offline on this machine")
    run_p.add_argument(
        "--stage", default="dev", help="Chalice stage whose names to use (default dev)"
    )
    run_p.add_argument(
        "--api-port", type=int, default=8000, help="port for chalice local (default 8000)"
    )
    run_p.add_argument(
        "--aws-port", type=int, default=4566, help="port for the moto server (default 4566)"
    )
    run_p.add_argument(
        "--duration", type=float, default=0, help="stop after this many seconds (0: until Ctrl-C)"
    )
    run_p.set_defaults(func=run)
    add_lake_commands(sub)
    add_cost_command(sub)
    add_redrive_command(sub)
    return parser


NO_CREDENTIALS = (
    "error: no AWS credentials found (botocore: Unable to locate credentials): run"
    " `aws configure` or set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and"
    " AWS_SECRET_ACCESS_KEY; against the local moto server pass --aws-endpoint"
    " http://127.0.0.1:4566 instead (it sets dummy credentials)"
)


def main(argv: list[str] | None = None) -> int:
    from botocore.exceptions import NoCredentialsError

    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except NoCredentialsError:
        print(NO_CREDENTIALS)
        return 2
    return result
