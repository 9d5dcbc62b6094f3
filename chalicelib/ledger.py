"""Exactly-once bookkeeping: from a batch and the stored state to the writes it needs.

Pure: :func:`plan` takes the transformed batch and what DynamoDB holds for its
keys (read strongly consistent beforehand) and returns the items to put. The
consumer writes them in two phases, **content first** (tweets, tombstones,
hour directory), **then authors**; everything below rests on that order and on
Lambda's guarantee that one shard's batches run one at a time, in order
(partition key = author id puts an author's tweets on one shard).

Why counts stay exact with plain ``BatchWriteItem`` puts (no transactions, no
``ADD``, which over-counts on a retried batch):

* A tweet item records ``origin``, the shard and sequence number of the record
  that created it; a tombstone records its delete's ``origin`` and, once known,
  ``replaced`` (the origin of the tweet copy it buried) and
  ``deleted_author_id``.
* An author item records ``applied``: per shard, the highest sequence number of
  a record whose effect on this author is included in ``tweet_count``.
* A transition absent → live counts +1; live → tombstone counts -1. Seeing the
  item already in its new state means either "applied" (a replay, or a later
  duplicate) or "phase 1 done, author write lost" (the invocation died between
  the phases). The watermark tells them apart: the effect is owed again only if
  the item was produced by this very record and ``applied`` for its shard is
  still below that record's sequence number.
* A tweet arriving after its tombstone is not stored (no resurrection); if the
  delete came first and did not know the author, the later copy fills in
  ``replaced``/``deleted_author_id`` so the tombstone ends up as it would have
  had the tweet arrived first.
* Of two copies of one tweet from one shard the lower sequence number is kept
  (across shards the first one stays: their sequence numbers do not compare), and author
  fields are order-free (count, min first_seen, max last_seen, the profile of
  the newest tweet), so batches applied out of order, or one batch several
  times, end in the tables one in-order delivery produces.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.enrich import DeleteRecord, Origin, Transformed, TweetRecord
from chalicelib.items import created_hour, hour_item, tombstone_item

LIVE = "live"
DELETED = "deleted"
# What a tombstone learned about the tweet it buried; kept when the tombstone is rewritten.
TOMB_BOOKKEEPING = ("replaced", "deleted_author_id")


@dataclass
class AuthorChange:
    """What one batch does to one author."""

    delta: int = 0
    marks: dict[str, int] = field(default_factory=dict)
    profile: tuple[str, dict[str, Any]] | None = None
    first_seen: str | None = None
    last_seen: str | None = None

    def mark(self, origin: Origin) -> None:
        if origin.seq > self.marks.get(origin.shard, -1):
            self.marks[origin.shard] = origin.seq

    def observe(self, tweet: TweetRecord) -> None:
        self.mark(tweet.origin)
        created = tweet.created_at
        if self.first_seen is None or created < self.first_seen:
            self.first_seen = created
        if self.last_seen is None or created > self.last_seen:
            self.last_seen = created
        key = profile_key(tweet)
        if self.profile is None or newer_profile(key, tweet.profile, *self.profile):
            self.profile = (key, tweet.profile)


@dataclass
class Plan:
    """The writes of a batch, by phase, and what happened to each record."""

    content: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    authors: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


def profile_key(tweet: TweetRecord) -> str:
    """Which profile snapshot is newer: the newest tweet's, then the latest fetch of it.

    ``created_at#<tweet id, 20 digits>#ingested_at`` sorts as text. A replayed
    old file has a new ``ingested_at`` but old tweets, so the tweet's own time
    leads; two copies of one tweet (stream, then a later backfill) tie on it and
    the later fetch wins.
    """
    ingested = str(tweet.item.get("ingested_at", ""))
    return f"{tweet.created_at}#{int(tweet.tweet_id):020d}#{ingested}"


def newer_profile(
    key: str, profile: Mapping[str, Any], held_key: str, held: Mapping[str, Any]
) -> bool:
    """Total order on profile snapshots, so the winner never depends on arrival order."""
    if key != held_key:
        return key > held_key
    return _canonical(profile) > _canonical(held)


def _canonical(profile: Mapping[str, Any]) -> str:
    return json.dumps(profile, sort_keys=True, ensure_ascii=False)


def applied_seq(author: Mapping[str, Any] | None, shard: str) -> int:
    """The author's watermark for ``shard`` (-1: nothing from that shard applied yet)."""
    if not author:
        return -1
    value = (author.get("applied") or {}).get(shard)
    return int(value) if value is not None else -1


