"""What the consumer's transform hands to the write plan: records in stream order.

Their own module so the plan (:mod:`chalicelib.consume.plan`) and the
repository depend on these shapes, not on the transform that builds them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from chalicelib.dynamo.items import origin_attr
from chalicelib.quarantine import QuarantineEntry


class Origin(NamedTuple):
    """A record's place in the stream; ordered by sequence number (as an integer).

    A named tuple, not a frozen dataclass: the same immutability and order, and
    built once per record at a quarter of the cost.
    """

    seq: int
    shard: str

    def attr(self) -> dict[str, str]:
        return origin_attr(self.shard, self.seq)

    @classmethod
    def from_attr(cls, value: Mapping[str, Any] | None) -> Origin | None:
        if not value:
            return None
        return cls(seq=int(value["seq"]), shard=str(value["shard"]))


@dataclass(slots=True)
class TweetRecord:
    origin: Origin
    hash_line: str
    tweet_id: str
    author_id: str | None  # None: the payload named no author (a minimal v2 line)
    created_at: str
    profile: dict[str, Any]
    item: dict[str, Any]


@dataclass(slots=True)
class DeleteRecord:
    origin: Origin
    hash_line: str
    envelope: dict[str, Any]


@dataclass(slots=True)
class AccountRecord:
    """A Bluesky account or identity event: it changes the author item only."""

    origin: Origin
    author_id: str
    envelope: dict[str, Any]


@dataclass
class Transformed:
    """A batch after the pure transform, in the order the records arrived."""

    records: list[TweetRecord | DeleteRecord] = field(default_factory=list)
    #: Bluesky account events, apart: they have no tweet key (plan.account_rules).
    accounts: list[AccountRecord] = field(default_factory=list)
    quarantine: list[QuarantineEntry] = field(default_factory=list)
    total: int = 0
    shard_id: str | None = None
    first_seq: str | None = None
    last_seq: str | None = None
    first_arrival: float | None = None

    def reason_counts(self) -> dict[str, int]:
        return dict(Counter(entry.reason.split(":", 1)[0] for entry in self.quarantine))
