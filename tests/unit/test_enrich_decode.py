"""The consumer's decode (pybase64 + msgspec) ends every record where the standard library does.

The reference reads a record with ``binascii``, UTF-8, ``json`` and
:func:`chalicelib.envelope.schema.validate`, then checks that every string can be stored
as UTF-8: each record is stored or quarantined, with the same reason, as it
decides.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import pytest

from chalicelib.consume.transform import Decoded, Refused, _envelope, transform
from chalicelib.dynamo.items import drop_nulls
from chalicelib.envelope.codec import decode_valid
from chalicelib.envelope.schema import validate
from tests.envelopes import delete_envelope, tweet_envelope
from tests.paths import OWN_TWITTER, SHARED_TWITTER
from tests.support.kinesis_events import kinesis_record

NOW = "2026-11-24T08:00:00.000Z"


def reference(data: str) -> tuple[bytes, Any, str | None]:
    """``(raw bytes, envelope, None)`` or ``(raw bytes, None, reason)``, by the standard library."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        return data.encode("utf-8", "replace"), None, f"not base64: {exc}"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return raw, None, f"not UTF-8: {exc}"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return raw, None, f"not JSON: {str(exc) or type(exc).__name__}"
    if not isinstance(value, dict):
        return raw, None, f"not an object: a JSON {type(value).__name__}"
    if validate(value):
        return raw, None, "schema: " + "; ".join(validate(value))
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return raw, None, "not UTF-8: a string holds a lone surrogate (surrogates not allowed)"
    return raw, value, None


def outcome(decoded: Decoded | Refused) -> tuple[bytes, Any, str | None]:
    """``_envelope``'s answer in the reference's terms."""
    if isinstance(decoded, Refused):
        return decoded.raw, None, decoded.reason
    return decoded.raw, decoded.envelope, None


def comparable(result: tuple[bytes, Any, str | None]) -> tuple[bytes, Any, str | None]:
    """An accepted envelope as the consumer hands it over: no ``raw``, no nulls."""
    raw, value, reason = result
    if isinstance(value, dict):
        value = drop_nulls({k: v for k, v in value.items() if k != "raw"})
    return raw, value, reason


def same(data: str) -> bool:
    return comparable(outcome(_envelope(data))) == comparable(reference(data))


