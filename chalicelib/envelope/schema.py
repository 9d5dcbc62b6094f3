"""The envelope contract, read from ``envelope/schema.json``.

The JSON file is the single source of truth: the consumer decodes with structs
built from it (:mod:`chalicelib.envelope.codec`) and words a refusal with
:func:`validate`, Terraform derives the Glue columns from the same file
(through :func:`glue_columns`, which the tests compare with what Terraform
declares), and the local Parquet writer maps the same fields to pyarrow types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("schema.json")

# ASCII digits only (``\d`` would take any Unicode digit); matched with ``fullmatch``.
TIMESTAMP_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z$"
)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Id families: X payloads hold decimal ids (``pattern``), Bluesky payloads hold
#: DIDs and ``DID:rkey`` post ids (``bluesky_pattern``). The envelope's
#: ``payload_format`` picks the family, and each family is held to its own
#: patterns only, so accepting Bluesky ids loosens nothing for X ids.
X_IDS, BLUESKY_IDS = "x", "bluesky"
BLUESKY_FORMATS = frozenset({"jetstream"})

Check = Callable[[Any, str, list[str]], None]
TextCheck = Callable[[str], object]  # truthy when the text passes
FieldSpec = Mapping[str, Any]


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """Parse the schema file once per process."""
    with SCHEMA_PATH.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def schema_version() -> int:
    return int(load_schema()["version"])


def kind_fields(kind: str) -> list[FieldSpec]:
    """Field specs of one envelope kind (``tweet`` or ``delete``)."""
    kinds = load_schema()["kinds"]
    if kind not in kinds:
        raise KeyError(f"unknown envelope kind {kind!r}; known: {sorted(kinds)}")
    fields: list[FieldSpec] = kinds[kind]["fields"]
    return fields


def lake_fields(kind: str = "tweet") -> list[FieldSpec]:
    """The fields that are columns of the curated table (``lake`` not false)."""
    return [f for f in kind_fields(kind) if f.get("lake", True)]


def glue_type(spec: FieldSpec) -> str:
    """Hive/Glue type string of a field spec, e.g. ``array<struct<id:string>>``."""
    kind = spec["type"]
    if kind in ("string", "bigint", "boolean", "timestamp"):
        return str(kind)
    if kind == "array":
        return f"array<{glue_type(spec['items'])}>"
    if kind == "struct":
        inner = ",".join(f"{f['name']}:{glue_type(f)}" for f in spec["fields"])
        return f"struct<{inner}>"
    raise ValueError(f"unsupported schema type {kind!r}")


def glue_columns(kind: str = "tweet") -> list[tuple[str, str]]:
    """(name, Glue type) of every curated-table column, in schema order."""
    return [(f["name"], glue_type(f)) for f in lake_fields(kind)]


# --- validation -----------------------------------------------------------------
#
# ``validate`` walks a parsed JSON value and lists every way it breaks the
# contract, each with its path: the words of a ``schema`` quarantine reason. The
# consumer decides with the structs of :mod:`chalicelib.envelope.codec` and asks
# ``validate`` only about a record they refuse; the tests hold the two to one
# verdict on every record. Both take the id and time rules from :func:`text_check`.
#
# Patterns must match the whole value. All patterns in the schema file are
# anchored ``^...$``, and JSON Schema's ``$`` means the end of the text, whereas
# Python's ``re.match`` lets ``$`` match before a final newline: ``"12\n"`` would
# pass as a tweet id and then fail later, where no quarantine catches it.


def id_family(payload_format: object) -> str:
    """Which id family an envelope of ``payload_format`` is held to."""
    return (
        BLUESKY_IDS
        if isinstance(payload_format, str) and payload_format in BLUESKY_FORMATS
        else X_IDS
    )


def field_pattern(spec: FieldSpec, family: str = X_IDS) -> str | None:
    """The pattern a string of ``spec`` must match in ``family`` (None: no pattern)."""
    if family == BLUESKY_IDS and "bluesky_pattern" in spec:
        return str(spec["bluesky_pattern"])
    return str(spec["pattern"]) if "pattern" in spec else None


def text_check(spec: FieldSpec, family: str = X_IDS) -> TextCheck | None:
    """The test a string of ``spec`` must pass besides being a string, or None.

    The timestamp format or the field's pattern in the id ``family``, matched
    whole. Shared by :func:`validate` and the consumer's decoder, so each rule
    is written once.
    """
    if spec["type"] == "timestamp":
        return TIMESTAMP_RE.fullmatch
    pattern = field_pattern(spec, family)
    return re.compile(pattern).fullmatch if pattern is not None else None


def _type_check(spec: FieldSpec, family: str) -> Check:
    kind = spec["type"]
    if kind == "array":
        item_check = _type_check(spec["items"], family)

        def check_array(value: Any, path: str, errors: list[str]) -> None:
            if not isinstance(value, list):
                errors.append(f"{path}: expected a list, got {type(value).__name__}")
                return
            for i, item in enumerate(value):
                if item is None:
                    errors.append(f"{path}[{i}]: null item")
                else:
                    item_check(item, f"{path}[{i}]", errors)

        return check_array
    if kind == "struct":
        return _struct_check(spec["fields"], family)
    return _scalar_check(spec, family)


def _string_check(spec: FieldSpec, family: str) -> Check:
    matches = text_check(spec, family)
    pattern = field_pattern(spec, family)
    enum = frozenset(spec["enum"]) if "enum" in spec else None

    def check_string(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {type(value).__name__}")
        elif matches is not None and not matches(value):
            errors.append(f"{path}: {value[:40]!r} does not match {pattern}")
        elif enum is not None and value not in enum:
            errors.append(f"{path}: {value[:40]!r} is not one of {sorted(enum)}")

    return check_string


def _scalar_check(spec: FieldSpec, family: str) -> Check:
    kind = spec["type"]
    if kind == "string":
        return _string_check(spec, family)
    if kind == "bigint":

        def check_bigint(value: Any, path: str, errors: list[str]) -> None:
            if not isinstance(value, int) or isinstance(value, bool):
                errors.append(f"{path}: expected an integer, got {type(value).__name__}")
            elif not INT64_MIN <= value <= INT64_MAX:
                errors.append(f"{path}: {value} does not fit a 64-bit integer")

        return check_bigint
    if kind == "boolean":

        def check_boolean(value: Any, path: str, errors: list[str]) -> None:
            if not isinstance(value, bool):
                errors.append(f"{path}: expected true or false, got {type(value).__name__}")

        return check_boolean
    if kind == "timestamp":

        def check_timestamp(value: Any, path: str, errors: list[str]) -> None:
            if not isinstance(value, str) or not TIMESTAMP_RE.fullmatch(value):
                errors.append(
                    f"{path}: expected a UTC ISO-8601 time ending in Z, got {value!r:.60}"
                )

        return check_timestamp
    raise ValueError(f"unsupported schema type {kind!r}")


def _struct_check(fields: list[FieldSpec], family: str) -> Check:
    checks = [(f["name"], bool(f.get("required")), _type_check(f, family)) for f in fields]
    known = frozenset(name for name, _, _ in checks)

    def check_struct(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(f"{path or 'record'}: expected an object, got {type(value).__name__}")
            return
        prefix = f"{path}." if path else ""
        for name, required, check in checks:
            item = value.get(name)
            if item is None:
                if required:
                    errors.append(f"{prefix}{name}: required")
            else:
                check(item, prefix + name, errors)
        extra = sorted(set(value) - known)
        if extra:
            errors.append(f"{path or 'record'}: unexpected field(s) {extra}")

    return check_struct


@cache
def _kind_validator(kind: str, family: str) -> Check:
    return _struct_check(kind_fields(kind), family)


def validate(envelope: Any) -> list[str]:
    """Every way ``envelope`` breaks the contract; an empty list means valid.

    Returns messages instead of raising so a quarantine reason can hold all of
    a record's faults at once.
    """
    if not isinstance(envelope, dict):
        return [f"record: expected a JSON object, got {type(envelope).__name__}"]
    kind = envelope.get("kind")
    kinds = load_schema()["kinds"]
    if not isinstance(kind, str) or kind not in kinds:  # a list or dict is unhashable
        return [f"kind: {kind!r:.60} is not one of {sorted(kinds)}"]
    errors: list[str] = []
    _kind_validator(kind, id_family(envelope.get("payload_format")))(envelope, "", errors)
    return errors
