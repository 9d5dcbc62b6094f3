"""sql/*.sql: Athena (Trino) SQL over the curated table, loaded as named queries.

Each file must parse in sqlglot's Athena dialect and name only columns the
curated table has (the schema's lake fields plus the dt/hour partitions),
struct fields that exist, and aliases it defines itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from chalicelib.envelope.schema import lake_fields
from tests.paths import REPO_ROOT
from tests.terraform.model import load_module

SQL_DIR = REPO_ROOT / "sql"
TABLE = "tweets"
PARTITIONS = ("dt", "hour")


def _sql_files() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def _fields(spec: dict[str, Any]) -> set[str] | None:
    """Member names of a struct (or of an array's struct items); None for primitives."""
    if spec["type"] == "struct":
        return {f["name"] for f in spec["fields"]}
    if spec["type"] == "array" and spec["items"]["type"] == "struct":
        return {f["name"] for f in spec["items"]["fields"]}
    return None


COLUMNS = {f["name"]: f for f in lake_fields()}
STRUCTS = {name: fields for name, spec in COLUMNS.items() if (fields := _fields(spec))}


def unknown_columns(sql: str) -> list[str]:
    """Column references in ``sql`` that the curated table cannot answer."""
    tree = sqlglot.parse_one(sql, read="athena")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables = {t.name for t in tree.find_all(exp.Table)} - ctes
    problems = [f"table {t}" for t in sorted(tables) if t != TABLE]
    table_aliases = {TABLE} | {
        t.alias for t in tree.find_all(exp.Table) if t.name == TABLE and t.alias
    }
    aliases = {a.alias for a in tree.find_all(exp.Alias)} | ctes
    # UNNEST(x) AS t(a, ...): t and a are names; a's members are x's struct members.
    unnest_names: set[str] = set()
    unnest_members: dict[str, set[str]] = {}
    for unnest in tree.find_all(exp.Unnest):
        alias = unnest.args.get("alias")
        if not alias:
            continue
        unnest_names.add(alias.name)
        source = unnest.expressions[0] if unnest.expressions else None
        source_name = source.name if isinstance(source, exp.Column) else None
        for column in alias.columns:
            unnest_names.add(column.name)
            if source_name in STRUCTS:
                unnest_members[column.name] = STRUCTS[source_name]
    known = set(COLUMNS) | set(PARTITIONS)
    for column in tree.find_all(exp.Column):
        name, qualifier = column.name, column.table
        if not qualifier or qualifier in table_aliases:
            ok = name in known or name in aliases or name in unnest_names
        elif qualifier in STRUCTS and qualifier not in aliases:
            ok = name in STRUCTS[qualifier]
        elif qualifier in unnest_members:
            ok = name in unnest_members[qualifier]
        else:
            ok = qualifier in aliases or qualifier in unnest_names
        if not ok:
            problems.append(column.sql(dialect="athena"))
    return problems


def test_there_are_queries() -> None:
    assert _sql_files(), "sql/ holds no .sql file"


@pytest.mark.parametrize("path", _sql_files(), ids=lambda p: p.name)
def test_each_query_parses_as_athena_sql(path: Path) -> None:
    statements = sqlglot.parse(path.read_text(encoding="utf-8"), read="athena")
    assert len([s for s in statements if s is not None]) == 1, "one statement per file"
    assert isinstance(statements[0], exp.Query)


@pytest.mark.parametrize("path", _sql_files(), ids=lambda p: p.name)
def test_each_query_names_only_columns_that_exist(path: Path) -> None:
    assert unknown_columns(path.read_text(encoding="utf-8")) == []


def test_the_checker_catches_a_missing_column_and_a_missing_struct_field() -> None:
    assert unknown_columns("SELECT retweet_count FROM tweets") == ["retweet_count"]
    assert unknown_columns("SELECT author.karma FROM tweets") == ["author.karma"]
    assert unknown_columns("SELECT author.screen_name, dt FROM tweets") == []
    assert (
        unknown_columns(
            "SELECT m.screen_name, count(*) AS n FROM tweets CROSS JOIN UNNEST(mentions) AS t(m)"
            " GROUP BY 1 ORDER BY n DESC"
        )
        == []
    )
    assert unknown_columns("SELECT m.nope FROM tweets CROSS JOIN UNNEST(mentions) AS t(m)") == [
        "m.nope"
    ]
    assert unknown_columns("SELECT x FROM other") == ["table other", "x"]


def test_named_queries_are_one_per_sql_file() -> None:
    query = load_module().resource_dict("aws_athena_named_query", "sql")
    assert query["for_each"] == '${fileset("${path.module}/../sql", "*.sql")}'
    assert query["query"] == '${file("${path.module}/../sql/${each.value}")}'
    assert query["workgroup"] == "${aws_athena_workgroup.this.id}"
    assert query["database"] == "${aws_glue_catalog_database.lake.name}"
    evaluator = load_module().evaluator({"stage": "prod", "region": "us-east-1"})
    names = evaluator.eval_text('fileset("${path.module}/../sql", "*.sql")')
    assert names == [p.name for p in _sql_files()]


def test_the_workgroup_enforces_encrypted_capped_metered_queries() -> None:
    workgroup = load_module().resource_dict("aws_athena_workgroup", "this")
    (config,) = workgroup["configuration"]
    assert config["enforce_workgroup_configuration"] is True
    assert config["publish_cloudwatch_metrics_enabled"] is True
    assert config["bytes_scanned_cutoff_per_query"] == "${var.athena_bytes_scanned_cutoff}"
    (results,) = config["result_configuration"]
    assert results["output_location"] == "s3://${aws_s3_bucket.lake.bucket}/${local.athena_prefix}"
    assert results["encryption_configuration"][0]["encryption_option"] in ("SSE_S3", "SSE_KMS")
