"""The sql/ named queries, transpiled Athena → DuckDB, against a plain-Python answer."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.envelope.schema import validate
from tests.support.sample import envelope_line, posted, sample_envelopes
from tweetlake_local.cli import main
from tweetlake_local.firehose import DirSink, StreamRecord, curated_delivery
from tweetlake_local.parquet import lake_schema
from tweetlake_ops.sql import (
    SqlError,
    named_queries,
    referenced_columns,
    resolve,
    run,
    scanned_columns,
    to_duckdb,
    view_key_columns,
)

NOW = datetime.now(UTC)


@dataclass
class Lake:
    path: Path
    counted: list[dict[str, Any]]  # tweet envelopes posted inside the 7-day window


def deliver(path: Path, envelopes: list[dict[str, Any]], arrival: datetime, tag: str) -> None:
    delivery = curated_delivery([DirSink(path)], buffer_bytes=40_000, clock=lambda: 0.0)
    delivery.put(
        StreamRecord(envelope_line(e), f"shardId-{tag}", str(i), arrival)
        for i, e in enumerate(envelopes)
    )
    delivery.close()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """GIVEN 400 sample tweets posted and arriving over the last day in several files, 40
    of them delivered twice, a delete notice, and 60 tweets posted 30 days ago."""
    path = tmp_path_factory.mktemp("lake")
    envelopes = sample_envelopes(460, seed=11)
    assert all(validate(e) == [] for e in envelopes)
    recent = posted(envelopes[:200], NOW - timedelta(hours=20)) + posted(
        envelopes[200:400], NOW - timedelta(minutes=5)
    )
    old = posted(envelopes[400:], NOW - timedelta(days=30))
    deliver(path, recent[:200], NOW - timedelta(hours=20), "a")
    deliver(path, recent[200:], NOW - timedelta(minutes=5), "b")
    deliver(path, recent[:40], NOW - timedelta(minutes=1), "dup")
    deliver(path, old, NOW - timedelta(days=30), "old")
    delete = {
        "kind": "delete",
        "schema_version": 1,
        "tweet_id": "1",  # a fresh id: counted unless kind filters it out
        "deleted_at": "2026-11-24T07:00:00.000Z",
        "source_api": "v1.1",
        "payload_format": "v1.1",
        "ingested_at": "2026-11-24T07:00:00.000Z",
        "raw": "{}",
    }
    deliver(path, [delete], NOW, "del")
    assert len(list(path.glob("curated/dt=*/hour=*/*.parquet"))) >= 6
    return Lake(path, recent)


def distinct_by_id(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({e["tweet_id"]: e for e in envelopes}.values())


def as_rows(query: str, lake: Lake) -> list[tuple[Any, ...]]:
    return run(query, lake.path).rows


def hour_of(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(minute=0, second=0, microsecond=0)


def test_tweets_per_hour(lake: Lake) -> None:
    expected: dict[datetime, set[str]] = defaultdict(set)
    for e in lake.counted:
        expected[hour_of(e["created_at"])].add(e["tweet_id"])
    got = as_rows("tweets_per_hour", lake)
    assert got == [(h, len(ids)) for h, ids in sorted(expected.items())]
    assert sum(n for _, n in got) == 400


def test_top_hashtags(lake: Lake) -> None:
    counts: Counter[str] = Counter()
    for e in distinct_by_id(lake.counted):
        for tag in {t.lower() for t in e["hashtags"]}:
            counts[tag] += 1
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    assert as_rows("top_hashtags", lake) == expected
    assert "opensource" in dict(expected)  # the source writes "OpenSource": folded to lower case


def test_top_authors(lake: Lake) -> None:
    tweets: Counter[str] = Counter()
    latest: dict[str, tuple[str, str]] = {}
    for e in distinct_by_id(lake.counted):
        author = e["author"]
        tweets[author["id"]] += 1
        if author["id"] not in latest or e["created_at"] > latest[author["id"]][0]:
            latest[author["id"]] = (e["created_at"], author["screen_name"])
    expected = [
        (aid, latest[aid][1], n)
        for aid, n in sorted(tweets.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    ]
    assert as_rows("top_authors", lake) == expected


def shares(labels: list[str]) -> list[tuple[str, int, float]]:
    counts = Counter(labels)
    total = sum(counts.values())
    return [
        (label, n, round(100 * n / total, 2))
        for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def assert_shares(got: list[tuple[Any, ...]], expected: list[tuple[str, int, float]]) -> None:
    assert [(label, n) for label, n, _ in got] == [(label, n) for label, n, _ in expected]
    for (_, _, pct), (_, _, want) in zip(got, expected, strict=True):
        assert float(pct) == pytest.approx(want, abs=0.01)
    assert float(sum(pct for *_, pct in got)) == pytest.approx(100, abs=0.1)


def test_language_mix(lake: Lake) -> None:
    expected = shares([e["lang"] or "und" for e in distinct_by_id(lake.counted)])
    assert len(expected) > 3
    assert_shares(as_rows("language_mix", lake), expected)


def test_tweet_kinds(lake: Lake) -> None:
    def kind(e: dict[str, Any]) -> str:
        if e["retweeted_tweet_id"]:
            return "retweet"
        if e["quoted_tweet_id"]:
            return "quote"
        if e["in_reply_to_tweet_id"]:
            return "reply"
        return "original"

    expected = shares([kind(e) for e in distinct_by_id(lake.counted)])
    assert {label for label, _, _ in expected} == {"retweet", "quote", "reply", "original"}
    assert_shares(as_rows("tweet_kinds", lake), expected)


def test_every_named_query_is_tested_here() -> None:
    assert set(named_queries()) == {
        "tweets_per_hour",
        "top_hashtags",
        "top_authors",
        "language_mix",
        "tweet_kinds",
    }


def test_partition_columns_are_strings_and_free_sql_works(lake: Lake) -> None:
    """The base table keeps every delivered copy; the view, one row per tweet."""
    query = "SELECT typeof(dt), typeof(hour), count(*) FROM {} GROUP BY 1, 2"
    rows = as_rows(query.format("tweet_versions"), lake)
    assert rows == [("VARCHAR", "VARCHAR", 400 + 40 + 60)]  # not the delete: dt=unknown
    assert as_rows(query.format("tweets"), lake) == [("VARCHAR", "VARCHAR", 400 + 60)]
    assert as_rows("SELECT count(*) = count(DISTINCT tweet_id) FROM tweets", lake) == [(True,)]


def test_an_empty_lake_answers_with_no_rows(tmp_path: Path) -> None:
    assert run("top_hashtags", tmp_path).rows == []


def test_unknown_names_and_bad_sql_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SqlError, match="no named query 'top_hashtag'; choose one of"):
        resolve("top_hashtag")
    with pytest.raises(SqlError, match="not valid Athena SQL"):
        to_duckdb("SELECT FROM WHERE (")
    with pytest.raises(SqlError, match="query failed on DuckDB"):
        run("SELECT no_such_column FROM tweets", tmp_path)


def test_athena_gotchas_transpile() -> None:
    duck = to_duckdb(resolve("top_authors"))
    assert "ARG_MAX(" in duck
    assert "STRFTIME(" in to_duckdb(resolve("tweets_per_hour"))


def test_referenced_columns_include_struct_fields_not_aliases() -> None:
    names = set(lake_schema().names) | {"dt", "hour"}
    assert referenced_columns(resolve("top_authors"), names) == {
        "author.id",
        "author.screen_name",
        "created_at",
        "dt",
    }
    assert referenced_columns(resolve("top_hashtags"), names) == {"hashtags", "dt"}


def test_a_query_through_the_view_also_reads_the_version_keys() -> None:
    names = set(lake_schema().names) | {"dt", "hour"}
    keys = {"dt", "hour", "tweet_id", "kind", "rev", "ingested_at"}
    assert view_key_columns(names) == keys
    assert scanned_columns(resolve("top_hashtags"), names) == {"hashtags"} | keys


def test_cli_prints_a_table(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "tweet_kinds", "--lake", str(lake.path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["tweet_kind", "tweets", "pct"]
    assert out[-1] == "(4 rows)"
    assert main(["sql", "nope", "--lake", str(lake.path)]) == 2
    assert capsys.readouterr().out.startswith("error: no named query 'nope'")


def test_table_aligns_wide_characters_and_right_aligns_numbers() -> None:
    from tweetlake_ops.sql import Result, format_table

    text = format_table(Result(["hashtag", "tweets"], [("湖", 3), ("tide", 12)]))
    assert text.splitlines() == [
        "hashtag  tweets",
        "-------  ------",
        "湖            3",
        "tide         12",
        "(2 rows)",
    ]


def test_current_date_is_the_day_the_caller_injects(tmp_path: Path) -> None:
    """The local lake's partitions follow Python's clock, so the SQL's does too."""
    today = datetime(2031, 5, 6, tzinfo=UTC).date()
    assert run("SELECT current_date AS d", tmp_path, today=today).rows == [(today,)]
    assert "CURRENT_DATE" in to_duckdb("SELECT current_date AS d").upper()


def test_the_unknown_time_partition_stays_out_of_the_table(lake: Lake) -> None:
    """GIVEN the delete notice, which has no creation time and so lands in dt=unknown
    WHEN the table is queried THEN it is not there, as Athena's date projection never
    lists dt=unknown, while the file is in the lake."""
    assert list(lake.path.glob("curated/dt=unknown/hour=unknown/*.parquet"))
    assert as_rows("SELECT count(*) FROM tweets WHERE kind = 'delete'", lake) == [(0,)]
    assert as_rows("SELECT count(*) FROM tweets WHERE dt = 'unknown'", lake) == [(0,)]
