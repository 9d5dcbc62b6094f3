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

Items travel in DynamoDB's attribute-value JSON through a small codec written
for the types an envelope can hold (str, int, bool, list, map). boto3's
``TypeSerializer`` would do the same work several times slower and insists on
``Decimal``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.aws import is_transient
from chalicelib.retry import Backoff, RetriesExhaustedError

MAX_WRITE_ITEMS = 25
MAX_GET_KEYS = 100
# DynamoDB's item limit is 400 KB (409,600 bytes); moto enforces 400,000, so do we.
MAX_ITEM_BYTES = 400_000

Key = dict[str, Any]
Item = dict[str, Any]


# --- attribute-value codec --------------------------------------------------------


def to_attr(value: Any) -> dict[str, Any]:
    """One Python value → DynamoDB attribute value (bool before int: bool is an int)."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"M": {k: to_attr(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attr(v) for v in value]}
    if value is None:
        return {"NULL": True}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB here")


def to_item(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: to_attr(v) for k, v in item.items()}


def from_attr(attr: Mapping[str, Any]) -> Any:
    """DynamoDB attribute value → Python (numbers come back as int)."""
    (kind, value), *_ = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        return int(value) if value.lstrip("-").isdigit() else float(value)
    if kind == "BOOL":
        return value
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "NULL":
        return None
    raise TypeError(f"unexpected attribute type {kind!r}")


def from_item(item: Mapping[str, Any]) -> Item:
    return {k: from_attr(v) for k, v in item.items()}


def _number_size(value: int) -> int:
    digits = len(str(abs(value)).rstrip("0")) or 1
    return (digits + 1) // 2 + 1


def attr_size(value: Any) -> int:
    """Bytes DynamoDB counts for a value (its published sizing rules, rounded up)."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8"))
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        return _number_size(value)
    if isinstance(value, dict):
        return 3 + sum(attr_size(k) + attr_size(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(attr_size(v) + 1 for v in value)
    raise TypeError(f"cannot size a {type(value).__name__}")


def item_size(item: Mapping[str, Any]) -> int:
    """Size of an item as DynamoDB counts it against the 400 KB limit."""
    return sum(attr_size(name) + attr_size(value) for name, value in item.items())


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
