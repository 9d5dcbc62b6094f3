"""DynamoDB items → the JSON a client sees: a whitelist, field by field.

Only fields named here reach a response, so bookkeeping the consumer adds to an
item never leaks. Field types come from the envelope schema
(``envelope/schema.json``), the same contract the consumer validates with, and
values are read straight from DynamoDB's attribute-value form: numbers become
``int`` (never ``Decimal``), times are re-rendered as UTC ISO-8601, a value of
the wrong type becomes ``null`` rather than an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from chalicelib.dynamo.items import TWEET_FIELDS
from chalicelib.envelope.schema import FieldSpec, kind_fields
from chalicelib.timeutil import iso_utc, parse_iso

Convert = Callable[[Any], Any]
_INT_RE = re.compile(r"-?[0-9]{1,30}")


def _string(av: Any) -> str | None:
    value = av.get("S") if isinstance(av, dict) else None
    return value if isinstance(value, str) else None


def string_of(av: Any) -> str | None:
    """A string attribute's value (None when absent or not a string): for the views."""
    return _string(av)


def _bigint(av: Any) -> int | None:
    value = av.get("N") if isinstance(av, dict) else None
    if isinstance(value, str) and _INT_RE.fullmatch(value):
        return int(value)
    return None


def _boolean(av: Any) -> bool | None:
    value = av.get("BOOL") if isinstance(av, dict) else None
    return value if isinstance(value, bool) else None


def _timestamp(av: Any) -> str | None:
    """Any stored ISO-8601 time with an offset, as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    text = _string(av)
    if text is None:
        return None
    try:
        return iso_utc(parse_iso(text))
    except ValueError:
        return None


def _array(item: Convert) -> Convert:
    def convert(av: Any) -> list[Any]:
        if not isinstance(av, dict):
            return []
        if isinstance(av.get("L"), list):
            values = [item(v) for v in av["L"]]
        elif isinstance(av.get("SS"), list):
            values = [item({"S": v}) for v in av["SS"]]
        else:
            return []
        return [v for v in values if v is not None]

    return convert


def _struct(fields: list[FieldSpec]) -> Convert:
    converters = {spec["name"]: converter(spec) for spec in fields}

    def convert(av: Any) -> dict[str, Any] | None:
        members = av.get("M") if isinstance(av, dict) else None
        if not isinstance(members, dict):
            return None
        return {name: convert_one(members.get(name)) for name, convert_one in converters.items()}

    return convert


def converter(spec: FieldSpec) -> Convert:
    """The attribute-value converter for one envelope-schema field spec."""
    kind = spec["type"]
    if kind == "array":
        return _array(converter(spec["items"]))
    if kind == "struct":
        return _struct(spec["fields"])
    simple: dict[str, Convert] = {
        "string": _string,
        "bigint": _bigint,
        "boolean": _boolean,
        "timestamp": _timestamp,
    }
    return simple[kind]


@cache
def _tweet_fields() -> dict[str, FieldSpec]:
    return {spec["name"]: spec for spec in kind_fields("tweet")}


@cache
def _tweet_converters() -> dict[str, Convert]:
    specs = _tweet_fields()
    converters = {name: converter(specs[name]) for name in TWEET_FIELDS}
    converters["author"] = converter(specs["author"])
    return converters


@cache
def _profile_converter() -> Convert:
    author = _tweet_fields()["author"]
    return _struct([spec for spec in author["fields"] if spec["name"] != "id"])


def tweet(item: dict[str, Any]) -> dict[str, Any]:
    """The public form of a live tweet item."""
    body: dict[str, Any] = {"tweet_id": None, "hash_line": _string(item.get("hash_line"))}
    body.update({name: convert(item.get(name)) for name, convert in _tweet_converters().items()})
    body["processed_at"] = _timestamp(item.get("processed_at"))
    body["author_tweets_in_batch"] = _bigint(item.get("author_tweets_in_batch"))
    return body


def _fact(item: dict[str, Any], name: str) -> dict[str, Any]:
    """A Bluesky account fact of an author item (``account``, ``identity``), or {}."""
    value = item.get(name)
    fact = value.get("M") if isinstance(value, dict) else None
    return fact if isinstance(fact, dict) else {}


def suppressed_status(item: dict[str, Any] | None) -> str | None:
    """Why a Bluesky account's posts are not served (``takendown``…), or None.

    The newest account event said ``active: false``; an account that comes back
    active is served again. X authors never carry the fact.
    """
    account = _fact(item or {}, "account")
    if _boolean(account.get("active")) is False:
        return _string(account.get("status")) or "inactive"
    return None


def user(item: dict[str, Any]) -> dict[str, Any]:
    """The public form of an authors-table item."""
    account = _fact(item, "account")
    status = suppressed_status(item) or ("active" if account else None)
    return {
        "user_id": _string(item.get("author_id")),
        "profile": _profile_converter()(item.get("profile")),
        "profile_at": _timestamp(item.get("profile_at")),
        "first_seen": _timestamp(item.get("first_seen")),
        "last_seen": _timestamp(item.get("last_seen")),
        "tweet_count": _bigint(item.get("tweet_count")) or 0,
        "handle": _string(_fact(item, "identity").get("handle")),
        "account_status": status,
    }
