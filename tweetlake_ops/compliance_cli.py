"""``compliance``: one step of the X batch compliance rotation against a local mode.

The same run the hourly function makes (:func:`chalicelib.compliance.handler.run_compliance`),
with the stage's names, the AWS endpoint of a running ``make run`` (its moto
server) and X's API at ``--api-url`` (``TWEETLAKE_TWITTER_API_URL``, the live
sources' setting; the tests point it at the loopback X server). The bearer token
comes from ``TWITTER_BEARER_TOKEN`` as for the live sources. Deletes go onto the
stream, where the local run's consumer picks them up like any other record.

``make run`` with the synthetic source has no X account: its tweets are
invented, X knows none of them, and there is no token to ask with.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from tweetlake_local.flags import seconds

METRICS_LOG = logging.getLogger("tweetlake.compliance.metrics")


def compliance_command(args: argparse.Namespace) -> int:
    from chalicelib import aws
    from chalicelib.compliance.handler import ComplianceDeps, run_compliance
    from chalicelib.config import ConfigError
    from tweetlake_local.pipeline import readers_stopped
    from tweetlake_ops.lake_cli import command_environment, command_settings

    env = command_environment(args)
    if args.api_url:
        env["TWEETLAKE_TWITTER_API_URL"] = args.api_url
    if args.poll_s is not None:
        env["TWEETLAKE_COMPLIANCE_POLL_S"] = str(args.poll_s)
    settings = command_settings(env, args)
    if settings is None:
        return 2
    os.environ.update(env)  # the run reads its settings and credentials from the environment
    if readers_stopped(aws.client("kinesis", settings.region), settings.stream_name):
        print(
            f"error: nothing reads the stream {settings.stream_name}: the local run drained and"
            " stopped its readers (--until-drained); start one that keeps reading"
        )
        return 1
    deps = ComplianceDeps(budget_s=args.wait_s, any_source=True, metrics_sink=METRICS_LOG.info)
    try:
        result = run_compliance({}, None, deps)
    except ConfigError as exc:
        print(f"error: {exc} (make run's synthetic source has no X account; docs/operations.md)")
        return 2
    print_report(result, settings.stream_name)
    return 0


def print_report(result: dict[str, Any], stream: str) -> None:
    print(
        f"compliance: {result['hours_checked']} hours checked, {result['ids_checked']} ids in"
        f" {result['jobs_collected']} jobs; {result['deletes_sent']} deletes sent to {stream};"
        f" {result['due_after']} hours still due"
    )
    if result["reasons"]:
        reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(result["reasons"].items()))
        print(f"  withdrawn on X: {reasons}")
    if result["in_flight"]:
        print(f"  job {result['in_flight']} still running at X: the next run collects it")


def add_compliance_command(sub: Any) -> None:
    cp = sub.add_parser(
        "compliance",
        help="one step of the X batch compliance rotation (stored ids → X → deletes on the stream)",
    )
    cp.add_argument("--stage", default="dev", help="Chalice stage whose names to use")
    cp.add_argument(
        "--aws-endpoint", help="send AWS calls here (the local mode's moto server, e.g. :4566)"
    )
    cp.add_argument(
        "--api-url",
        help="X's API base URL (default TWEETLAKE_TWITTER_API_URL, else https://api.x.com)",
    )
    cp.add_argument(
        "--wait-s",
        type=seconds(0.0),
        default=300.0,
        help="longest the step waits for X to finish jobs (default 300)",
    )
    cp.add_argument(
        "--poll-s",
        type=seconds(6.0),
        help="seconds between job status polls (default TWEETLAKE_COMPLIANCE_POLL_S, 30)",
    )
    cp.set_defaults(func=compliance_command)
