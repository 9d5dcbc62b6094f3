"""Athena SQL on the local lake: the ``sql/`` named queries, run by DuckDB.

The named queries are written once, in Athena's (Trino's) dialect, for the
Athena workgroup Terraform creates. Locally sqlglot transpiles them to DuckDB.
Two views play the Glue catalog: ``tweet_versions`` over the curated Parquet
files is the Glue table (the columns from the envelope schema plus the
partition columns ``dt`` and ``hour`` as strings, as partition projection
declares them), and ``tweets`` is the Athena view analysts query, transpiled
from the same file Terraform installs (``sql/views/tweets.sql``): one row per
accepted tweet, none for a deleted one. Nothing is rewritten by hand, so a
query that works here is the text Athena runs.

Like Athena's date projection, which only ever produces dates, the base view
leaves out ``dt=unknown``, where tweets without a plausible creation time go
(:data:`tweetlake_local.firehose.UNKNOWN_TIME_PARTITION`; docs/local-lake.md).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from tweetlake_local.firehose import CURATED_PREFIX, DEFAULT_LAKE_DIR, UNKNOWN_TIME_PARTITION
from tweetlake_local.stage import REPO_ROOT

SQL_DIR = REPO_ROOT / "sql"
TABLE = "tweets"
BASE_TABLE = "tweet_versions"
VIEW_FILE = SQL_DIR / "views" / f"{TABLE}.sql"
PARTITION_COLUMNS = ("dt", "hour")
#: The ``dt`` value of the partition no date projection reaches.
UNKNOWN_DT = UNKNOWN_TIME_PARTITION.split("/")[0].removeprefix("dt=")


class SqlError(RuntimeError):
    """A query could not be parsed, transpiled or run; the message says which and why."""


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def named_queries(sql_dir: Path = SQL_DIR) -> dict[str, Path]:
    return {p.stem: p for p in sorted(sql_dir.glob("*.sql"))}


def resolve(query: str, sql_dir: Path = SQL_DIR) -> str:
    """A named query's text (``top_hashtags``), a ``.sql`` file's, or the SQL itself."""
    named = named_queries(sql_dir)
    if query in named:
        return named[query].read_text(encoding="utf-8")
    if query.endswith(".sql"):
        path = Path(query)
        if not path.is_file():
            raise SqlError(f"no SQL file {query}; named queries: {', '.join(named)}")
        return path.read_text(encoding="utf-8")
    if " " not in query.strip():
        raise SqlError(f"no named query {query!r}; choose one of: {', '.join(named)}")
    return query


def parse(athena_sql: str) -> exp.Expr:
    try:
        expressions = [e for e in sqlglot.parse(athena_sql, read="athena") if e is not None]
    except ParseError as exc:
        raise SqlError(f"not valid Athena SQL: {exc}") from None
    if len(expressions) != 1:
        raise SqlError(f"expected one statement, got {len(expressions)}")
    return expressions[0]


def to_duckdb(athena_sql: str, pretty: bool = False, today: date | None = None) -> str:
    """Athena (Trino) SQL → DuckDB SQL; with ``today``, ``current_date`` is that date.

    DuckDB reads the operating system's clock, the local lake's partitions come from
    Python's: pinning ``current_date`` to Python's today keeps "the last 7 days" of a
    query and of the data on one clock (and lets tests move that clock).
    """
    tree = parse(athena_sql)
    if today is not None:
        literal = exp.cast(exp.Literal.string(today.isoformat()), exp.DataType.Type.DATE)
        tree = tree.transform(
            lambda node: literal.copy() if isinstance(node, exp.CurrentDate) else node
        )
    return tree.sql(dialect="duckdb", pretty=pretty)


def referenced_columns(athena_sql: str, table_columns: set[str]) -> set[str]:
    """Dotted column paths a query reads (``author.id``, ``hashtags``), limited to the
    table's columns: the Parquet column chunks Athena has to scan for it.

    Athena spells a struct field ``author.id``, which parses as column ``id`` of a
    relation ``author``; when the qualifier is one of the table's columns it is a
    struct access. Aliases (``AS t(h)``, ``AS tweets``) are not table columns and drop out.
    """
    paths = set()
    for column in parse(athena_sql).find_all(exp.Column):
        parts = [p.name for p in column.parts]
        if parts and parts[0] == TABLE and len(parts) > 1:
            parts = parts[1:]
        if parts[0] in table_columns:
            paths.add(".".join(parts))
    return paths


def view_key_columns(table_columns: set[str]) -> set[str]:
    """The columns the ``tweets`` view reads whatever the query asks: those that rank
    a tweet's versions and keep the first (its window and its filter)."""
    tree = parse(view_sql())
    nodes = [*tree.find_all(exp.Window)]
    where = tree.args.get("where")
    if where is not None:
        nodes.append(where)
    return {
        column.name
        for node in nodes
        for column in node.find_all(exp.Column)
        if column.name in table_columns
    }


