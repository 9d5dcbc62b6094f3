"""The lake's subcommands: ``sql`` (Athena SQL on DuckDB) and ``backfill`` (raw zone →
consumer). Kept apart from ``cli.py`` so they load pyarrow/duckdb/sqlglot only when used."""

from __future__ import annotations

import argparse
import codecs
import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tweetlake_local.firehose import DEFAULT_LAKE_DIR

if TYPE_CHECKING:
    from chalicelib.config import Settings
from tweetlake_local.kinesis_events import stream_arn as kinesis_stream_arn

METRICS_LOG = logging.getLogger("tweetlake.consumer.metrics")


def local_consumer() -> Callable[[dict[str, Any]], Any]:
    """The real consumer, its EMF metric lines logged (``tweetlake.consumer.metrics``)
    rather than printed: Lambda's stdout is CloudWatch's, a command's stdout its report."""
    from chalicelib.consume.handler import handle_batch

    return functools.partial(handle_batch, sink=METRICS_LOG.info)


def sql_command(args: argparse.Namespace) -> int:
    from tweetlake_ops.sql import SqlError, format_table, named_queries, resolve, run, to_duckdb

    if args.list or not args.query:
        print("named queries (sql/*.sql):")
        for name, path in named_queries().items():
            first = path.read_text(encoding="utf-8").splitlines()[0].lstrip("- ")
            print(f"  {name:<16} {first}")
        return 0 if args.list else 2
    lake = Path(args.lake)
    if not lake.is_dir():
        print(
            f"error: no lake at {lake}: pass --lake DIR, the folder `make run` writes"
            " (DIR/lake, default .tweetlake/lake)"
        )
        return 2
    try:
        if args.show_sql:
            print(to_duckdb(resolve(args.query), pretty=True))
            print()
        result = run(args.query, lake)
    except SqlError as exc:
        print(f"error: {exc}")
        return 2
    print(format_table(result))
    return 0


LOCAL_TARGET_HINT = (
    "; to use the local mode, start it (make run) and pass --aws-endpoint with the"
    " AWS emulation address it prints, e.g. --aws-endpoint http://127.0.0.1:4566"
)


def settings_error(exc: Exception, args: argparse.Namespace) -> str:
    """The settings' error line; without --aws-endpoint, also how to aim at the local mode
    (a missing region usually means the local mode was meant, not AWS)."""
    return f"error: {exc}" + ("" if args.aws_endpoint else LOCAL_TARGET_HINT)


def command_environment(args: argparse.Namespace) -> dict[str, str]:
    """A command's environment: the stage's settings, this shell's over them, and the
    emulator's address when ``--aws-endpoint`` aims at a local mode."""
    from tweetlake_local.emulator import aws_environment
    from tweetlake_local.stage import stage_environment

    env = {**stage_environment(args.stage), **os.environ}
    if getattr(args, "aws_endpoint", None):
        env.update(aws_environment(args.aws_endpoint))
    return env


def command_settings(env: dict[str, str], args: argparse.Namespace) -> Settings | None:
    """The settings ``env`` gives, or None once their error line is printed."""
    from chalicelib.config import ConfigError, load_settings

    try:
        return load_settings(env)
    except ConfigError as exc:
        print(settings_error(exc, args))
        return None


