"""A small lake holding a deleted tweet in every zone, for the purge's tests and bench.

The records are hand-made v1.1 payloads normalized by the real ``normalize_line``,
written by the local mode's own Firehose emulation (gzip JSON lines under ``raw/``,
Parquet under ``curated/``) and quarantine writer, into whatever sinks are given
(a dict, the moto bucket, the lake folder). Times are fixed: the purge compares
them only with the clock a test injects.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.envelope.normalize import envelope_bytes, normalize_line
from chalicelib.quarantine import QuarantineEntry, quarantine_key
from chalicelib.timeutil import SNOWFLAKE_EPOCH_MS, format_v1_created_at, parse_iso
from tweetlake_local.firehose import Sink, StreamRecord, curated_delivery, raw_delivery

INGESTED_AT = "2026-11-24T12:00:00.000Z"
DELETED_TEXT = "the words that must go"


def snowflake_at(iso: str, sequence: int) -> str:
    """A Snowflake id minted at ``iso``, so the id's time and ``created_at`` agree."""
    ms = int(parse_iso(iso).timestamp() * 1000)
    return str(((ms - SNOWFLAKE_EPOCH_MS) << 22) + sequence)


def tweet_payload(tweet_id: str, created: str, text: str, **extra: Any) -> dict[str, Any]:
    user_id = extra.pop("user_id", "2244994945")
    return {
        "created_at": format_v1_created_at(parse_iso(created)),
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "user": {"id": int(user_id), "id_str": user_id, "screen_name": f"u{user_id}"},
        "entities": {"hashtags": [], "user_mentions": [], "urls": []},
        "lang": "en",
        **extra,
    }


def delete_payload(tweet_id: str) -> dict[str, Any]:
    return {
        "delete": {
            "status": {"id": int(tweet_id), "id_str": tweet_id, "user_id": 2244994945},
            "timestamp_ms": "1795000000000",
        }
    }


def record_bytes(payload: dict[str, Any]) -> bytes:
    """The envelope the producer would put on the stream for ``payload``."""
    (item,) = normalize_line(json.dumps(payload), ingested_at=INGESTED_AT)
    assert item.envelope is not None, item.reason
    return envelope_bytes(item.envelope)


@dataclass(frozen=True)
class Scenario:
    deleted: str  # the deleted tweet's id
    created_at: str  # its creation time
    kept: tuple[str, ...]  # ids that must survive, one containing ``deleted``'s digits
    retweet: str  # a retweet of the deleted tweet (carries its text): goes too


def build(sinks: Sequence[Sink], *, deleted_created: str = "2026-11-23T10:00:00.000Z") -> Scenario:
    """Write the scenario's raw, curated and quarantine objects to every sink."""
    deleted = snowflake_at(deleted_created, 1)
    neighbour = f"9{deleted}"[:20]  # contains the deleted id's digits: must not match
    other = snowflake_at("2026-11-23T11:00:00.000Z", 2)
    retweet = snowflake_at("2026-11-23T12:00:00.000Z", 3)
    original = tweet_payload(deleted, deleted_created, DELETED_TEXT)
    first = [
        record_bytes(original),
        record_bytes(tweet_payload(neighbour, "2026-11-23T10:30:00.000Z", "a neighbour")),
        record_bytes(
            tweet_payload(
                retweet,
                "2026-11-23T12:00:00.000Z",
                f"RT @u2244994945: {DELETED_TEXT}",
                user_id="17",
                retweeted_status=original,
            )
        ),
    ]
    later = [
        record_bytes(original),  # a duplicate delivery
        record_bytes(tweet_payload(other, "2026-11-23T11:00:00.000Z", "someone else")),
        record_bytes(delete_payload(deleted)),
    ]
    _deliver(sinks, first, datetime(2026, 11, 23, 10, 5, tzinfo=UTC), "0001")
    _deliver(sinks, later, datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "0002")
    _quarantine(sinks, original, neighbour)
    return Scenario(deleted, deleted_created, (neighbour, other), retweet)


def _deliver(sinks: Sequence[Sink], lines: list[bytes], arrival: datetime, seq: str) -> None:
    records = [
        StreamRecord(data, "shardId-000000000000", f"{seq}{i:04d}", arrival)
        for i, data in enumerate(lines)
    ]
    for delivery in (raw_delivery(list(sinks)), curated_delivery(list(sinks))):
        delivery.put(records)
        delivery.close()


def _quarantine(sinks: Sequence[Sink], original: dict[str, Any], neighbour: str) -> None:
    """One consumer quarantine object: a bad copy of the deleted tweet and a neighbour."""
    bad = json.dumps(original).encode()[:-1]  # cut short: not JSON any more
    entries = [
        QuarantineEntry("invalid: not JSON", bad, "shardId-000000000000", "1", INGESTED_AT),
        QuarantineEntry("invalid: test", neighbour.encode(), "shardId-000000000000", "2"),
    ]
    body = "".join(e.to_line() for e in entries).encode()
    key = quarantine_key("consumer", "2026-11-24", "shardId-000000000000-1")
    for sink in sinks:
        sink.put(key, body)
    error = {"errorCode": "x", "rawData": base64.b64encode(bad).decode("ascii")}
    error_key = (
        "firehose-errors/tweetlake-dev-curated/format-conversion-failed/"
        "dt=2026-11-24/hour=09/e.jsonl"
    )
    for sink in sinks:
        sink.put(error_key, (json.dumps(error) + "\n").encode())


def decoded_records(key: str, body: bytes) -> list[bytes]:
    """What an object holds, decoded for a byte search: raw lines (gunzipped), Parquet
    cells (uncompressed), quarantine/error lines with their base64 records decoded."""
    import gzip

    if key.endswith(".gz"):
        return gzip.decompress(body).splitlines()
    if key.endswith(".parquet"):
        import io

        import pyarrow.parquet as pq

        # The same table without compression or dictionaries: every string value is
        # then in the file as its own UTF-8 bytes (PLAIN encoding), so a byte search
        # sees each cell, and at C speed (a JSON dump of each row took seconds).
        plain = io.BytesIO()
        table = pq.read_table(io.BytesIO(body))
        pq.write_table(table, plain, compression="none", use_dictionary=False)
        return [plain.getvalue()]
    out = []
    for line in body.splitlines():
        out.append(line)
        entry = json.loads(line)
        for name in ("data_b64", "rawData"):
            if name in entry:
                out.append(base64.b64decode(entry[name]))
    return out
