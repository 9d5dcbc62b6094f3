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
* Bluesky posts can be edited: of two versions of one post the one with the
  higher ``rev`` (the repository revision, a TID that orders one account's
  commits) is kept, whatever the arrival order (a replay re-sends old
  frames). The kept item still names the record that created it
  (``origin``), so the count and the recovery rules above are unchanged.
* Bluesky account events (:func:`account_rule`) change only the author item:
  the newest status and handle by the event's ``seq`` (max wins, so a retry
  or a replay changes nothing). They never move a count.
* Of two copies of one tweet from one shard the lower sequence number is kept
  (across shards the first one stays: their sequence numbers do not compare), and author
  fields are order-free (count, min first_seen, max last_seen, the profile of
  the newest tweet), so batches applied out of order, or one batch several
  times, end in the tables one in-order delivery produces.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.consume.lake import tombstone_row, tweet_row
from chalicelib.consume.records import (
    AccountRecord,
    DeleteRecord,
    Origin,
    Transformed,
    TweetRecord,
)
from chalicelib.dynamo.items import created_hour, created_key, hour_item, tombstone_item
from chalicelib.purge.requests import request_item

LIVE = "live"
DELETED = "deleted"
ABSENT = "absent"  # no item for the key yet
TWEET = "tweet"
DELETE = "delete"
# What a tombstone learned about the tweet it buried; kept when the tombstone is rewritten.
# ``created_at`` dates the tombstone's lake row and the purge request.
TOMB_BOOKKEEPING = ("replaced", "deleted_author_id", "created_at")
# What the rules read of a stored tweet item: everything a tombstone holds (a
# tweet-after-delete rewrites it whole) plus what they need of a live tweet. A
# repository reads tweets with this projection; the rest of a tweet item stays put.
TWEET_ATTRIBUTES = (
    "hash_line",
    "status",
    "origin",
    "author_id",
    "tweet_id",
    "created_at",
    "deleted_at",
    "source_api",
    "processed_at",
    "deleted_author_id",
    "replaced",
    "rev",
)
# What an author item keeps of Bluesky account events: attribute → the envelope
# fields it holds. Each is replaced only by an event with a higher ``seq``.
ACCOUNT_FACTS = {
    "account": ("active", "status", "event_at"),
    "identity": ("handle", "event_at"),
}


@dataclass
class AuthorChange:
    """What one batch does to one author."""

    delta: int = 0
    marks: dict[str, int] = field(default_factory=dict)
    profile: tuple[str, dict[str, Any]] | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    #: Newest account event fact per ACCOUNT_FACTS attribute, with its ``seq``.
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def learn(self, account: AccountRecord) -> None:
        """Keep the newest (by ``seq``) account or identity event of this batch."""
        envelope = account.envelope
        name = str(envelope["event"])
        fact = {key: envelope[key] for key in ACCOUNT_FACTS[name] if key in envelope}
        fact["seq"] = int(envelope["seq"])
        held = self.facts.get(name)
        if held is None or fact["seq"] > held["seq"]:
            self.facts[name] = fact

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
    """The writes of a batch, by phase, what happened to each record, and the lake
    rows to publish once the writes are done."""

    content: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    authors: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    lake: list[dict[str, Any]] = field(default_factory=list)


def profile_key(tweet: TweetRecord) -> str:
    """Which profile snapshot is newer: the newest tweet's, then the latest fetch of it.

    ``created_at#<tweet id, 20 digits>#ingested_at`` sorts as text. A replayed
    old file has a new ``ingested_at`` but old tweets, so the tweet's own time
    leads; two copies of one tweet (stream, then a later backfill) tie on it and
    the later fetch wins.
    """
    ingested = str(tweet.item.get("ingested_at", ""))
    return f"{created_key(tweet.created_at, tweet.tweet_id)}#{ingested}"


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
            if record.author_id is not None:
                authors.add(record.author_id)
        else:
            item = stored_tweets.get(record.hash_line) or {}
            author = item.get("author_id") or item.get("deleted_author_id")
            if author:
                authors.add(str(author))
    authors.update(account.author_id for account in batch.accounts)
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
    """Decide every write of the batch (see the module docstring for the rules).

    Records are taken key by key, in arrival order; each meets its key's item
    absent, live or deleted, and the rule for that pair (:data:`_RULES`) moves
    the item on and books the author's change. What the rules share across
    keys (counts, author changes) lives on one :class:`_Planner`.
    """
    planner = _Planner(stored_authors, {record.origin for record in batch.records}, processed_at)
    result = Plan(counts=planner.counts)
    for key, records in _by_key(batch).items():
        slot = _Slot.read(stored_tweets.get(key))
        for record in records:
            planner.apply(slot, record)
        item = slot.put()
        if item is not None:
            result.content.append((tweets_table, item))
        row = lake_row(slot, records)
        if row is not None:
            result.lake.append(row)
        if slot.state == DELETED:
            result.content.append((state_table, purge_request(slot.held, records, processed_at)))
            result.counts["purge_requests"] += 1

    for account in batch.accounts:
        account_rule(planner, account)

    known = set(known_hours)
    for hour in sorted(hours_of(batch) - known):
        result.content.append((state_table, hour_item(hour)))

    result.authors = planner.author_items()
    counts = result.counts
    counts["tweets_written"] = sum(1 for table, _ in result.content if table == tweets_table)
    counts["hours_written"] = (
        len(result.content) - counts["tweets_written"] - counts["purge_requests"]
    )
    counts["authors_written"] = len(result.authors)
    return result


