"""The curated table's Parquet schema and writer, derived from the envelope schema file.

Terraform declares the Glue columns from ``chalicelib.schema.glue_columns()``;
this module builds the pyarrow schema from the same field specs and, as a
cross-check, can parse those Glue type strings back (pyarrow has no Hive type
parser), so a test can prove schema file, Glue columns and Parquet agree.

Rows are converted one envelope at a time, the way Firehose's OpenX JSON SerDe
does: unknown fields are ignored, missing ones become null, a value of the
wrong type fails *that record* (it goes to the error output) and never the
batch. ISO-8601 times ending in ``Z`` become ``timestamp[ms, UTC]``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from chalicelib.schema import FieldSpec, glue_columns, lake_fields
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


_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[<>,:])")


def parse_hive_type(text: str) -> pa.DataType:
    """Parse a Hive/Glue type string (``array<struct<id:string>>``) into a pyarrow type.

    Only the types the envelope schema uses (plus int/double for clear errors
    elsewhere) are understood; anything else raises ``ValueError`` naming it.
    """
    tokens = _tokenize(text)
    result, pos = _parse_type(tokens, 0, text)
    if pos != len(tokens):
        raise ValueError(f"trailing text after type in {text!r}")
    return result


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"unexpected character {text[pos]!r} in type {text!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


_HIVE_SCALARS: dict[str, pa.DataType] = {
    **_SCALARS,
    "int": pa.int32(),
    "double": pa.float64(),
}


def _expect(tokens: list[str], pos: int, want: str, text: str) -> int:
    if pos >= len(tokens) or tokens[pos] != want:
        got = tokens[pos] if pos < len(tokens) else "end of text"
        raise ValueError(f"expected {want!r} but found {got!r} in type {text!r}")
    return pos + 1


def _parse_type(tokens: list[str], pos: int, text: str) -> tuple[pa.DataType, int]:
    if pos >= len(tokens):
        raise ValueError(f"type ends early: {text!r}")
    name = tokens[pos].lower()
    pos += 1
    if name == "array":
        pos = _expect(tokens, pos, "<", text)
        item, pos = _parse_type(tokens, pos, text)
        return pa.list_(item), _expect(tokens, pos, ">", text)
    if name == "struct":
        pos = _expect(tokens, pos, "<", text)
        fields = []
        while True:
            field_name = tokens[pos] if pos < len(tokens) else ""
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field_name):
                raise ValueError(f"expected a field name in type {text!r}")
            pos = _expect(tokens, pos + 1, ":", text)
            field_type, pos = _parse_type(tokens, pos, text)
            fields.append(pa.field(field_name, field_type))
            if pos < len(tokens) and tokens[pos] == ",":
                pos += 1
                continue
            return pa.struct(fields), _expect(tokens, pos, ">", text)
    if name in _HIVE_SCALARS:
        return _HIVE_SCALARS[name], pos
    raise ValueError(f"unsupported Hive type {name!r} in {text!r}")


def glue_schema(kind: str = "tweet") -> pa.Schema:
    """The pyarrow schema Terraform's Glue columns describe (parsed from their type text)."""
    return pa.schema([pa.field(name, parse_hive_type(t)) for name, t in glue_columns(kind)])


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
