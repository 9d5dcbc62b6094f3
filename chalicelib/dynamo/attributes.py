"""DynamoDB's attribute values: a codec for the types an envelope holds, and item sizing.

Items travel in DynamoDB's attribute-value JSON through a small codec written
for the types an envelope can hold (str, int, bool, list, map). boto3's
``TypeSerializer`` would do the same work several times slower and insists on
``Decimal``. Sizing follows DynamoDB's published rules, so the consumer can
quarantine an item that could never be written and the cost model can price
storage from the items the consumer really writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# DynamoDB's item limit is 400 KB (409,600 bytes); moto enforces 400,000, so do we.
MAX_ITEM_BYTES = 400_000

Item = dict[str, Any]


def to_attr(value: Any) -> dict[str, Any]:
    """One Python value → DynamoDB attribute value (bool before int: bool is an int)."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"M": {k: to_attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    if value is None:
        return {"NULL": True}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB here")


def to_item(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: to_attr(v) for k, v in item.items()}


def from_attr(attr: Mapping[str, Any]) -> Any:
    """DynamoDB attribute value → Python (numbers come back as int)."""
    (kind, value), *_ = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        return int(value) if value.lstrip("-").isdigit() else float(value)
    if kind == "BOOL":
        return value
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "NULL":
        return None
    raise TypeError(f"unexpected attribute type {kind!r}")


def from_item(item: Mapping[str, Any]) -> Item:
    return {k: from_attr(v) for k, v in item.items()}


def _number_size(value: int) -> int:
    digits = len(str(abs(value)).rstrip("0")) or 1
    return (digits + 1) // 2 + 1


def attr_size(value: Any) -> int:
    """Bytes DynamoDB counts for a value (its published sizing rules, rounded up)."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8"))
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        return _number_size(value)
    if isinstance(value, dict):
        return 3 + sum(attr_size(k) + attr_size(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(attr_size(v) + 1 for v in value)
    raise TypeError(f"cannot size a {type(value).__name__}")


def item_size(item: Mapping[str, Any]) -> int:
    """Size of an item as DynamoDB counts it against the 400 KB limit."""
    return sum(attr_size(name) + attr_size(value) for name, value in item.items())
