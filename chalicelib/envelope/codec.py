"""The consumer's decoder: JSON bytes → a valid envelope.

``msgspec`` decodes each record straight into structs built here from
``envelope/schema.json``, so the JSON grammar, the kinds (a tagged union on
``kind``), required fields, unknown fields, types, enums and the 64-bit range
are all checked while parsing, in C. The id patterns and the timestamp format
are checked after, in Python, with the tests :func:`chalicelib.envelope.schema.text_check`
gives ``validate`` too. msgspec's own ``pattern`` constraint searches rather than
matches whole, and was slower on the benchmark's batch (docs/consumer.md).

The envelope's ``raw`` string (three quarters of a record's bytes) is the one
field the consumer never stores, so it is decoded as ``msgspec.Raw``: its
grammar is still checked (escapes, control characters, surrogate pairs) but
no Python string is built for it. What skipping it leaves open is its type
(checked after) and UTF-8 inside it, so a record that is not all ASCII is
UTF-8-checked whole (the producer writes ASCII, see
``chalicelib.envelope.normalize.envelope_bytes``).

``msgspec`` is imported on the first decode, not with the module: the API and
the scheduler share ``app.py`` with the consumer and never decode a record, so
they do not pay its ~9 ms of import on a cold start.

The decoder only says yes or no. :mod:`chalicelib.consume.transform` words why a record
was refused, with the standard library and :func:`chalicelib.envelope.schema.validate`
(every violation, with its path); the tests hold the decoder and ``validate``
to the same verdict on every record.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal

from chalicelib.envelope.schema import (
    BLUESKY_IDS,
    INT64_MAX,
    INT64_MIN,
    X_IDS,
    FieldSpec,
    TextCheck,
    id_family,
    kind_fields,
    load_schema,
    text_check,
)

#: The field decoded as ``msgspec.Raw`` (kept as bytes, never turned into a str).
RAW_FIELD = "raw"

_STRUCT_OPTIONS: dict[str, Any] = {
    "kw_only": True,  # required fields may follow optional ones, as in the schema file
    "forbid_unknown_fields": True,
    "omit_defaults": True,  # to_builtins drops absent/null optional fields, as items do
    "gc": False,  # no cycles possible; untracked structs are cheaper to make
}


class _Structs:
    """msgspec struct types for the schema's field specs."""

    def __init__(self, msgspec: Any) -> None:
        self.msgspec = msgspec
        int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
        self.scalars: dict[str, Any] = {
            "string": str,
            "timestamp": str,
            "bigint": int64,
            "boolean": bool,
        }

    def type(self, spec: FieldSpec, name: str) -> Any:
        kind = spec["type"]
        if kind in self.scalars:
            if "enum" in spec:
                return Literal[tuple(spec["enum"])]
            return self.scalars[kind]
        if kind == "array":
            return list[self.type(spec["items"], name)]  # type: ignore[misc]
        if kind == "struct":
            return self.struct(name, spec["fields"])
        raise ValueError(f"unsupported schema type {kind!r}")

    def struct(self, name: str, fields: list[FieldSpec], **options: Any) -> Any:
        members: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for spec in fields:
            field = spec["name"]
            if field == "kind" and "tag" in options:
                continue  # the union's tag
            raw = field == RAW_FIELD
            typ = self.msgspec.Raw if raw else self.type(spec, f"{name}_{field}")
            if spec.get("required"):
                members.append((field, typ))
            else:
                members.append((field, typ | None, None))
        return self.msgspec.defstruct(name, members, **_STRUCT_OPTIONS, **options)


def _raw_is_string(raw: Any) -> bool:
    """A JSON string starts with a quote; ``msgspec.Raw`` takes any JSON value."""
    return memoryview(raw)[:1] == b'"'


def _after_check(spec: FieldSpec, family: str) -> TextCheck | None:
    """What a decoded value of ``spec`` must pass that its struct type did not check.

    None when nothing: most fields are neither ids nor times, and hold none.
    """
    kind = spec["type"]
    if kind == "struct":
        steps = _steps(spec["fields"], family)
        return _fields_check(steps) if steps else None
    if kind == "array":
        item = _after_check(spec["items"], family)
        return None if item is None else lambda values: all(map(item, values))
    return text_check(spec, family)


def _steps(fields: list[FieldSpec], family: str) -> list[tuple[str, TextCheck]]:
    """(attribute, check) for each field that needs one (``raw``: its type), in ``family``."""
    return [
        (spec["name"], check)
        for spec in fields
        if (check := _raw_is_string if spec["name"] == RAW_FIELD else _after_check(spec, family))
    ]


def _fields_check(steps: list[tuple[str, TextCheck]]) -> TextCheck:
    def check_fields(value: Any) -> bool:
        for name, check in steps:
            item = getattr(value, name)
            if item is not None and not check(item):
                return False
        return True

    return check_fields


class Codec:
    """The decoder, built once per process from the schema file."""

    def __init__(self) -> None:
        import msgspec

        structs = _Structs(msgspec)
        self.structs = {
            kind: structs.struct(
                f"{kind.capitalize()}Envelope", kind_fields(kind), tag_field="kind", tag=kind
            )
            for kind in load_schema()["kinds"]
        }
        union: Any = None
        for struct in self.structs.values():
            union = struct if union is None else union | struct
        self.decode: Callable[[bytes], Any] = msgspec.json.Decoder(union).decode
        # One check per kind and id family: an envelope's payload_format picks its family.
        self.checks = {
            (s, family): _fields_check(_steps(kind_fields(k), family))
            for k, s in self.structs.items()
            for family in (X_IDS, BLUESKY_IDS)
        }
        self.errors = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
        self.to_builtins: Callable[[Any], Any] = msgspec.to_builtins
        self.unset: msgspec.UnsetType = msgspec.UNSET


@cache
def codec() -> Codec:
    return Codec()


def decode_valid(data: bytes) -> tuple[str, dict[str, Any]] | None:
    """``(kind, envelope without raw and without nulls)``, or None: ``data`` is no envelope.

    Null optional fields are left out, as the DynamoDB items leave them out.
    """
    c = codec()
    try:
        if not data.isascii():
            data.decode("utf-8")  # Raw skips raw's bytes without checking their encoding
        envelope = c.decode(data)
    except c.errors:
        return None
    struct = type(envelope)
    if not c.checks[struct, id_family(envelope.payload_format)](envelope):
        return None
    envelope.raw = c.unset  # to_builtins leaves UNSET out
    return struct.__struct_config__.tag, c.to_builtins(envelope)
