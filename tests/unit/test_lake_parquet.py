"""The curated table's three descriptions agree: schema file, Glue columns, Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from chalicelib.envelope.schema import glue_columns, lake_fields, validate
from tests.support.glue_types import arrow_type, duckdb_type, glue_schema, glue_type
from tests.support.sample import sample_envelopes
from tweetlake_local.parquet import (
    ConversionError,
    lake_schema,
    parquet_bytes,
    rows_to_table,
    to_row,
)


def test_schema_file_glue_columns_and_pyarrow_schema_agree() -> None:
    """GIVEN the envelope schema file WHEN deriving Glue columns and the pyarrow schema
    THEN all three list the same columns in the same order with the same types."""
    schema = lake_schema()
    assert schema.names == [f["name"] for f in lake_fields()]
    assert schema.names == [name for name, _ in glue_columns()]
    assert "raw" not in schema.names
    assert schema.equals(glue_schema(glue_columns()))
    for field, (_, glue) in zip(schema, glue_columns(), strict=True):
        assert glue_type(field.type) == glue
    assert schema.field("created_at").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("schema_version").type == pa.int64()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("string", pa.string()),
        ("array<string>", pa.list_(pa.string())),
        (
            "array<struct<id:string,n:bigint>>",
            pa.list_(pa.struct([("id", pa.string()), ("n", pa.int64())])),
        ),
        ("struct< a : timestamp , b:array<boolean> >", None),
    ],
)
def test_hive_type_parser(text: str, expected: pa.DataType | None) -> None:
    parsed = arrow_type(text)
    if expected is not None:
        assert parsed == expected
    else:
        assert parsed == pa.struct(
            [("a", pa.timestamp("ms", tz="UTC")), ("b", pa.list_(pa.bool_()))]
        )


@pytest.mark.parametrize("bad", ["map<string,string>", "array<string", "struct<:string>", "x y"])
def test_hive_type_parser_rejects_what_it_does_not_know(bad: str) -> None:
    with pytest.raises(ValueError, match="type"):
        arrow_type(bad)


def test_parquet_file_reads_back_in_duckdb_with_the_glue_columns(tmp_path: Path) -> None:
    """GIVEN sample envelopes written as Snappy Parquet WHEN DuckDB reads the file
    THEN it sees exactly the Glue columns with the matching types and the same values."""
    envelopes = sample_envelopes(50)
    assert all(validate(e) == [] for e in envelopes)
    path = tmp_path / "part.parquet"
    path.write_bytes(parquet_bytes(rows_to_table([to_row(e) for e in envelopes])))

    meta = pq.ParquetFile(path).metadata
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    # DuckDB quotes struct field names that are SQL keywords ("name", "location").
    assert [(name, typ.replace('"', "")) for name, typ, *_ in described] == [
        (name, duckdb_type(glue)) for name, glue in glue_columns()
    ]
    got = con.execute(
        "SELECT tweet_id, strftime(created_at, '%Y-%m-%dT%H:%M:%S.%gZ'), author.id, hashtags"
        " FROM read_parquet(?)",
        [str(path)],
    ).fetchall()
    assert got == [
        (e["tweet_id"], e["created_at"], e["author"]["id"], e["hashtags"]) for e in envelopes
    ]


def test_conversion_ignores_unknown_fields_and_nulls_missing_ones() -> None:
    """Like the OpenX SerDe: a delete envelope converts (kind='delete', no text)."""
    row = to_row(
        {
            "kind": "delete",
            "tweet_id": "1",
            "deleted_at": "2026-11-24T00:00:00.000Z",
            "ingested_at": "2026-11-24T00:00:01.123Z",
        }
    )
    assert row["kind"] == "delete"
    assert row["text"] is None
    assert row["author"] is None
    assert row["ingested_at"].isoformat() == "2026-11-24T00:00:01.123000+00:00"


@pytest.mark.parametrize(
    ("record", "path"),
    [
        ({"schema_version": "1"}, "schema_version"),
        ({"created_at": "Wed Oct 10 20:19:24 +0000 2018"}, "created_at"),
        ({"created_at": "2026-11-24T00:00:00"}, "created_at"),
        ({"author": {"followers_count": 1.5}}, "author.followers_count"),
        ({"hashtags": "tide"}, "hashtags"),
        ({"mentions": [{"id": 5}]}, "mentions[0].id"),
        ({"author": {"verified": "yes"}}, "author.verified"),
        ({"schema_version": 2**63}, "schema_version"),
        ([], ""),
    ],
)
def test_conversion_error_names_the_field(record: Any, path: str) -> None:
    with pytest.raises(ConversionError) as err:
        to_row(record)
    assert err.value.path == path
