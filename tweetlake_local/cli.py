"""The local command line: ``python -m tweetlake_local <command>``.

``run`` is the whole pipeline offline (``make run``, :mod:`tweetlake_local.run`);
``sql`` and ``backfill`` work on the lake it writes (:mod:`tweetlake_ops.lake_cli`);
``redrive`` sends quarantined records back after a fix; ``cost`` estimates the bill
(:mod:`tweetlake_ops.cost`); ``compliance`` runs one step of the X batch compliance
rotation (:mod:`tweetlake_ops.compliance_cli`).
"""

from __future__ import annotations

import argparse
import os
import sys

from tweetlake_local.flags import OneLineParser
from tweetlake_local.run import add_run_command
from tweetlake_ops.compliance_cli import add_compliance_command
from tweetlake_ops.cost_cli import add_cost_command
from tweetlake_ops.lake_cli import add_lake_commands, add_redrive_command


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="tweetlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_command(sub)
    add_lake_commands(sub)
    add_cost_command(sub)
    add_redrive_command(sub)
    add_compliance_command(sub)
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
    except BrokenPipeError:
        # The reader went away (`… | head`): stop quietly, as a pipeline expects.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result
