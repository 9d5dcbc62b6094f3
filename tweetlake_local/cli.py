"""The local command line: ``python -m tweetlake_local <command>``.

``run`` is the whole pipeline offline (``make run``, :mod:`tweetlake_local.run`);
``sql`` and ``backfill`` work on the lake it writes (:mod:`tweetlake_local.lake_cli`).
"""

from __future__ import annotations

import argparse

from tweetlake_local.lake_cli import add_lake_commands
from tweetlake_local.run import add_run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tweetlake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_command(sub)
    add_lake_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
