"""The in-memory twin of the consumer's tables (``chalicelib.consume.repository``).

It holds items the way DynamoDB does, so tests that run the consumer against
it stay honest:

* items are keyed by their table's key attributes (from ``chalicelib.dynamo.tables``);
  a put replaces the whole item;
* values go through the attribute-value codec, so what comes back is what
  DynamoDB would return (a copy; a tuple comes back a list) and what DynamoDB
  cannot hold (a float, an item over 400 KB) is refused;
* tweets are read through the ledger's projection, authors whole;
* a phase that names one key twice is refused with ``ValidationException``,
  as ``BatchWriteItem`` refuses it (moto only refuses identical puts).

``tests/support/repository_contract.py`` states what it shares with the
DynamoDB implementation; both run it. The twin can also die between phases,
as a Lambda invocation can.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.consume.plan import TWEET_ATTRIBUTES
from chalicelib.consume.repository import StoredState, TableNames
from chalicelib.dynamo.attributes import MAX_ITEM_BYTES, Item, from_item, item_size, to_item
from chalicelib.dynamo.items import hour_item
from chalicelib.dynamo.repository import CallStats
from chalicelib.dynamo.tables import AUTHORS, STATE, TWEETS, TableDef

Key = tuple[str, ...]


class InvocationDiedError(RuntimeError):
    """The simulated invocation ended here: this write and everything after it never ran."""


def _refused(message: str, code: str = "ValidationException") -> ClientError:
    """The error DynamoDB answers the same request with."""
    return ClientError({"Error": {"Code": code, "Message": message}}, "BatchWriteItem")


class InMemoryLedgerRepository:
    """A :class:`~chalicelib.consume.repository.LedgerRepository` over three dicts."""

    def __init__(self, tables: TableNames) -> None:
        self.tables = tables
        self._schemas: dict[str, TableDef] = {
            tables.tweets: TWEETS,
            tables.authors: AUTHORS,
            tables.state: STATE,
        }
        self._items: dict[str, dict[Key, dict[str, Any]]] = {name: {} for name in tables}
        self._phases_left: int | None = None
        self.stats = CallStats()

    # --- the port --------------------------------------------------------------------

    def read(
        self,
        *,
        hash_lines: Iterable[str] = (),
        author_ids: Iterable[str] = (),
        hours: Iterable[str] = (),
    ) -> StoredState:
        tables, state = self.tables, StoredState()
        self.stats.get_calls += 1
        for hash_line in sorted(set(hash_lines)):
            item = self._get(tables.tweets, {"hash_line": hash_line})
            if item is not None:
                state.tweets[hash_line] = {k: v for k, v in item.items() if k in TWEET_ATTRIBUTES}
        for author_id in sorted(set(author_ids)):
            item = self._get(tables.authors, {"author_id": author_id})
            if item is not None:
                state.authors[author_id] = item
        for hour in sorted(set(hours)):
            if self._get(tables.state, hour_item(hour)) is not None:
                state.hours.add(hour)
        return state

    def write(self, puts: Sequence[tuple[str, Item]]) -> None:
        if self._phases_left == 0:
            self._phases_left = None
            raise InvocationDiedError("the invocation died before this write")
        if self._phases_left is not None:
            self._phases_left -= 1
        staged: dict[tuple[str, Key], dict[str, Any]] = {}
        for table, item in puts:
            key = self._key(table, item)
            if (table, key) in staged:
                raise _refused("Provided list of item keys contains duplicates")
            if item_size(item) > MAX_ITEM_BYTES:
                raise _refused("Item size has exceeded the maximum allowed size")
            staged[table, key] = to_item(item)
        for (table, key), encoded in staged.items():
            self._items[table][key] = encoded
        if staged:
            self.stats.write_calls += 1
            self.stats.items_written += len(staged)

    def usage(self) -> dict[str, int]:
        return self.stats.as_dict()

    # --- for tests -------------------------------------------------------------------

    def die_after(self, phases: int) -> None:
        """Let ``phases`` more writes complete; the next one raises :class:`InvocationDiedError`
        having written nothing (the invocation timed out or crashed between phases)."""
        self._phases_left = phases

    def items(self, table: str) -> list[Item]:
        """Every item of ``table``, as copies (tests may scan; the consumer never does)."""
        return [from_item(encoded) for encoded in self._items[table].values()]

    # --- internals -------------------------------------------------------------------

    def _get(self, table: str, key: Item) -> Item | None:
        self.stats.keys_read += 1
        encoded = self._items[table].get(self._key(table, key))
        return None if encoded is None else from_item(encoded)

    def _key(self, table: str, item: Item) -> Key:
        """The item's key under its table's schema; DynamoDB's refusal if it has none."""
        schema = self._schemas.get(table)
        if schema is None:
            raise _refused(f"Requested resource not found: {table}", "ResourceNotFoundException")
        names = [schema.hash_key] + ([schema.range_key] if schema.range_key else [])
        values = [item.get(name) for name in names]
        if not all(isinstance(value, str) and value for value in values):
            raise _refused(f"One or more parameter values are not valid: key {names} of {table}")
        return tuple(str(value) for value in values)
