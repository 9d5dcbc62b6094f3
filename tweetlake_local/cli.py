"""The local command line: ``python -m tweetlake_local <command>``.

``run`` is the whole pipeline offline (``make run``, :mod:`tweetlake_local.run`);
``sql`` and ``backfill`` work on the lake it writes (:mod:`tweetlake_ops.lake_cli`);
``redrive`` sends quarantined records back after a fix; ``purge`` removes deleted
tweets from the lake; ``cost`` estimates the bill (:mod:`tweetlake_ops.cost`);
``compliance`` runs one step of the X batch compliance rotation
(:mod:`tweetlake_ops.compliance_cli`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from typing import NoReturn

from tweetlake_local.flags import OneLineParser
from tweetlake_local.run import add_run_command
from tweetlake_ops.compliance_cli import add_compliance_command
from tweetlake_ops.cost_cli import add_cost_command
from tweetlake_ops.lake_cli import add_lake_commands, add_redrive_command
from tweetlake_ops.purge_cli import add_purge_command


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tweetlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_command(sub)
    add_lake_commands(sub)
    add_cost_command(sub)
    add_redrive_command(sub)
    add_purge_command(sub)
    add_compliance_command(sub)
    return parser


NO_CREDENTIALS = (
    "error: no AWS credentials found (botocore: Unable to locate credentials): run"
    " `aws configure` or set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and"
    " AWS_SECRET_ACCESS_KEY; against the local moto server pass --aws-endpoint"
    " http://127.0.0.1:4566 instead (it sets dummy credentials)"
)


def unreachable(args: argparse.Namespace, exc: Exception) -> str:
    """One line for an AWS endpoint nothing answers at: the local mode is not running
    there (the usual case with --aws-endpoint), or the network is down."""
    endpoint = getattr(args, "aws_endpoint", None)
    if endpoint:
        return (
            f"error: nothing answers at --aws-endpoint {endpoint}: start the local mode"
            " (make run) and pass the AWS emulation address it prints"
        )
    return f"error: {exc}"


def exit_after_run(code: int) -> NoReturn:
    """End the ``run`` command's process without the interpreter's teardown.

    Freeing every module's objects at exit (moto's backends, boto3's and
    pyarrow's state) took about 2 s after a stop on the development machine,
    more than the orderly stop itself. By the time ``run`` returns, its files
    are closed, its servers stopped and its summary printed: only the output
    buffers and the log are left to flush, and they are flushed here.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to do
            stream.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except NoCredentialsError:
        print(NO_CREDENTIALS)
        return 2
    except EndpointConnectionError as exc:
        print(unreachable(args, exc))
        return 2
    except BrokenPipeError:
        # The reader went away (`… | head`): stop quietly, as a pipeline expects.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result
