"""The purge's rules: which objects it reads, which lines and rows it drops, what it writes."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow.parquet as pq
import pytest

from chalicelib.purge.engine import (
    LakeObject,
    Scope,
    candidate_scopes,
    rewrite_parquet,
    rewrite_raw,
    scan_lake,
)
from chalicelib.purge.match import entry_holds, envelope_holds, id_pattern, ids_in
from chalicelib.purge.request_log import PurgeRequest
from chalicelib.purge.requests import request_item
from chalicelib.retry import Backoff, RetriesExhaustedError
from tests.support.purge_lake import (
    DELETED_TEXT,
    build,
    decoded_records,
    delete_payload,
    record_bytes,
    snowflake_at,
    tweet_payload,
)
from tweetlake_local.parquet import parquet_bytes, rows_to_table, to_row


class MemoryStore:
    """An object store in a dict, listing in key order as S3 does."""

    name = "memory"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.writes: list[str] = []
        self.reads: list[str] = []

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body
        self.writes.append(key)

    def list(self, prefix: str, start_after: str = "") -> Iterator[LakeObject]:
        for key in sorted(self.objects):
            if key.startswith(prefix) and key > start_after:
                yield LakeObject(key, len(self.objects[key]))

    def get(self, key: str) -> bytes:
        self.reads.append(key)
        return self.objects[key]

    def delete(self, key: str) -> None:
        del self.objects[key]
        self.writes.append(key)


# --- ids as tokens ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (b'{"id":"123"}', {"123"}),
        (b"status/123?s=20", {"123"}),
        (b"91234", set()),
        (b"1234 0123 12", set()),
        (b'"in_reply_to":123,', {"123"}),
        (b"123", {"123"}),
    ],
)
def test_an_id_is_found_only_as_a_whole_number(text: bytes, found: set[str]) -> None:
    assert ids_in(text, id_pattern(["123"])) == found


def test_overlapping_ids_are_each_found() -> None:
    pattern = id_pattern(["12", "123"])
    assert ids_in(b"x 123 y 12 z 1234", pattern) == {"12", "123"}


def test_no_ids_match_nothing() -> None:
    assert ids_in(b"123 anything", id_pattern([])) == set()


# --- raw lines ---------------------------------------------------------------------------

DELETED = snowflake_at("2026-11-23T10:00:00.000Z", 1)


def _original() -> dict[str, Any]:
    return tweet_payload(DELETED, "2026-11-23T10:00:00.000Z", DELETED_TEXT)


def test_the_tweet_its_delete_notice_and_a_retweet_carrying_its_text_are_held() -> None:
    pattern = id_pattern([DELETED])
    retweet = tweet_payload(
        snowflake_at("2026-11-23T11:00:00.000Z", 5),
        "2026-11-23T11:00:00.000Z",
        f"RT @u2244994945: {DELETED_TEXT}",
        user_id="17",
        retweeted_status=_original(),
    )
    for payload in (_original(), delete_payload(DELETED), retweet):
        assert envelope_holds(record_bytes(payload).rstrip(b"\n"), pattern) == {DELETED}


def test_a_quote_is_held_because_its_payload_carries_the_quoted_tweet() -> None:
    quote = tweet_payload(
        snowflake_at("2026-11-23T11:00:00.000Z", 6),
        "2026-11-23T11:00:00.000Z",
        "look at this",
        quoted_status_id_str=DELETED,
        quoted_status=_original(),
        is_quote_status=True,
    )
    assert envelope_holds(record_bytes(quote).rstrip(b"\n"), id_pattern([DELETED])) == {DELETED}


def test_a_reply_that_only_names_the_tweet_is_kept() -> None:
    reply = tweet_payload(
        snowflake_at("2026-11-23T11:00:00.000Z", 7),
        "2026-11-23T11:00:00.000Z",
        "@u2244994945 I disagree",
        in_reply_to_status_id=int(DELETED),
        in_reply_to_status_id_str=DELETED,
    )
    line = record_bytes(reply).rstrip(b"\n")
    assert DELETED.encode() in line
    assert envelope_holds(line, id_pattern([DELETED])) == set()


def test_a_tweet_whose_id_contains_the_deleted_digits_is_kept() -> None:
    pattern = id_pattern(["123"])
    for other in ("91234", "1230", "9123"):
        line = record_bytes(tweet_payload(other, "2026-11-23T10:00:00.000Z", "fine"))
        assert envelope_holds(line.rstrip(b"\n"), pattern) == set()


def test_a_line_that_is_not_json_and_names_the_id_is_held() -> None:
    assert envelope_holds(b'{"tweet_id":"123", cut', id_pattern(["123"])) == {"123"}
    assert envelope_holds(b'{"tweet_id":"91234", cut', id_pattern(["123"])) == set()


def test_rewrite_raw_drops_lines_keeps_bytes_of_the_others_and_empties_to_none() -> None:
    keep = record_bytes(tweet_payload("91234", "2026-11-23T10:00:00.000Z", "fine"))
    drop = record_bytes(tweet_payload("123", "2026-11-23T10:00:00.000Z", DELETED_TEXT))
    pattern = id_pattern(["123"])
    rewrite = rewrite_raw(gzip.compress(keep + drop + keep), pattern)
    assert rewrite is not None and rewrite.held == {"123"}
    assert rewrite.body is not None and gzip.decompress(rewrite.body) == keep + keep
    assert rewrite_raw(gzip.compress(keep), pattern) is None  # untouched: not rewritten
    emptied = rewrite_raw(gzip.compress(drop), pattern)
    assert emptied is not None and emptied.body is None


# --- curated rows -------------------------------------------------------------------------


def _parquet(*envelopes: bytes) -> bytes:
    return parquet_bytes(rows_to_table([to_row(json.loads(e)) for e in envelopes]))


def test_rewrite_parquet_drops_the_tweet_and_its_retweets_with_the_same_schema_and_codec() -> None:
    tweet = record_bytes(_original())
    retweet = record_bytes(
        tweet_payload(
            "55", "2026-11-23T11:00:00.000Z", f"RT: {DELETED_TEXT}", retweeted_status=_original()
        )
    )
    neighbour = record_bytes(tweet_payload(f"9{DELETED}", "2026-11-23T10:00:00.000Z", "fine"))
    body = _parquet(tweet, neighbour, retweet)
    rewrite = rewrite_parquet(body, frozenset({DELETED}))
    assert rewrite is not None and rewrite.body is not None and rewrite.held == {DELETED}
    before, after = pq.ParquetFile(io.BytesIO(body)), pq.ParquetFile(io.BytesIO(rewrite.body))
    assert after.schema_arrow == before.schema_arrow
    assert after.metadata.row_group(0).column(0).compression == "SNAPPY"
    assert after.read().column("tweet_id").to_pylist() == [f"9{DELETED}"]
    assert rewrite_parquet(_parquet(neighbour), frozenset({DELETED})) is None
    emptied = rewrite_parquet(_parquet(tweet), frozenset({DELETED}))
    assert emptied is not None and emptied.body is None


# --- quarantine entries ---------------------------------------------------------------------


def test_a_quarantine_entry_is_held_when_its_bytes_name_the_id() -> None:
    from chalicelib.quarantine import QuarantineEntry

    pattern = id_pattern(["123"])
    held = QuarantineEntry("bad", b'{"id_str":"123","text":"x').to_line().encode()
    kept = QuarantineEntry("bad", b'{"id_str":"91234"').to_line().encode()
    assert entry_holds(held.rstrip(), pattern) == {"123"}
    assert entry_holds(kept.rstrip(), pattern) == set()


# --- candidates ---------------------------------------------------------------------------------


def test_candidates_follow_creation_days_and_cover_the_unparsed_zones() -> None:
    requests = [
        PurgeRequest("1", "2026-11-24T00:00:00.000Z", created_at="2026-11-20T23:59:59.000Z"),
        PurgeRequest(snowflake_at("2026-11-22T05:00:00.000Z", 1), "2026-11-24T00:00:00.000Z"),
    ]
    assert candidate_scopes(requests) == [
        Scope("raw/", "raw/dt=2026-11-19"),
        Scope("curated/", "curated/dt=2026-11-19"),
        Scope("quarantine/"),
        Scope("firehose-errors/"),
    ]
    # dt=unknown (delete notices without a time) sorts after every date
    assert "curated/dt=unknown/hour=unknown/x.parquet" > "curated/dt=2026-11-19"
    assert "curated/dt=2026-11-18/hour=23/x.parquet" < "curated/dt=2026-11-19"
    assert requests[1].creation_day() == date(2026, 11, 22)


def test_a_request_without_any_time_widens_to_everything() -> None:
    requests = [PurgeRequest("123", "2026-11-24T00:00:00.000Z")]  # pre-Snowflake, no time
    assert requests[0].creation_day() is None
    assert candidate_scopes(requests) == [
        Scope("raw/"),
        Scope("curated/"),
        Scope("quarantine/"),
        Scope("firehose-errors/"),
    ]
    assert candidate_scopes([]) == []


def test_request_item_is_pending_and_carries_the_creation_time_when_known() -> None:
    assert request_item("5", "2026-11-24T00:00:00.000Z") == {
        "pk": "purge",
        "sk": "5",
        "tweet_id": "5",
        "requested_at": "2026-11-24T00:00:00.000Z",
    }
    assert request_item("5", "t", "2026-11-20T00:00:00.000Z")["created_at"] == (
        "2026-11-20T00:00:00.000Z"
    )


# --- a scan over a whole lake ----------------------------------------------------------------


def test_scan_leaves_no_trace_of_the_deleted_tweet_and_a_second_scan_writes_nothing() -> None:
    store = MemoryStore()
    scenario = build([store])
    request = PurgeRequest(scenario.deleted, "2026-11-24T10:00:00.000Z", scenario.created_at)
    outside = "raw/dt=2026-11-01/hour=00/old.gz"  # arrived before the tweet existed
    store.put(outside, gzip.compress(b"{}\n"))
    store.reads.clear()
    result = scan_lake([store], [request])
    assert result.complete and result.objects_rewritten >= 5
    assert result.per_id[scenario.deleted] == result.objects_rewritten
    assert outside not in store.reads
    token = id_pattern([scenario.deleted])
    survivors = set()
    for key, body in store.objects.items():
        for record in decoded_records(key, body):
            assert not ids_in(record, token), (key, record[:200])
            assert DELETED_TEXT.encode() not in record, key
            survivors |= {k for k in scenario.kept if k.encode() in record}
    assert survivors == set(scenario.kept)
    store.writes.clear()
    again = scan_lake([store], [request])
    assert again.objects_rewritten == 0 and store.writes == []


def test_scan_stops_when_time_runs_out_and_says_it_is_incomplete() -> None:
    store = MemoryStore()
    scenario = build([store])
    ticks = iter([1.0, 0.0])
    result = scan_lake(
        [store],
        [PurgeRequest(scenario.deleted, "2026-11-24T10:00:00.000Z", scenario.created_at)],
        time_left=lambda: next(ticks, 0.0),
    )
    assert not result.complete and result.objects_scanned == 1


def test_backoff_call_retries_transient_errors_only() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("slow")
        return "ok"

    backoff = Backoff(max_attempts=3, sleep=lambda _s: None)
    assert backoff.call(flaky, lambda e: isinstance(e, TimeoutError)) == "ok"
    calls.clear()
    with pytest.raises(RetriesExhaustedError):
        Backoff(max_attempts=2, sleep=lambda _s: None).call(
            flaky, lambda e: isinstance(e, TimeoutError)
        )
    with pytest.raises(ValueError):
        backoff.call(lambda: int("x"), lambda e: isinstance(e, TimeoutError))


def test_a_retweet_row_posted_days_later_is_found_in_its_own_partition() -> None:
    store = MemoryStore()
    retweet = record_bytes(
        tweet_payload(
            snowflake_at("2026-11-30T08:00:00.000Z", 9),
            "2026-11-30T08:00:00.000Z",
            f"RT @u2244994945: {DELETED_TEXT}",
            user_id="17",
            retweeted_status=_original(),
        )
    )
    key = "curated/dt=2026-11-30/hour=08/late.parquet"
    store.put(key, _parquet(retweet))
    request = PurgeRequest(DELETED, "2026-12-01T00:00:00.000Z", "2026-11-23T10:00:00.000Z")
    result = scan_lake([store], [request])
    assert result.objects_deleted == 1 and key not in store.objects


def test_an_unreadable_object_leaves_the_run_incomplete_but_the_rest_purged() -> None:
    store = MemoryStore()
    scenario = build([store])
    bad = "raw/dt=2026-11-24/hour=10/broken.gz"
    store.put(bad, b"not gzip " + scenario.deleted.encode())
    request = PurgeRequest(scenario.deleted, "2026-11-24T10:00:00.000Z", scenario.created_at)
    result = scan_lake([store], [request])
    assert not result.complete and len(result.unreadable) == 1
    assert result.unreadable[0].startswith(f"{bad}: BadGzipFile")
    assert result.objects_rewritten >= 5 and store.objects[bad].startswith(b"not gzip")
