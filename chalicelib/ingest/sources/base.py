"""The interface every tweet source implements.

A source yields raw lines exactly as the platform (or a file) gives them;
normalizing them is the caller's job (``chalicelib.envelope.normalize``), so live,
replayed and synthetic tweets take the same path. ``stop`` may be called from
the consumer of ``lines`` (the ingest handler, when its deadline nears) and
must make the iterator end promptly and release connections.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol, runtime_checkable


class SourceRefusedError(RuntimeError):
    """The platform refused the source in a way retrying cannot fix (bad credentials,
    a rejected rule, an invalid request): the ingest run keeps what it read, then fails."""


@runtime_checkable
class Source(Protocol):
    #: Which envelope ``source_api`` this source's records carry
    #: (``synthetic``, ``replay``, ``v2``, ``v1.1``).
    source_api: str

    def lines(self) -> Iterator[str | bytes]:
        """Raw lines, one payload each (blank keep-alive lines included)."""
        ...

    def stop(self) -> None:
        """Ask the source to end ``lines()`` soon and close what it holds."""
        ...

    @property
    def reconnects(self) -> int:
        """How many times the source reconnected during this run (0 for files)."""
        ...


class LocalSource:
    """What the sources that never connect anywhere share (synthetic, replay):
    no reconnects, and ``stop`` sets an event their ``lines`` loop checks."""

    def __init__(self) -> None:
        self._stopped = threading.Event()

    @property
    def reconnects(self) -> int:
        return 0

    def stop(self) -> None:
        self._stopped.set()