def b64(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(data).decode("ascii")


def envelope_text(**changes: Any) -> str:
    return json.dumps({**tweet_envelope(11, 22), **changes}, ensure_ascii=False)


CASES = {
    "valid": b64(envelope_text()),
    "valid delete": b64(json.dumps(delete_envelope(3))),
    # msgspec refuses these, json takes them: each ends as the reference decides.
    "lone surrogate in text": b64(envelope_text().replace('"hello"', '"a\\ud800b"')),
    # msgspec refuses integers outside 64 bits; json reads them exactly.
    "integer beyond 64 bits": b64(envelope_text(schema_version=2**70)),
    "integer below -2**63": b64(envelope_text(schema_version=-(2**63) - 1)),
    "NaN": b64(envelope_text().replace('"schema_version": 1', '"schema_version": NaN')),
    "1e400": b64(envelope_text().replace('"schema_version": 1', '"schema_version": 1e400')),
    "top-level big integer": b64("123456789012345678901234567890"),
    "not UTF-8": b64(b'{"kind": "tweet\xff"}'),
    "BOM": b64(b"\xef\xbb\xbf" + envelope_text().encode()),
    "deep nesting": b64("[" * 100_000 + "]" * 100_000),
    "not base64": "@@not base64@@",
    "whitespace in base64": b64(envelope_text())[:8] + "\n" + b64(envelope_text())[8:],
    "not an object": b64("[1, 2]"),
    "duplicate keys": b64(envelope_text()[:-1] + ', "lang": "fr"}'),
    # json keeps a key's last value; msgspec refuses a first one of the wrong type.
    "duplicate keys, the first invalid": b64('{"author": 5, ' + envelope_text()[1:]),
    "duplicate kind": b64('{"kind": "delete", ' + envelope_text()[1:]),
    "id with a newline": b64(envelope_text(tweet_id="11\n")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_decode_ends_where_the_standard_library_does(name: str) -> None:
    assert same(CASES[name])


@pytest.mark.parametrize("name", ["duplicate keys, the first invalid", "duplicate kind"])
def test_a_duplicate_key_is_read_as_json_reads_it(name: str) -> None:
    """msgspec alone refuses the record; json, keeping each key's last value, reads a valid
    tweet, and the tweet is what the consumer keeps."""
    data = CASES[name]
    assert decode_valid(base64.b64decode(data)) is None
    decoded = _envelope(data)
    assert isinstance(decoded, Decoded)
    assert (decoded.kind, decoded.envelope["author"]["id"]) == ("tweet", "22")


def test_padding_past_a_full_quantum_still_decodes() -> None:
    """binascii (strict) accepts `QUJD=`; pybase64 refuses it: the fallback keeps it."""
    text = envelope_text()
    text += " " * (-len(text.encode()) % 3)  # base64 without padding of its own
    data = b64(text) + "="
    assert base64.b64decode(data, validate=True) == text.encode()
    _raw, envelope, reason = outcome(_envelope(data))
    assert reason is None
    assert envelope == comparable((b"", json.loads(text), None))[1]  # without raw and nulls


def test_refused_records_keep_the_standard_librarys_reasons() -> None:
    """GIVEN records only the standard library parses, WHEN transformed THEN each is
    quarantined with its reason (a lone surrogate could not be written to DynamoDB)."""
    batch = transform(
        [
            kinesis_record(b"", sequence=i, stream="s", encoded=CASES[name])
            for i, name in enumerate(
                ["lone surrogate in text", "integer beyond 64 bits", "deep nesting", "NaN"], 1
            )
        ],
        NOW,
    )
    assert batch.records == []
    reasons = [entry.reason for entry in batch.quarantine]
    assert reasons[0] == "not UTF-8: a string holds a lone surrogate (surrogates not allowed)"
    assert reasons[1] == (
        "schema: schema_version: 1180591620717411303424 does not fit a 64-bit integer"
    )
    assert reasons[2].startswith("not JSON: maximum recursion depth exceeded")
    assert reasons[3] == "schema: schema_version: expected an integer, got float"


def test_a_tweet_id_with_a_newline_is_quarantined_not_raised() -> None:
    """It used to pass the schema (Python's `$`) and raise in hash_line, failing the batch."""
    batch = transform(
        [kinesis_record(b"", sequence=1, stream="s", encoded=CASES["id with a newline"])], NOW
    )
    assert batch.records == []
    assert batch.quarantine[0].reason.startswith("schema: tweet_id: '11\\n' does not match")


def fixture_records() -> list[str]:
    lines: list[str] = []
    for directory in (OWN_TWITTER, SHARED_TWITTER):
        for path in sorted(directory.glob("*.json*")) if directory.is_dir() else []:
            text = path.read_text(encoding="utf-8")
            lines += text.splitlines() if path.suffix == ".jsonl" else [text]
    return lines


def test_every_fixture_envelope_decodes_as_the_standard_library_reads_it() -> None:
    from chalicelib.envelope.normalize import normalize_line

    checked = accepted = 0
    for line in fixture_records():
        for item in normalize_line(line, ingested_at=NOW):
            if item.envelope is None:
                continue
            data = b64(json.dumps(item.envelope, ensure_ascii=False, separators=(",", ":")))
            assert same(data)
            if reference(data)[2] is None:
                assert decode_valid(base64.b64decode(data)) is not None  # decided first-hand
                accepted += 1
            checked += 1
    assert checked > 10
    assert accepted > 10


def test_transform_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    record = kinesis_record(b"", sequence=1, stream="s", encoded=CASES["valid"])
    assert gc.isenabled()
    transform([record], NOW)
    assert gc.isenabled()
    gc.disable()
    try:
        transform([record, {"kinesis": {}}], NOW)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_lone_surrogate_envelope_is_quarantined_not_written() -> None:
    """An envelope made elsewhere (not by our normalizer) with a lone surrogate would make
    DynamoDB refuse the whole batch: it is quarantined with the reason instead."""
    envelope = tweet_envelope(1, 2, text="cut \ud83d")
    data = b64(json.dumps(envelope))
    _, stored, reason = outcome(_envelope(data))
    assert stored is None
    assert reason == "not UTF-8: a string holds a lone surrogate (surrogates not allowed)"
