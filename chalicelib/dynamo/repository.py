"""DynamoDB repository: batched reads and writes at the API maxima, retried with backoff.

Everything the consumer sends to DynamoDB goes through :class:`DynamoRepository`:
``BatchGetItem`` with 100 keys a call (strongly consistent: the counts the
consumer derives must see the previous batch's writes), ``BatchWriteItem``
with 25 puts a call. Both calls may mix tables, so a batch's writes of one
phase pack into as few full calls as possible.

Neither call is atomic: ``UnprocessedKeys`` / ``UnprocessedItems`` come back
when DynamoDB throttles part of a request, and the whole request can fail with
a throttling error after botocore's own retries. Both are retried here with
:class:`~chalicelib.retry.Backoff` (exponential, full jitter, bounded); what
survives raises :class:`RetriesExhaustedError`, which fails the Lambda batch,
which Lambda then retries (safe: the consumer's writes are idempotent).

Items travel in DynamoDB's attribute-value JSON through the codec in
:mod:`chalicelib.dynamo.attributes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.aws import is_transient
from chalicelib.dynamo.attributes import Item, from_item, to_item
from chalicelib.retry import Backoff, RetriesExhaustedError

MAX_WRITE_ITEMS = 25
MAX_GET_KEYS = 100
Key = dict[str, Any]


# --- the repository -----------------------------------------------------------------


@dataclass
class CallStats:
    """What the repository sent: the benchmark and the batch log line report it."""

    get_calls: int = 0
    keys_read: int = 0
    write_calls: int = 0
    items_written: int = 0
    retries: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "get_calls": self.get_calls,
            "keys_read": self.keys_read,
            "write_calls": self.write_calls,
            "items_written": self.items_written,
            "retries": self.retries,
        }


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class DynamoRepository:
    """Batched, retried access to DynamoDB through an injected low-level client."""

    client: Any
    backoff: Backoff = field(default_factory=Backoff)
    stats: CallStats = field(default_factory=CallStats)

    def _call(self, operation: str, attempt: int, **kwargs: Any) -> dict[str, Any] | None:
        """One API call; None when a transient error says "try again"."""
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**kwargs)
        except Exception as exc:
            if not is_transient(exc):
                raise
            if self.backoff.exhausted(attempt + 1):
                raise RetriesExhaustedError(
                    f"{operation}: still failing after {attempt + 1} attempts: {exc}"
                ) from exc
            return None
        return response

    def get_many(
        self,
        requests: Mapping[str, Iterable[Key]],
        projections: Mapping[str, tuple[str, dict[str, str]]] | None = None,
    ) -> dict[str, list[Item]]:
        """Read every key of every table (strongly consistent); missing keys are absent.

        ``projections`` maps a table to ``(ProjectionExpression, names)`` so only
        the attributes the caller needs cross the wire.
        """
        projections = projections or {}
        pending: list[tuple[str, dict[str, Any]]] = []
        for table, keys in requests.items():
            seen: set[tuple[tuple[str, Any], ...]] = set()
            for key in keys:
                marker = tuple(sorted(key.items()))
                if marker not in seen:
                    seen.add(marker)
                    pending.append((table, to_item(key)))
        found: dict[str, list[Item]] = {table: [] for table in requests}
        for chunk in chunks(pending, MAX_GET_KEYS):
            request: dict[str, Any] = {}
            for table, key in chunk:
                entry = request.setdefault(table, {"Keys": [], "ConsistentRead": True})
                entry["Keys"].append(key)
                if table in projections:
                    expression, names = projections[table]
                    entry["ProjectionExpression"] = expression
                    if names:
                        entry["ExpressionAttributeNames"] = names
            self.stats.keys_read += len(chunk)
            self._drain("batch_get_item", "RequestItems", "UnprocessedKeys", request, found)
        return found

    def put_many(self, puts: Sequence[tuple[str, Item]]) -> None:
        """Write ``(table, item)`` pairs, 25 a call; keys must be distinct per table."""
        for chunk in chunks(puts, MAX_WRITE_ITEMS):
            request: dict[str, list[dict[str, Any]]] = {}
            for table, item in chunk:
                request.setdefault(table, []).append({"PutRequest": {"Item": to_item(item)}})
            self.stats.items_written += len(chunk)
            self._drain("batch_write_item", "RequestItems", "UnprocessedItems", request, None)

    def _drain(
        self,
        operation: str,
        argument: str,
        leftover: str,
        request: dict[str, Any],
        found: dict[str, list[Item]] | None,
    ) -> None:
        """Send ``request`` and resend whatever comes back unprocessed, with backoff."""
        for attempt in self.backoff.attempts():
            if attempt:
                self.stats.retries += 1
                self.backoff.wait(attempt - 1)
            if operation == "batch_get_item":
                self.stats.get_calls += 1
            else:
                self.stats.write_calls += 1
            response = self._call(operation, attempt, **{argument: request})
            if response is None:
                continue  # transient error: the whole request goes again
            if found is not None:
                for table, items in response.get("Responses", {}).items():
                    found.setdefault(table, []).extend(from_item(i) for i in items)
            request = {t: r for t, r in (response.get(leftover) or {}).items() if r}
            if not request:
                return
        raise RetriesExhaustedError(
            f"{operation}: {sum(_count(r) for r in request.values())} entries still unprocessed"
            f" after {self.backoff.max_attempts} attempts"
        )


def _count(entry: Any) -> int:
    if isinstance(entry, dict):
        return len(entry.get("Keys", []))
    return len(entry)
