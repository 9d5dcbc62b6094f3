"""The consumer's port to its tables, and the port's DynamoDB implementation.

:class:`LedgerRepository` is all the consumer's orchestration asks of storage:
read the stored state for a batch's keys, write one phase. Keeping it this
small lets one contract test suite pin down both implementations, the one
here (DynamoDB, through :class:`~chalicelib.dynamo.repository.DynamoRepository`) and the
in-memory twin in the test suite, so tests that run the consumer against the
twin say something about DynamoDB too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

from chalicelib.consume.plan import TWEET_ATTRIBUTES
from chalicelib.dynamo.attributes import Item
from chalicelib.dynamo.items import hour_item
from chalicelib.dynamo.repository import DynamoRepository

if TYPE_CHECKING:
    from chalicelib.config import Settings


class TableNames(NamedTuple):
    """A stage's names for the three tables the ledger reads and writes."""

    tweets: str
    authors: str
    state: str

    @classmethod
    def of(cls, settings: Settings) -> TableNames:
        return cls(settings.tweets_table, settings.authors_table, settings.state_table)


@dataclass
class StoredState:
    """What the tables hold for a batch's keys; a key with no item is simply absent."""

    tweets: dict[str, Item] = field(default_factory=dict)  # hash_line -> TWEET_ATTRIBUTES of it
    authors: dict[str, Item] = field(default_factory=dict)  # author_id -> the whole item
    hours: set[str] = field(default_factory=set)  # hours already in the hour directory


class LedgerRepository(Protocol):
    """The reads and the phased writes of one batch.

    The ledger's exactness rests on two promises (:mod:`chalicelib.consume.plan`): a
    read sees every write that returned before it (strongly consistent), and a
    ``write`` that returns has stored its whole phase. A ``write`` that raises
    may have stored part of it; the batch then fails and Lambda retries it.
    A phase names each key at most once, as ``BatchWriteItem`` requires.
    """

    def read(
        self,
        *,
        hash_lines: Iterable[str] = (),
        author_ids: Iterable[str] = (),
        hours: Iterable[str] = (),
    ) -> StoredState:
        """The tweet items (ledger projection), author items and hour entries for the keys."""
        ...

    def write(self, puts: Sequence[tuple[str, Item]]) -> None:
        """Put ``(table name, item)`` pairs, each replacing the whole item under its key."""
        ...

    def usage(self) -> dict[str, int]:
        """What this repository has asked of its store, for the batch's log line."""
        ...


# The DynamoDB reserved words among the attribute names projected here.
_RESERVED_WORDS = frozenset({"status"})


def projection(attributes: Sequence[str]) -> tuple[str, dict[str, str]]:
    """``ProjectionExpression`` and its names for top-level attributes."""
    names = {f"#{a}": a for a in attributes if a in _RESERVED_WORDS}
    return ", ".join(f"#{a}" if a in _RESERVED_WORDS else a for a in attributes), names


TWEET_PROJECTION = projection(TWEET_ATTRIBUTES)
HOUR_PROJECTION = projection(("pk", "sk"))


@dataclass
class DynamoLedgerRepository:
    """The port on DynamoDB: each ``read`` is one round of ``BatchGetItem`` calls and
    each ``write`` one round of ``BatchWriteItem`` calls, tables mixed in one call."""

    store: DynamoRepository
    tables: TableNames

    def read(
        self,
        *,
        hash_lines: Iterable[str] = (),
        author_ids: Iterable[str] = (),
        hours: Iterable[str] = (),
    ) -> StoredState:
        tables = self.tables
        found = self.store.get_many(
            {
                tables.tweets: [{"hash_line": h} for h in sorted(hash_lines)],
                tables.authors: [{"author_id": a} for a in sorted(author_ids)],
                tables.state: [hour_item(h) for h in sorted(hours)],
            },
            projections={tables.tweets: TWEET_PROJECTION, tables.state: HOUR_PROJECTION},
        )
        return StoredState(
            tweets={item["hash_line"]: item for item in found[tables.tweets]},
            authors={item["author_id"]: item for item in found[tables.authors]},
            hours={item["sk"] for item in found[tables.state]},
        )

    def write(self, puts: Sequence[tuple[str, Item]]) -> None:
        self.store.put_many(puts)

    def usage(self) -> dict[str, int]:
        return self.store.stats.as_dict()