def backfill_command(args: argparse.Namespace) -> int:
    from tweetlake_local.emulator import LOCAL_REGION
    from tweetlake_ops.backfill import BackfillError, backfill, open_zone

    env = command_environment(args)
    if args.dry_run and not (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")):
        env["AWS_REGION"] = LOCAL_REGION  # a dry run calls nothing; the region only labels
    settings = command_settings(env, args)
    if settings is None:
        return 2

    def dry_run(event: dict[str, Any]) -> None:
        """Feeds nothing anywhere: counts only."""

    if args.dry_run:
        consumer: Any = dry_run
    else:
        os.environ.update(env)  # the consumer reads its settings from the environment
        consumer = local_consumer()
    batch_size = args.batch_size
    if batch_size is None:
        from tweetlake_local.poller import consumer_batch_settings

        batch_size = consumer_batch_settings()[0]
    stream_arn = kinesis_stream_arn(settings.stream_name, settings.region)
    try:
        zone = open_zone(args.source)
        summary = backfill(
            zone,
            consumer,
            batch_size=batch_size,
            region=settings.region,
            stream_arn=stream_arn,
            start_after=args.start_after,
        )
    except BackfillError as exc:
        print(f"error: {exc}")
        return 1
    target = "nowhere (dry run)" if args.dry_run else f"the consumer ({settings.tweets_table})"
    print(
        f"backfill: {summary.records} records from {summary.objects} objects"
        f" in {summary.batches} batches of up to {batch_size} → {target}"
    )
    return 0


def add_lake_commands(sub: Any) -> None:
    """Register ``sql`` and ``backfill`` on the main parser's subparsers."""
    sql_p = sub.add_parser(
        "sql",
        help="run Athena SQL (a sql/ named query or any text) on DuckDB over the local lake",
    )
    sql_p.add_argument(
        "query", nargs="?", help="a named query (top_hashtags …), a .sql file or SQL"
    )
    sql_p.add_argument(
        "--lake",
        default=str(DEFAULT_LAKE_DIR),
        help=f"the local lake folder (default {DEFAULT_LAKE_DIR})",
    )
    sql_p.add_argument("--list", action="store_true", help="list the named queries")
    sql_p.add_argument(
        "--show-sql", action="store_true", help="print the DuckDB SQL sqlglot produced"
    )
    sql_p.set_defaults(func=sql_command)

    bf = sub.add_parser(
        "backfill",
        help="re-feed the raw zone (folder or s3://bucket/prefix) through the consumer",
    )
    bf.add_argument("source", help="lake folder (or its raw/), or s3://bucket[/prefix]")
    bf.add_argument("--stage", default="dev", help="Chalice stage whose tables to fill")
    bf.add_argument(
        "--aws-endpoint",
        help="send AWS calls here (the local mode's moto server, e.g. http://127.0.0.1:4566)",
    )
    bf.add_argument("--batch-size", type=int, help="records per consumer call (default: app.py's)")
    bf.add_argument("--start-after", help="skip raw objects up to and including this key")
    bf.add_argument("--dry-run", action="store_true", help="read and count, call nothing")
    bf.set_defaults(func=backfill_command)


def redrive_command(args: argparse.Namespace) -> int:
    """Quarantine → consumer (consumer-origin) or → stream (producer-origin); see redrive.py."""
    from chalicelib import aws
    from chalicelib.ingest.producer import KinesisProducer
    from tweetlake_local.poller import consumer_batch_settings
    from tweetlake_ops.redrive import RedriveError, open_quarantine, redrive

    env = command_environment(args)
    settings = command_settings(env, args)
    if settings is None:
        return 2
    if args.decode_non_utf8:
        try:
            codecs.lookup(args.decode_non_utf8)
        except LookupError:
            print(f"error: --decode-non-utf8 {args.decode_non_utf8!r} is not a codec Python knows")
            return 2
    os.environ.update(env)  # the consumer and the clients read the environment
    batch_size = args.batch_size or consumer_batch_settings()[0]
    consumer: Any = None
    producer: Any = None
    if not args.dry_run:
        consumer = local_consumer()
        producer = KinesisProducer(aws.client("kinesis", settings.region), settings.stream_name)
    stream_arn = kinesis_stream_arn(settings.stream_name, settings.region)
    try:
        zone = open_quarantine(args.source, aws.client("s3", settings.region))
        if not args.dry_run:
            refuse_unread_stream(zone, aws.client("kinesis", settings.region), settings, args)
        summary = redrive(
            zone,
            consumer=consumer,
            producer=producer,
            batch_size=batch_size,
            stream_arn=stream_arn,
            reason=args.reason,
            decode=args.decode_non_utf8,
        )
    except RedriveError as exc:
        print(f"error: {exc}")
        return 1
    print_redrive_report(summary, settings.stream_name, dry_run=args.dry_run)
    return 0 if summary.clean else 1


def refuse_unread_stream(zone: Any, kinesis: Any, settings: Any, args: Any) -> None:
    """Producer records go back on the stream: refuse when nothing will read it.

    A local run with ``--until-drained --serve`` keeps the API up but stopped its
    stream readers after the drain (it tags the stream so), so a record put on the
    stream then would never reach DynamoDB or the lake.
    """
    from tweetlake_local.pipeline import readers_stopped
    from tweetlake_ops.redrive import RedriveError, origin_of

    producer_keys = [k for k in zone.list_keys() if origin_of(k) == "producer"]
    if producer_keys and readers_stopped(kinesis, settings.stream_name):
        day_prefix = producer_keys[0].rsplit("/", 1)[0]
        raise RedriveError(
            f"nothing reads the stream {settings.stream_name}: the local run drained and"
            " stopped its readers (--until-drained --serve), so the"
            f" {len(producer_keys)} producer objects re-driven to the stream would never"
            " be stored. Re-drive against a local run that keeps reading: start it without"
            ' --until-drained (make run ARGS="--replay FILE", Ctrl-C when done) and pass'
            " the --aws-endpoint it prints; or re-drive only the consumer records now,"
            " which go straight to the consumer:"
            f" s3://{settings.lake_bucket}/{day_prefix}/consumer-"
        )


def print_redrive_report(summary: Any, stream: str, *, dry_run: bool) -> None:
    """What was sent where, what the consumer did with it, and what stayed and why."""
    verb = "would re-drive" if dry_run else "re-drove"
    print(
        f"redrive: {summary.objects} objects; {verb} {summary.to_consumer} records to the"
        f" consumer ({summary.batches} batches) and {summary.to_stream} to the stream"
        f" {stream}; {summary.skipped} skipped by --reason;"
        f" {len(summary.kept)} kept in quarantine; {len(summary.still_bad)} still bad"
    )
    if summary.decoded:
        print(f"  read {summary.decoded} non-UTF-8 lines with --decode-non-utf8")
    if not dry_run and summary.to_consumer:
        outcome = ", ".join(f"{n} {name}" for name, n in summary.consumer.items())
        print(f"  the consumer: {outcome}")
    for key in summary.requarantined_in:
        print(f"  quarantined again in: {key}")
    for line in summary.kept:
        print(f"  kept: {line}")
    for line in summary.still_bad:
        print(f"  still bad: {line}")


def add_redrive_command(sub: Any) -> None:
    rd = sub.add_parser(
        "redrive",
        help="send quarantined records (s3://bucket/quarantine/dt=…/) back after a fix",
    )
    rd.add_argument("source", help="s3://bucket/quarantine/ or a dt=YYYY-MM-DD/ prefix under it")
    rd.add_argument("--stage", default="dev", help="Chalice stage whose names to use")
    rd.add_argument("--aws-endpoint", help="send AWS calls here (e.g. the local moto server)")
    rd.add_argument("--batch-size", type=int, help="records per consumer call (default: app.py's)")
    rd.add_argument("--reason", help="only records whose reason contains this text")
    rd.add_argument(
        "--decode-non-utf8",
        metavar="CODEC",
        help="read producer lines that are not UTF-8 in this encoding (e.g. cp1252);"
        " without it they stay in quarantine",
    )
    rd.add_argument("--dry-run", action="store_true", help="read and count, send nothing")
    rd.set_defaults(func=redrive_command)