def purge_request(
    tomb: Mapping[str, Any], records: list[TweetRecord | DeleteRecord], processed_at: str
) -> dict[str, Any]:
    """Ask for the deleted tweet to be purged from the lake: the delete notice, and any
    copy that arrives after it, land in ``raw/`` and must go too.

    Requested when our ingest received the newest of these records (its
    ``ingested_at``), so the 24-hour clock starts at the request's receipt and a
    retried batch writes the very same item.
    """
    received = [
        r.item.get("ingested_at") if isinstance(r, TweetRecord) else r.envelope.get("ingested_at")
        for r in records
    ]
    requested_at = max((str(t) for t in received if t), default=processed_at)
    return request_item(str(tomb["tweet_id"]), requested_at, tomb.get("created_at"))


def lake_row(slot: _Slot, records: list[TweetRecord | DeleteRecord]) -> dict[str, Any] | None:
    """What the lake learns from one key's records: the stored copy, a tombstone, or nothing.

    Decided from the item's final state, not from the transitions, so a retried
    batch publishes the same rows again rather than nothing (the writes may have
    landed before the publishing failed). A live item publishes the batch's copy
    that it holds (a Bluesky edit's newer revision included); a tombstone this batch
    wrote publishes a row hiding the tweet when it knows the tweet's creation time
    (the partition the tweet's row is in); a delete for a tweet never stored has
    nothing to hide.
    """
    if slot.state == ABSENT:
        return None
    held = slot.held
    by = Origin.from_attr(held.get("origin"))
    if slot.state == LIVE:
        tweets = (r for r in records if isinstance(r, TweetRecord))
        stored = next((r for r in tweets if _holds(held, by, r)), None)
        return tweet_row(stored.item) if stored is not None else None
    if held.get("created_at") and any(r.origin == by for r in records):
        return tombstone_row(held)
    return None


def _holds(held: Mapping[str, Any], by: Origin | None, record: TweetRecord) -> bool:
    """Whether the live item holds ``record``'s content. A Bluesky item holds the
    revision its ``rev`` names (an edit keeps the first copy's origin, so the origin
    does not tell); an X item, the copy of its origin."""
    if held.get("rev") is not None:
        return record.item.get("rev") == held["rev"]
    return record.origin == by


def _by_key(batch: Transformed) -> dict[str, list[TweetRecord | DeleteRecord]]:
    """The batch's records per item key, keys and records in arrival order."""
    by_key: dict[str, list[TweetRecord | DeleteRecord]] = {}
    for record in batch.records:
        by_key.setdefault(record.hash_line, []).append(record)
    return by_key


@dataclass
class _Slot:
    """One key's item as the batch rewrites it, record by record.

    ``fresh``: the item was produced by this batch, not read from the table, so
    finding it in its new state says nothing about an earlier invocation.
    ``dirty``: the batch rewrote it, so it may need a put.
    """

    stored: Mapping[str, Any] | None
    current: dict[str, Any] | None
    fresh: bool = False
    dirty: bool = False

    @classmethod
    def read(cls, stored: Mapping[str, Any] | None) -> _Slot:
        return cls(stored, dict(stored) if stored else None)

    @property
    def state(self) -> str:
        """``absent``, ``live`` or ``deleted`` (an item that is not live is a tombstone)."""
        if self.current is None:
            return ABSENT
        return LIVE if self.current.get("status") == LIVE else DELETED

    @property
    def held(self) -> dict[str, Any]:
        """The item as it stands; only the rules for a live or deleted item ask."""
        if self.current is None:
            raise LookupError("no item for this key yet")
        return self.current

    def create(self, item: dict[str, Any]) -> None:
        """The batch produced this item (a first copy, a new tombstone)."""
        self.current, self.fresh, self.dirty = item, True, True

    def amend(self, item: dict[str, Any]) -> None:
        """The batch rewrote the item it holds; where that item came from is unchanged."""
        self.current, self.dirty = item, True

    def put(self) -> dict[str, Any] | None:
        """The item to write: only one the batch rewrote and left unlike the table's."""
        if self.dirty and self.current is not None and self.current != self.stored:
            return self.current
        return None


