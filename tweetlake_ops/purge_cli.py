"""``python -m tweetlake_local purge``: deleted tweets out of the lake, now.

Against the local mode (``--aws-endpoint`` it printed) it purges the emulated
bucket and the lake folder; against a deployed stage (no endpoint, your AWS
credentials) it does what the scheduled function does, from your machine.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from tweetlake_local.firehose import DEFAULT_BUFFER_SECONDS, DEFAULT_LAKE_DIR


def purge_command(args: argparse.Namespace) -> int:
    from chalicelib import aws
    from chalicelib.config import PURGE_SETTLE_S
    from chalicelib.purge.request_log import read_requests
    from tweetlake_local.purge import purge_once
    from tweetlake_ops.lake_cli import command_environment, command_settings

    env = command_environment(args)
    settings = command_settings(env, args)
    if settings is None:
        return 2
    lake = Path(args.lake) if args.lake else DEFAULT_LAKE_DIR
    if args.lake and not lake.is_dir():
        print(f"error: no lake folder at {lake}: pass the folder `make run` writes")
        return 2
    os.environ.update(env)  # the clients read the endpoint and region from here
    if args.list:
        dynamodb = aws.client("dynamodb", settings.region)
        for request in read_requests(dynamodb, settings.state_table, pending_only=False):
            rewritten = request.objects_rewritten
            print(
                f"{request.tweet_id}  requested {request.requested_at}"
                f"  purged {request.purged_at or '-'}"
                f"  objects rewritten {'-' if rewritten is None else rewritten}"
            )
        return 0
    settle = args.settle_seconds
    if settle is None:
        settle = 2 * DEFAULT_BUFFER_SECONDS if args.aws_endpoint else PURGE_SETTLE_S
    summary = purge_once(settings, lake if lake.is_dir() else None, settle_s=settle)
    where = f"s3://{settings.lake_bucket}" + (f" and {lake}/" if lake.is_dir() else "")
    scan = summary.work
    print(
        f"purge: {summary.requests} pending requests; {summary.purged} purged,"
        f" {summary.pending} still pending; read {scan.objects_scanned} objects"
        f" ({scan.bytes_scanned} bytes) of {where}; rewrote {scan.objects_rewritten}"
        f" ({scan.objects_deleted} emptied and deleted)"
    )
    for problem in scan.unreadable:
        print(f"  unreadable, so not checked: {problem}")
    if not scan.complete:
        print("  incomplete: no request was marked purged; fix what is listed and run it again")
    return 0


def add_purge_command(sub: Any) -> None:
    p = sub.add_parser(
        "purge",
        help="remove deleted tweets from every lake object (raw, curated, quarantine)",
    )
    p.add_argument("--stage", default="dev", help="Chalice stage whose names to use")
    p.add_argument(
        "--aws-endpoint",
        help="the local mode's moto server (e.g. http://127.0.0.1:4566); omit for AWS",
    )
    p.add_argument(
        "--lake",
        help=f"the local lake folder to purge too (default {DEFAULT_LAKE_DIR}, if present)",
    )
    p.add_argument(
        "--settle-seconds",
        type=float,
        help="mark only requests at least this old purged (default: 10 locally,"
        " 1200 on AWS, Firehose's buffer and a margin)",
    )
    p.add_argument("--list", action="store_true", help="print the request log, purge nothing")
    p.set_defaults(func=purge_command)