def scanned_columns(athena_sql: str, table_columns: set[str]) -> set[str]:
    """What a query over the ``tweets`` view reads of the base table: its own columns
    plus the view's keys (the scan-ratio figures are computed from these)."""
    return referenced_columns(athena_sql, table_columns) | view_key_columns(table_columns)


def _lake_glob(lake_dir: Path) -> str:
    return str(lake_dir / CURATED_PREFIX / "**" / "*.parquet")


def connect(lake_dir: Path = DEFAULT_LAKE_DIR) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the ``tweet_versions`` and ``tweets`` views over the
    lake's curated zone.

    With no Parquet files yet the base view is an empty table of the right shape,
    so a query on a fresh lake returns no rows instead of failing.
    """
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")  # Athena computes in UTC; current_date too
    files = list((lake_dir / CURATED_PREFIX).glob("**/*.parquet"))
    if files:
        pattern = _lake_glob(lake_dir).replace("'", "''")
        con.execute(
            f"CREATE VIEW {BASE_TABLE} AS SELECT * FROM read_parquet('{pattern}',"  # noqa: S608 (our own path, quotes escaped)
            " hive_partitioning=true, hive_types_autocast=false, union_by_name=true)"
            f" WHERE dt <> '{UNKNOWN_DT}'"
        )
    else:
        import pyarrow as pa

        from tweetlake_local.parquet import lake_schema

        schema = lake_schema()
        for column in PARTITION_COLUMNS:
            schema = schema.append(pa.field(column, pa.string()))
        con.register("_empty_versions", schema.empty_table())
        con.execute(f"CREATE VIEW {BASE_TABLE} AS SELECT * FROM _empty_versions")  # noqa: S608 (constant)
    con.execute(f"CREATE VIEW {TABLE} AS {to_duckdb(view_sql())}")
    return con


def view_sql() -> str:
    """The ``tweets`` view's query, in Athena's dialect (Terraform installs the same text)."""
    return VIEW_FILE.read_text(encoding="utf-8")


def run(query: str, lake_dir: Path = DEFAULT_LAKE_DIR, today: date | None = None) -> Result:
    """Resolve, transpile and run one query against the lake (``today``: UTC, by default)."""
    duck_sql = to_duckdb(resolve(query), today=today or datetime.now(UTC).date())
    con = connect(lake_dir)
    try:
        cursor = con.execute(duck_sql)
        rows = cursor.fetchall()
        columns = [d[0] for d in cursor.description or []]
    except duckdb.Error as exc:
        raise SqlError(f"query failed on DuckDB: {exc}\n--- as run:\n{duck_sql}") from None
    finally:
        con.close()
    return Result(columns, rows)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _width(text: str) -> int:
    """Terminal columns: East Asian wide characters (湖) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill


def format_table(result: Result) -> str:
    """A plain aligned text table (numbers right-aligned) and a row count."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [_width(c) for c in result.columns]
    for row in cells:
        widths = [max(w, _width(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        bool(result.rows) and all(isinstance(r[i], int | float | Decimal) for r in result.rows)
        for i in range(len(result.columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            _pad(v, w, num) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(result.columns), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out)