def authors_to_read(batch: Transformed, stored_tweets: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Every author whose item this batch may touch (tweets' authors, deleted tweets' authors)."""
    authors: set[str] = set()
    for record in batch.records:
        if isinstance(record, TweetRecord):
            authors.add(record.author_id)
        else:
            item = stored_tweets.get(record.hash_line) or {}
            author = item.get("author_id") or item.get("deleted_author_id")
            if author:
                authors.add(str(author))
    return authors


def hours_of(batch: Transformed) -> set[str]:
    return {created_hour(r.created_at) for r in batch.records if isinstance(r, TweetRecord)}


def plan(
    batch: Transformed,
    stored_tweets: Mapping[str, Mapping[str, Any]],
    stored_authors: Mapping[str, Mapping[str, Any]],
    known_hours: Iterable[str],
    *,
    tweets_table: str,
    state_table: str,
    processed_at: str,
) -> Plan:
    """Decide every write of the batch (see the module docstring for the rules)."""
    result = Plan()
    counts = result.counts
    changes: dict[str, AuthorChange] = {}

    def change(author_id: str) -> AuthorChange:
        found = changes.get(author_id)
        if found is None:
            found = changes[author_id] = AuthorChange()
        return found

    def owed(author_id: str | None, origin: Origin) -> bool:
        """True when ``origin``'s effect on the author never reached the author item."""
        if not author_id:
            return False
        return applied_seq(stored_authors.get(author_id), origin.shard) < origin.seq

    by_key: dict[str, list[TweetRecord | DeleteRecord]] = {}
    for record in batch.records:
        by_key.setdefault(record.hash_line, []).append(record)
    in_batch = {record.origin for record in batch.records}

    for key, records in by_key.items():
        stored = stored_tweets.get(key)
        current: dict[str, Any] | None = dict(stored) if stored else None
        fresh = False  # current was produced in this run, not read from the table
        dirty = False
        for record in records:
            origin = record.origin
            if isinstance(record, TweetRecord):
                author = change(record.author_id)
                author.observe(record)
                if current is None:
                    current, fresh, dirty = record.item, True, True
                    author.delta += 1
                    counts["stored"] += 1
                elif current.get("status") == LIVE:
                    held = Origin.from_attr(current.get("origin"))
                    if held == origin and not fresh and owed(record.author_id, origin):
                        author.delta += 1
                        counts["stored"] += 1
                        counts["recovered"] += 1
                    else:
                        # Same shard, lower sequence: an out-of-order delivery; keep the
                        # copy in-order delivery keeps. Across shards (a backfill's pseudo
                        # shards, a reshard) sequence numbers do not compare: first stays.
                        if held is None or (held.shard == origin.shard and origin < held):
                            current, dirty = record.item, True
                        counts["duplicates"] += 1
                else:
                    counts["suppressed"] += 1
                    buried_by = Origin.from_attr(current.get("origin"))
                    replaced = Origin.from_attr(current.get("replaced"))
                    if fresh or buried_by is None:
                        continue
                    if buried_by in in_batch:
                        # The delete is in this batch too: this is a replay of a batch
                        # where the tweet was stored, then deleted. Owed only if that
                        # batch's author write never happened.
                        if replaced == origin and owed(record.author_id, origin):
                            author.delta += 1
                            counts["recovered"] += 1
                    else:
                        if replaced is None or origin < replaced:
                            current = {
                                **current,
                                "replaced": origin.attr(),
                                "deleted_author_id": record.author_id,
                            }
                            dirty = True
                        # The delete's effect on this author is settled (the tweet never
                        # counted): say so on every pass, a retry after a crash included.
                        author.mark(buried_by)
            else:
                if current is None:
                    current = tombstone_item(
                        record.envelope, origin=origin.attr(), processed_at=processed_at
                    )
                    fresh = dirty = True
                    counts["deleted"] += 1
                elif current.get("status") == LIVE:
                    author_id = str(current["author_id"])
                    buried = current.get("origin")
                    loser = change(author_id)
                    loser.delta -= 1
                    loser.mark(origin)
                    current = tombstone_item(
                        record.envelope,
                        origin=origin.attr(),
                        processed_at=processed_at,
                        deleted_author_id=author_id,
                    )
                    if buried:
                        current["replaced"] = dict(buried)
                    fresh = dirty = True
                    counts["deleted"] += 1
                else:
                    buried_by = Origin.from_attr(current.get("origin"))
                    debtor = current.get("deleted_author_id")
                    if (
                        buried_by == origin
                        and not fresh
                        and current.get("replaced")
                        and owed(debtor, origin)
                    ):
                        loser = change(str(debtor))
                        loser.delta -= 1
                        loser.mark(origin)
                        counts["deleted"] += 1
                        counts["recovered"] += 1
                    else:
                        counts["duplicates"] += 1
                        if buried_by and buried_by.shard == origin.shard and origin < buried_by:
                            # Same shard, lower sequence: an out-of-order delivery. Keep
                            # the earlier notice, as in-order delivery would have. (Across
                            # shards there is no order to restore: the first one stays.)
                            current = {
                                **current,
                                **tombstone_item(
                                    record.envelope,
                                    origin=origin.attr(),
                                    processed_at=processed_at,
                                ),
                                **{k: current[k] for k in TOMB_BOOKKEEPING if k in current},
                            }
                            dirty = True
        if dirty and current is not None and current != stored:
            result.content.append((tweets_table, current))

    known = set(known_hours)
    for hour in sorted(hours_of(batch) - known):
        result.content.append((state_table, hour_item(hour)))

    for author_id, author_change in changes.items():
        item = author_item(author_id, stored_authors.get(author_id), author_change)
        if item != stored_authors.get(author_id):
            result.authors.append(item)
    counts["tweets_written"] = sum(1 for table, _ in result.content if table == tweets_table)
    counts["hours_written"] = len(result.content) - counts["tweets_written"]
    counts["authors_written"] = len(result.authors)
    return result


def author_item(
    author_id: str, stored: Mapping[str, Any] | None, change: AuthorChange
) -> dict[str, Any]:
    """The author item after this batch: order-free merge of the stored one and the batch."""
    item: dict[str, Any] = dict(stored) if stored else {"author_id": author_id, "tweet_count": 0}
    item["tweet_count"] = max(0, int(item.get("tweet_count", 0)) + change.delta)
    if change.profile is not None:
        key, profile = change.profile
        held = item.get("profile_key")
        if held is None or newer_profile(key, profile, str(held), item.get("profile") or {}):
            item["profile"] = profile
            item["profile_at"] = key[:24]
            item["profile_key"] = key
    if change.first_seen is not None:
        first = item.get("first_seen")
        item["first_seen"] = change.first_seen if first is None else min(first, change.first_seen)
    if change.last_seen is not None:
        last = item.get("last_seen")
        item["last_seen"] = change.last_seen if last is None else max(last, change.last_seen)
    applied = dict(item.get("applied") or {})
    for shard, seq in change.marks.items():
        if seq > int(applied.get(shard, -1)):
            applied[shard] = str(seq)
    item["applied"] = applied
    return item