@dataclass
class _Planner:
    """What one batch's rules share across keys: the counts and each author's change."""

    stored_authors: Mapping[str, Mapping[str, Any]]
    in_batch: set[Origin]
    processed_at: str
    counts: Counter[str] = field(default_factory=Counter)
    changes: dict[str, AuthorChange] = field(default_factory=dict)

    def apply(self, slot: _Slot, record: TweetRecord | DeleteRecord) -> None:
        """Apply one record by the rule for its kind and its item's state."""
        kind = DELETE
        if isinstance(record, TweetRecord):
            kind = TWEET
            # Every copy, stored or not, informs the author's profile, times and watermark.
            self.change(record.author_id).observe(record)
        _RULES[kind, slot.state](self, slot, record)

    def change(self, author_id: str | None) -> AuthorChange:
        """The author's change; a tweet without an author books into a throwaway one."""
        if author_id is None:
            return AuthorChange()
        found = self.changes.get(author_id)
        if found is None:
            found = self.changes[author_id] = AuthorChange()
        return found

    def owed(self, author_id: str | None, origin: Origin) -> bool:
        """True when ``origin``'s effect on the author never reached the author item."""
        if not author_id:
            return False
        return applied_seq(self.stored_authors.get(author_id), origin.shard) < origin.seq

    def author_items(self) -> list[dict[str, Any]]:
        """The author items the batch changes, in the order it first touched them."""
        items = []
        for author_id, author_change in self.changes.items():
            item = author_item(author_id, self.stored_authors.get(author_id), author_change)
            if item != self.stored_authors.get(author_id):
                items.append(item)
        return items

    # --- tweet rules -----------------------------------------------------------------

    def store_tweet(self, slot: _Slot, tweet: TweetRecord) -> None:
        """absent → live: the first copy is stored and counts."""
        slot.create(tweet.item)
        self.change(tweet.author_id).delta += 1
        self.counts["stored"] += 1

    def tweet_onto_live(self, slot: _Slot, tweet: TweetRecord) -> None:
        """live: this very record stored the item and its count never landed, or a duplicate."""
        origin = tweet.origin
        held = Origin.from_attr(slot.held.get("origin"))
        if held == origin and not slot.fresh and self.owed(tweet.author_id, origin):
            self.change(tweet.author_id).delta += 1
            self.counts["stored"] += 1
            self.counts["recovered"] += 1
            return
        if "rev" in tweet.item:
            self.revision_onto_live(slot, tweet)
            return
        # Same shard, lower sequence: an out-of-order delivery; keep the copy
        # in-order delivery keeps. Across shards (a backfill's pseudo shards, a
        # reshard) sequence numbers do not compare: first stays.
        if held is None or (held.shard == origin.shard and origin < held):
            slot.amend(tweet.item)
        self.counts["duplicates"] += 1

    def revision_onto_live(self, slot: _Slot, tweet: TweetRecord) -> None:
        """live, Bluesky: a higher ``rev`` replaces the content; the item keeps its origin."""
        held = slot.held
        if str(tweet.item["rev"]) > str(held.get("rev", "")):
            slot.amend({**tweet.item, "origin": held["origin"]} if "origin" in held else tweet.item)
            self.counts["updated"] += 1
        else:
            self.counts["duplicates"] += 1

    def tweet_onto_tombstone(self, slot: _Slot, tweet: TweetRecord) -> None:
        """deleted: never resurrected; the tombstone may owe or learn something."""
        self.counts["suppressed"] += 1
        buried_by = Origin.from_attr(slot.held.get("origin"))
        if slot.fresh or buried_by is None:
            return
        if buried_by in self.in_batch:
            self._replayed_burial(slot, tweet)
        else:
            self._late_copy(slot, tweet, buried_by)

    def _replayed_burial(self, slot: _Slot, tweet: TweetRecord) -> None:
        """The delete is in this batch too: this is a replay of a batch where the
        tweet was stored, then deleted. Owed only if that batch's author write
        never happened."""
        replaced = Origin.from_attr(slot.held.get("replaced"))
        if replaced == tweet.origin and self.owed(tweet.author_id, tweet.origin):
            self.change(tweet.author_id).delta += 1
            self.counts["recovered"] += 1

    def _late_copy(self, slot: _Slot, tweet: TweetRecord, buried_by: Origin) -> None:
        """A copy after its delete: the tombstone learns which copy it buried, and whose."""
        tomb = slot.held
        replaced = Origin.from_attr(tomb.get("replaced"))
        if replaced is None or tweet.origin < replaced:
            learnt = {**tomb, "replaced": tweet.origin.attr(), "created_at": tweet.created_at}
            if tweet.author_id is not None:
                learnt["deleted_author_id"] = tweet.author_id
            slot.amend(learnt)
        # The delete's effect on this author is settled (the tweet never counted):
        # say so on every pass, a retry after a crash included.
        self.change(tweet.author_id).mark(buried_by)

    # --- delete rules ----------------------------------------------------------------

    def delete_unseen(self, slot: _Slot, delete: DeleteRecord) -> None:
        """absent → deleted: a tombstone that does not know the author yet."""
        slot.create(
            tombstone_item(
                delete.envelope, origin=delete.origin.attr(), processed_at=self.processed_at
            )
        )
        self.counts["deleted"] += 1

    def delete_live(self, slot: _Slot, delete: DeleteRecord) -> None:
        """live → deleted: the author loses the tweet; the tombstone remembers what it buried."""
        live = slot.held
        author_id = str(live["author_id"]) if live.get("author_id") else None
        buried = live.get("origin")
        self._uncount(author_id, delete.origin)
        tomb = tombstone_item(
            delete.envelope,
            origin=delete.origin.attr(),
            processed_at=self.processed_at,
            deleted_author_id=author_id,
        )
        if buried:
            tomb["replaced"] = dict(buried)
        if live.get("created_at"):
            tomb["created_at"] = live["created_at"]
        slot.create(tomb)
        self.counts["deleted"] += 1

    def delete_onto_tombstone(self, slot: _Slot, delete: DeleteRecord) -> None:
        """deleted: this very notice buried the tweet and its count never landed, or a duplicate."""
        tomb = slot.held
        origin = delete.origin
        buried_by = Origin.from_attr(tomb.get("origin"))
        debtor = tomb.get("deleted_author_id")
        if (
            buried_by == origin
            and not slot.fresh
            and tomb.get("replaced")
            and self.owed(debtor, origin)
        ):
            self._uncount(str(debtor), origin)
            self.counts["deleted"] += 1
            self.counts["recovered"] += 1
            return
        self.counts["duplicates"] += 1
        if buried_by is not None and buried_by.shard == origin.shard and origin < buried_by:
            # Same shard, lower sequence: an out-of-order delivery. Keep the earlier
            # notice, as in-order delivery would have. (Across shards there is no
            # order to restore: the first one stays.)
            notice = tombstone_item(
                delete.envelope, origin=origin.attr(), processed_at=self.processed_at
            )
            kept = {k: tomb[k] for k in TOMB_BOOKKEEPING if k in tomb}
            slot.amend({**tomb, **notice, **kept})

    def _uncount(self, author_id: str | None, origin: Origin) -> None:
        loser = self.change(author_id)
        loser.delta -= 1
        loser.mark(origin)


_Rule = Callable[[_Planner, _Slot, Any], None]
# One rule per (record kind, state of the key's item when the record meets it).
_RULES: dict[tuple[str, str], _Rule] = {
    (TWEET, ABSENT): _Planner.store_tweet,
    (TWEET, LIVE): _Planner.tweet_onto_live,
    (TWEET, DELETED): _Planner.tweet_onto_tombstone,
    (DELETE, ABSENT): _Planner.delete_unseen,
    (DELETE, LIVE): _Planner.delete_live,
    (DELETE, DELETED): _Planner.delete_onto_tombstone,
}


def account_rule(planner: _Planner, account: AccountRecord) -> None:
    """A Bluesky account or identity event: only the author item learns from it."""
    planner.change(account.author_id).learn(account)
    planner.counts["accounts"] += 1


def _merge_facts(item: dict[str, Any], change: AuthorChange) -> None:
    """Order-free: a stored fact is replaced only by one with a higher ``seq``."""
    for name, fact in change.facts.items():
        held = item.get(name)
        if held is None or fact["seq"] > int(held.get("seq", -1)):
            item[name] = fact


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
    _merge_facts(item, change)
    return item
