"""The named queries on a lake that mixes X and Bluesky posts (Parquet, DuckDB).

The curated delivery takes every Kinesis record as the local Firehose does:
X tweets, Bluesky posts (two versions of one edited post among them), a
Bluesky delete and account events. The queries count tweets only, each id
once, whatever its family.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.envelope.normalize import normalize_line
from chalicelib.envelope.schema import validate
from tests.support import bluesky as bs
from tests.support.sample import envelope_line, posted, sample_envelopes
from tweetlake_local.firehose import DirSink, StreamRecord, curated_delivery
from tweetlake_ops.sql import named_queries, run

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


def bluesky_envelopes() -> list[dict[str, Any]]:
    """Ten posts by three accounts an hour ago (tags, a reply, a quote), an edit, a delete,
    a takedown and an identity event."""
    start = int((NOW - timedelta(hours=1)).timestamp()) * 1_000_000
    authors = [bs.did(n) for n in (5, 6, 7)]
    frames: list[dict[str, Any]] = []
    for n in range(10):
        time_us = start + n * 1_000_000
        text = f"湖 {n} #Lakes #bsky{n % 2}"
        encoded = text.encode()
        facets = [
            {
                "index": {
                    "byteStart": encoded.index(b"#Lakes"),
                    "byteEnd": encoded.index(b"#Lakes") + 6,
                },
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Lakes"}],
            }
        ]
        record = bs.post_record(
            text, bs.iso(time_us), facets=facets, langs=["ja" if n % 3 else "en"]
        )
        if n == 3:
            parent = frames[0]
            uri = f"at://{parent['did']}/app.bsky.feed.post/{parent['commit']['rkey']}"
            record["reply"] = {"root": {"uri": uri, "cid": "c"}, "parent": {"uri": uri, "cid": "c"}}
        if n == 4:
            quoted = frames[1]
            uri = f"at://{quoted['did']}/app.bsky.feed.post/{quoted['commit']['rkey']}"
            record["embed"] = {"$type": "app.bsky.embed.record", "record": {"uri": uri, "cid": "c"}}
        frames.append(bs.commit(authors[n % 3], time_us, "create", bs.tid(time_us), record=record))
    first = frames[0]
    frames.append(
        bs.commit(first["did"], start + 20_000_000, "update", first["commit"]["rkey"],
                  record=bs.post_record("edited", first["commit"]["record"]["createdAt"]))
    )  # fmt: skip
    frames.append(bs.commit(authors[1], start + 21_000_000, "delete", frames[1]["commit"]["rkey"]))
    frames.append(bs.account(authors[2], start + 22_000_000, 7, False, "takendown"))
    frames.append(bs.identity(authors[0], start + 23_000_000, 8, "lakes.test"))
    out = []
    for frame in frames:
        [item] = normalize_line(json.dumps(frame))
        assert item.envelope is not None and validate(item.envelope) == [], item
        out.append(item.envelope)
    return out


def build_lake(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    x = posted(sample_envelopes(60, seed=5), NOW - timedelta(minutes=30))
    bluesky = bluesky_envelopes()
    delivery = curated_delivery([DirSink(path)], buffer_bytes=40_000, clock=lambda: 0.0)
    mixed = [e for pair in zip(x, bluesky, strict=False) for e in pair] + x[len(bluesky) :]
    delivery.put(
        StreamRecord(envelope_line(e), "shardId-0", str(i), NOW) for i, e in enumerate(mixed)
    )
    delivery.close()
    return x, [e for e in bluesky if e["kind"] == "tweet"]


def test_every_named_query_runs_on_a_mixed_lake_and_counts_each_post_once(tmp_path: Path) -> None:
    x, bluesky = build_lake(tmp_path)
    tweets = {e["tweet_id"]: e for e in x + bluesky}  # the edit shares its post's id
    assert len(tweets) == 70
    results = {name: run(name, tmp_path, today=TODAY).rows for name in named_queries()}

    assert sum(n for _, n in results["tweets_per_hour"]) == 70

    kinds = dict((label, n) for label, n, _ in results["tweet_kinds"])
    assert sum(kinds.values()) == 70 and kinds["reply"] >= 1 and kinds["quote"] >= 1

    authors = {author_id: n for author_id, _, n in results["top_authors"]}
    assert authors[bs.did(5)] == 4 and authors[bs.did(6)] == 3 and authors[bs.did(7)] == 3

    tags = dict(results["top_hashtags"])
    x_lakes = sum(1 for e in x if "lakes" in {t.lower() for t in e["hashtags"]})
    # Bluesky's #Lakes folded in with X's; the first post's edit dropped its tag, and the
    # view keeps a post's newest revision only.
    assert tags["lakes"] == 9 + x_lakes
    langs = Counter((e.get("lang") or "und") for e in tweets.values())
    assert {label: n for label, n, _ in results["language_mix"]} == dict(langs)


def test_bluesky_rows_keep_their_ids_and_revision(tmp_path: Path) -> None:
    build_lake(tmp_path)
    rows = run(
        "SELECT tweet_id, rev, author.id FROM tweet_versions WHERE payload_format = 'jetstream'"
        " AND kind = 'tweet' ORDER BY rev",
        tmp_path,
        today=date(2000, 1, 1),
    ).rows
    assert len(rows) == 11 and all(r[0].startswith(r[2] + ":") for r in rows)
    assert len({r[0] for r in rows}) == 10
    shown = run(
        "SELECT tweet_id, text FROM tweets WHERE payload_format = 'jetstream'",
        tmp_path,
        today=date(2000, 1, 1),
    ).rows
    assert len(shown) == 10  # one row a post: its newest revision
    assert "edited" in {text for _, text in shown}
