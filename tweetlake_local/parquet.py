"""The curated table's Parquet schema and writer, derived from the envelope schema file.

Terraform declares the Glue columns from ``chalicelib.envelope.schema.glue_columns()``;
this module builds the pyarrow schema from the same field specs (a test reads
the Glue type strings back to prove the two agree).

Rows are converted one envelope at a time, the way Firehose's OpenX JSON SerDe
does: unknown fields are ignored, missing ones become null, a value of the
wrong type fails *that record* (it goes to the error output) and never the
batch. ISO-8601 times ending in ``Z`` become ``timestamp[ms, UTC]``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chalicelib.envelope.schema import FieldSpec, lake_fields
from chalicelib.timeutil import parse_iso

TIMESTAMP = pa.timestamp("ms", tz="UTC")
COMPRESSION = "snappy"

_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "boolean": pa.bool_(),
    "timestamp": TIMESTAMP,
}


class ConversionError(ValueError):
    """One record does not fit the table schema; ``path`` names the offending field."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(f"{path or 'record'}: {problem}")


# --- schema ---------------------------------------------------------------------


def arrow_type(spec: FieldSpec) -> pa.DataType:
    """pyarrow type of one field spec of the envelope schema file."""
    kind = spec["type"]
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "array":
        return pa.list_(arrow_type(spec["items"]))
    if kind == "struct":
        return pa.struct([pa.field(f["name"], arrow_type(f)) for f in spec["fields"]])
    raise ValueError(f"unsupported schema type {kind!r}")


def lake_schema(kind: str = "tweet") -> pa.Schema:
    """The curated table's columns (no ``raw``), in schema-file order, all nullable."""
    return pa.schema([pa.field(f["name"], arrow_type(f)) for f in lake_fields(kind)])


# --- record conversion -------------------------------------------------------------


def parse_timestamp(value: Any, path: str) -> datetime:
    """ISO-8601 text (``Z`` or an offset) or epoch milliseconds → aware UTC, ms precision."""
    if isinstance(value, bool):
        raise ConversionError(path, "expected a timestamp, got a boolean")
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str):
        raise ConversionError(path, f"expected a timestamp, got {type(value).__name__}")
    try:
        parsed = parse_iso(value).astimezone(UTC)
    except ValueError as exc:
        raise ConversionError(path, str(exc)) from None
    return parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)


def _convert(value: Any, spec: FieldSpec, path: str) -> Any:
    if value is None:
        return None
    kind = spec["type"]
    if kind == "string":
        if not isinstance(value, str):
            raise ConversionError(path, f"expected a string, got {type(value).__name__}")
        return value
    if kind == "bigint":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConversionError(path, f"expected an integer, got {type(value).__name__}")
        if not -(2**63) <= value < 2**63:
            raise ConversionError(path, f"{value} does not fit a 64-bit integer")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ConversionError(path, f"expected a boolean, got {type(value).__name__}")
        return value
    if kind == "timestamp":
        return parse_timestamp(value, path)
    if kind == "array":
        if not isinstance(value, list):
            raise ConversionError(path, f"expected a list, got {type(value).__name__}")
        return [_convert(v, spec["items"], f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "struct":
        return _convert_struct(value, spec["fields"], path)
    raise ValueError(f"unsupported schema type {kind!r}")


def _convert_struct(value: Any, fields: Iterable[FieldSpec], path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConversionError(path, f"expected an object, got {type(value).__name__}")
    prefix = f"{path}." if path else ""
    return {f["name"]: _convert(value.get(f["name"]), f, prefix + f["name"]) for f in fields}


def to_row(record: Any, kind: str = "tweet") -> dict[str, Any]:
    """One parsed envelope → a row of the curated table, or ``ConversionError``."""
    return _convert_struct(record, lake_fields(kind), "")


def rows_to_table(rows: list[dict[str, Any]], schema: pa.Schema | None = None) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema or lake_schema())


def parquet_bytes(table: pa.Table) -> bytes:
    """Serialize a table as one Parquet file (Snappy), the format Firehose writes."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=COMPRESSION)
    return sink.getvalue()
