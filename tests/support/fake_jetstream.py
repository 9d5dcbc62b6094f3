"""A loopback Bluesky Jetstream instance that speaks the documented protocol.

``GET /subscribe`` upgrades to a websocket and sends one JSON text frame per
event. It honours what a client relies on:

* ``wantedCollections`` (repeatable) filters commits by collection (identity
  and account events always pass), ``wantedDids`` (repeatable) filters every
  event by account;
* ``cursor`` (unix µs) replays every held event with ``time_us >= cursor``, in
  ``time_us`` order, then sends events as they are added; no cursor starts
  at the live edge (events added from then on);
* a cursor older than what the instance keeps (``retention_us``) is clamped to
  its oldest event without a word, as a v1 instance does;
* at-least-once: ``redeliver`` re-sends that many events from before the
  cursor at the start of each replay;
* an instance can drop the connection after ``drop_after`` frames (an abrupt
  close, no close frame), or refuse the handshake with an HTTP status.

Binds 127.0.0.1:0; every connection's query is kept in ``requests``.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response
from websockets.sync.server import Server, ServerConnection, serve

POLL_S = 0.05


@dataclass
class Instance:
    """Behaviour knobs of one instance (tests change them between connections)."""

    drop_after: int | None = None
    refuse_status: int | None = None
    redeliver: int = 0
    retention_us: int | None = None  # oldest time_us kept (None: everything)


@dataclass
class FakeJetstream:
    instance: Instance = field(default_factory=Instance)
    #: Events as (time_us, frame text), kept sorted by time_us.
    events: list[tuple[int, str]] = field(default_factory=list)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    frames_sent: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._open = 0

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> FakeJetstream:
        self._server = serve(
            self._handle, "127.0.0.1", 0, process_request=self._check, compression=None
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/subscribe"

    @property
    def open_connections(self) -> int:
        with self._lock:
            return self._open

    # --- the event log ------------------------------------------------------------------

    def add(self, frames: Iterable[Mapping[str, Any] | str]) -> None:
        """Add events (dicts, or raw text for a malformed frame that still has a time_us)."""
        with self._lock:
            for frame in frames:
                text = frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)
                time_us = int(json.loads(text)["time_us"])
                self.events.append((time_us, text))
            self.events.sort(key=lambda event: event[0])
            self._lock.notify_all()

    @property
    def last_time_us(self) -> int:
        with self._lock:
            return self.events[-1][0] if self.events else 0

    # --- protocol --------------------------------------------------------------------

    def _check(self, connection: ServerConnection, request: Any) -> Response | None:
        if urlsplit(request.path).path != "/subscribe":
            return connection.respond(404, "no such endpoint\n")
        if self.instance.refuse_status is not None:
            return connection.respond(self.instance.refuse_status, "refused\n")
        return None

    def _start_index(self, query: Mapping[str, list[str]]) -> int:
        """Where a connection starts in the log: the cursor (clamped), else the live edge."""
        if "cursor" not in query:
            return len(self.events)
        cursor = int(query["cursor"][0])
        oldest = self.instance.retention_us
        if oldest is not None and cursor < oldest:
            cursor = oldest  # a v1 instance clamps silently
        start = next((i for i, (t, _) in enumerate(self.events) if t >= cursor), len(self.events))
        return max(0, start - self.instance.redeliver)

    def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        query = parse_qs(urlsplit(connection.request.path).query)
        with self._lock:
            self.requests.append(query)
            self._open += 1
            index = self._start_index(query)
        try:
            self._serve(connection, query, index)
        finally:
            with self._lock:
                self._open -= 1
                self._lock.notify_all()

    def _serve(
        self, connection: ServerConnection, query: Mapping[str, list[str]], index: int
    ) -> None:
        sent = 0
        while True:
            with self._lock:
                pending = self.events[index:]
                index = len(self.events)
            for _, text in pending:
                if not _wanted(text, query):
                    continue
                if self.instance.drop_after is not None and sent >= self.instance.drop_after:
                    # Abrupt: FIN without a close frame (shutdown wakes the reader thread).
                    connection.socket.shutdown(socket.SHUT_RDWR)
                    return
                try:
                    connection.send(text)
                except ConnectionClosed:
                    return
                sent += 1
                with self._lock:
                    self.frames_sent += 1
            try:
                connection.recv(timeout=POLL_S)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return


def _wanted(text: str, query: Mapping[str, list[str]]) -> bool:
    event = json.loads(text)
    dids = query.get("wantedDids")
    if dids and event.get("did") not in dids:
        return False
    collections = query.get("wantedCollections")
    if collections and event.get("kind") == "commit":
        collection = (event.get("commit") or {}).get("collection")
        return any(
            collection == c or (c.endswith(".*") and str(collection).startswith(c[:-1]))
            for c in collections
        )
    return True
