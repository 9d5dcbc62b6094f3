"""Glue (Hive) type strings ↔ pyarrow types, for proving the table's descriptions agree.

pyarrow has no Hive type parser; sqlglot parses the text and this walks its tree.
A test tool only: the runtime derives both the Glue columns and the pyarrow schema
from the envelope schema file and never needs to read a type string back.
"""

from __future__ import annotations

import re

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import ParseError

SCALARS: dict[exp.DataType.Type, pa.DataType] = {
    exp.DataType.Type.TEXT: pa.string(),
    exp.DataType.Type.BIGINT: pa.int64(),
    exp.DataType.Type.BOOLEAN: pa.bool_(),
    exp.DataType.Type.TIMESTAMP: pa.timestamp("ms", tz="UTC"),
}
# DuckDB's name for each Glue scalar the schema uses (as DESCRIBE prints it).
DUCKDB_SCALARS = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
}


def arrow_type(text: str) -> pa.DataType:
    """``array<struct<id:string>>`` → the pyarrow type; ValueError for anything the
    envelope schema does not use, or text that is not exactly one well-formed type."""
    try:
        tree = exp.DataType.build(text, dialect="hive")
    except ParseError as exc:
        raise ValueError(f"not a Hive type {text!r}: {exc}") from None
    typ = _convert(tree, text)
    if glue_type(typ) != re.sub(r"\s+", "", text).lower():
        raise ValueError(f"not exactly one well-formed Hive type: {text!r}")
    return typ


def _convert(node: exp.DataType, text: str) -> pa.DataType:
    if node.this in SCALARS:
        return SCALARS[node.this]
    if node.this == exp.DataType.Type.ARRAY and len(node.expressions) == 1:
        return pa.list_(_convert(node.expressions[0], text))
    if node.this == exp.DataType.Type.STRUCT and node.expressions:
        return pa.struct(
            [pa.field(f.name, _convert(f.args["kind"], text)) for f in node.expressions]
        )
    raise ValueError(f"unsupported Hive type {node.sql('hive')!r} in {text!r}")


def glue_type(typ: pa.DataType) -> str:
    """A pyarrow type of the schema → its Glue type text."""
    for glue, arrow in zip(DUCKDB_SCALARS, SCALARS.values(), strict=True):
        if typ == arrow:
            return glue
    if pa.types.is_list(typ):
        return f"array<{glue_type(typ.value_type)}>"
    if pa.types.is_struct(typ):
        return "struct<" + ",".join(f"{f.name}:{glue_type(f.type)}" for f in typ) + ">"
    raise ValueError(f"no Glue type for {typ}")


def duckdb_type(glue: str) -> str:
    """The DuckDB type text a Glue type should read back as."""
    typ = arrow_type(glue)
    if pa.types.is_list(typ):
        return duckdb_type(glue_type(typ.value_type)) + "[]"
    if pa.types.is_struct(typ):
        inner = ", ".join(f"{f.name} {duckdb_type(glue_type(f.type))}" for f in typ)
        return f"STRUCT({inner})"
    return DUCKDB_SCALARS[glue]


def glue_schema(columns: list[tuple[str, str]]) -> pa.Schema:
    """The pyarrow schema a list of Glue ``(name, type)`` columns describes."""
    return pa.schema([pa.field(name, arrow_type(t)) for name, t in columns])
