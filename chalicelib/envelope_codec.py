"""Typed envelope decoding: JSON bytes → a valid envelope, in one pass in C.

The consumer's fast path. ``msgspec`` decodes each record straight into
structs generated here from ``envelope_schema.json``, so the JSON grammar,
the kinds (a tagged union on ``kind``), required fields, unknown fields,
types, enums and the 64-bit range are all checked while parsing. Two things
are left to a small function generated from the same file (``Codec.accepts``, by
the generator :mod:`chalicelib.schema` uses for dicts),
because ``msgspec`` runs its ``pattern`` constraints through Python's ``re``
at ~0.5 µs a value: the decimal-id patterns (checked with ``str`` methods) and
the timestamp format.

The envelope's ``raw`` string (three quarters of a record's bytes) is the one
field the consumer never stores, so it is decoded as ``msgspec.Raw``: its
grammar is still checked (escapes, control characters, surrogate pairs) but
no Python string is built for it. What skipping it does not check is UTF-8
inside it, so a record that is not all ASCII is UTF-8-checked whole (the
producer writes ASCII, see ``chalicelib.normalize.envelope_bytes``).

``msgspec`` is imported on the first decode, not with the module: the API and
the scheduler share ``app.py`` with the consumer and never decode a record, so
they do not pay its ~9 ms of import on a cold start.

Anything this path refuses is decided again by the reference path (standard
library decoders plus :func:`chalicelib.schema.validate`), which words the
quarantine reason; the fast path only ever accepts a subset of what the
reference accepts (tests/unit/test_envelope_codec.py fuzzes the two against
each other).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

from chalicelib.schema import (
    INT64_MAX,
    INT64_MIN,
    AcceptsSource,
    FieldSpec,
    kind_fields,
    load_schema,
)

if TYPE_CHECKING:
    import msgspec

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


class _StructAcceptsSource(AcceptsSource):
    """Text of the check for what the structs leave open: id patterns, timestamps, raw's type.

    The same generator as :class:`chalicelib.schema.AcceptsSource` (same timestamp and
    pattern conditions), walking attributes of a decoded struct instead of dict keys:
    types, enums, ranges and unknown fields were already checked by the decoder.
    """

    def struct(self, fields: list[FieldSpec], var: str, indent: int) -> None:
        for spec in fields:
            if spec["name"] == RAW_FIELD:
                # A JSON string starts with a quote; any other value is the wrong type.
                self.emit(indent, f"if memoryview({var}.raw)[:1] != b'\"': return False")
                continue
            if not _needs_check(spec):
                continue
            item = self.name("v")
            self.emit(indent, f"{item} = {var}.{spec['name']}")
            if spec.get("required"):
                self.value(spec, item, indent)
            else:
                self.emit(indent, f"if {item} is not None:")
                self.value(spec, item, indent + 4)

    def value(self, spec: FieldSpec, var: str, indent: int) -> None:
        kind = spec["type"]
        if kind == "array":
            item = self.name("i")
            self.emit(indent, f"for {item} in {var}:")
            self.value(spec["items"], item, indent + 4)
        elif kind == "struct":
            self.struct(spec["fields"], var, indent)
        else:
            self.emit(indent, f"if {' or '.join(self.text_faults(spec, var))}: return False")


def _needs_check(spec: FieldSpec) -> bool:
    """Whether a field holds a timestamp or a pattern anywhere (what the decoder leaves open)."""
    kind = spec["type"]
    if kind == "array":
        return _needs_check(spec["items"])
    if kind == "struct":
        return any(_needs_check(f) for f in spec["fields"])
    return kind == "timestamp" or "pattern" in spec


class Codec:
    """The decoder and the per-kind checks, built once per process from the schema file."""

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
        self.accepts = {
            s: _StructAcceptsSource().compile(kind_fields(k)) for k, s in self.structs.items()
        }
        self.errors = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
        self.to_builtins: Callable[[Any], Any] = msgspec.to_builtins
        self.unset: msgspec.UnsetType = msgspec.UNSET


@cache
def codec() -> Codec:
    return Codec()


def decode_valid(data: bytes) -> tuple[str, dict[str, Any]] | None:
    """``(kind, envelope without raw and without nulls)`` when ``data`` is a valid envelope.

    None means "not decided here": the caller runs the reference path, which
    either accepts the record after all or says why not. Null optional fields
    are left out of the dict, as the DynamoDB items leave them out.
    """
    c = codec()
    try:
        if not data.isascii():
            data.decode("utf-8")  # Raw skips raw's bytes without checking their encoding
        envelope = c.decode(data)
    except c.errors:
        return None
    struct = type(envelope)
    if not c.accepts[struct](envelope):
        return None
    envelope.raw = c.unset  # to_builtins leaves UNSET out
    return struct.__struct_config__.tag, c.to_builtins(envelope)
