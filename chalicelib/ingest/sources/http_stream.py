"""The long-lived HTTP stream both live sources share: connect, frame lines, reconnect.

X's streams (v2 filtered and sample, v1.1 ``statuses/filter``) are one endless
chunked HTTP response of ``\\r\\n``-terminated JSON documents with a bare
``\\r\\n`` as keep-alive. This module turns such a response into raw lines and
survives everything the platform documents:

* lines are split on ``\\n`` across chunk boundaries and handed on *unparsed*
  (bytes, ``\\r`` stripped, keep-alives as ``b""``), so each tweet is parsed
  exactly once, by ``chalicelib.envelope.normalize``;
* reads ask for up to ``chunk_size`` bytes (64 KiB) but return whatever one
  HTTP chunk holds, so a large buffer adds no latency;
* every read has a socket timeout of ``min(stall window, time to deadline)``:
  silence for the stall window (20 s v2, 90 s v1.1) is a stall and the
  deadline interrupts even a silent connection;
* failures map to :class:`~chalicelib.ingest.sources.reconnect.Failure` and the
  :class:`~chalicelib.ingest.sources.reconnect.ReconnectPolicy` decides the wait;
  401/403 raise :class:`CredentialRejectedError` at once and requests X
  will never accept (400, 404, 406, 413, 416) raise :class:`StreamRequestError`.

Subclasses say how to open the connection (auth, URL, parameters) and which
in-band lines end it (v2 ``operational-disconnect``).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from typing import Any

import requests
import requests.auth
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from chalicelib.ingest.sources.base import SourceRefusedError
from chalicelib.ingest.sources.credentials import CredentialRejectedError, Secret
from chalicelib.ingest.sources.reconnect import Deadline, Failure, ReconnectPolicy

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
CONNECT_TIMEOUT_S = 10.0
USER_AGENT = "tweetlake/0.1 (+https://github.com/tweetlake)"
#: Requests X answers this way will fail the same way again: fix the configuration.
NOT_RETRYABLE = frozenset({400, 404, 406, 413, 416})


class BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer`` on every request, kept out of reprs and session headers."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


class StreamRequestError(SourceRefusedError):
    """The stream request itself is wrong (bad parameters, unknown endpoint)."""


def error_detail(response: requests.Response, limit: int = 300) -> str:
    """The start of an error body, for messages (bodies are small; the read has a timeout)."""
    try:
        body = response.raw.read(4096, decode_content=True) or b""
    except (Urllib3Error, OSError):
        return ""
    # Display only: the start of an error body for a message; no data is written from it.
    return body.decode("utf-8", "replace").strip().replace("\n", " ")[:limit]


def retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket the body is read from, so each read gets its own timeout (None if hidden).

    ``http.client`` reads through ``sock.makefile()``: the ``SocketIO`` under the
    buffered reader holds the socket even after the connection object let go
    of it (it does when the server says ``Connection: close``). Both are
    looked up defensively; without a socket, the request's read timeout (the
    stall window, capped by the deadline at connect time) still applies.
    """
    fp = getattr(getattr(response.raw, "_fp", None), "fp", None)
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    if not isinstance(sock, socket.socket):
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    return sock if isinstance(sock, socket.socket) else None


class HttpStreamSource:
    """Reconnecting line reader over one streaming endpoint; subclasses open the request."""

    source_api = "unknown"
    #: Silence after which the connection counts as stalled.
    stall_s = 20.0
    #: How error messages name the credential this stream sends.
    credential_label = "credential"

    def __init__(
        self,
        *,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        stall_s: float | None = None,
        chunk_size: int = CHUNK_SIZE,
        session: requests.Session | None = None,
    ) -> None:
        self.deadline = Deadline(deadline, clock)
        self.policy = ReconnectPolicy(deadline=self.deadline, sleep=sleep)
        self.clock = clock
        if stall_s is not None:
            self.stall_s = stall_s
        self.chunk_size = chunk_size
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.failures: Counter[str] = Counter()
        self.connections = 0
        self.bytes_read = 0
        self._reconnects = 0
        self._stopped = False
        self._response: requests.Response | None = None

    # --- the Source protocol ----------------------------------------------------------

    @property
    def reconnects(self) -> int:
        return self._reconnects

    def stop(self) -> None:
        """End ``lines()`` soon; safe from another thread (shuts the socket to wake a read)."""
        self._stopped = True
        response = self._response
        if response is not None:
            sock = _socket_of(response)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            response.close()

    def lines(self) -> Iterator[bytes]:
        """Raw lines until stopped or the deadline; reconnects in between as documented."""
        try:
            yield from self._before_stream()
            yield from self._stream_lines()
        finally:
            self._close()

    def summary(self) -> dict[str, Any]:
        """What the run summary reports about this source."""
        return {
            "reconnects": self._reconnects,
            "connections": self.connections,
            "failures": dict(self.failures),
            "waits_s": [round(delay, 3) for _, delay in self.policy.waits],
            "bytes_read": self.bytes_read,
        }

    # --- hooks for subclasses ---------------------------------------------------------

    def _open(self, timeout: tuple[float, float]) -> requests.Response:
        """Send the stream request (``stream=True``) and return the response."""
        raise NotImplementedError

    def _ends_connection(self, line: bytes) -> Failure | None:
        """An in-band message after which the server closes the connection."""
        return None

    def _before_stream(self) -> Iterator[bytes]:
        """Work before the first connection (v2: rules sync); may yield lines."""
        return iter(())

    def _between(self) -> Iterator[bytes]:
        """Called between reads and waits; v2 runs its catch-up from here."""
        return iter(())

    def _clear_stale_connections(self) -> bool:
        """Free the stream slot after ``TooManyConnections``; True: reconnect without waiting."""
        return False

    def _rate_limit_kind(self, response: requests.Response) -> Failure:
        """Which 429 this is: only X's ``TooManyConnections`` problem is told apart."""
        if response.status_code == 429 and "TooManyConnections" in error_detail(response, 4096):
            return Failure.TOO_MANY_CONNECTIONS
        return Failure.RATE_LIMIT

    # --- the loop ---------------------------------------------------------------------

    def _running(self) -> bool:
        return not self._stopped and not self.deadline.passed()

    def _stream_lines(self) -> Iterator[bytes]:
        while self._running():
            failure, wait_hint = yield from self._one_connection()
            if failure is None or not self._running():
                return
            self.failures[failure.value] += 1
            log.info("stream %s ended: %s; reconnecting", self.source_api, failure.value)
            yield from self._between()
            if failure is Failure.TOO_MANY_CONNECTIONS and self._clear_stale_connections():
                self._reconnects += 1
                continue
            if not self.policy.wait(failure, wait_hint) or not self._running():
                return
            yield from self._between()
            self._reconnects += 1

    def _one_connection(self) -> Generator[bytes, None, tuple[Failure | None, float | None]]:
        """Generator: lines of one connection; returns (failure or None, Retry-After)."""
        remaining = self.deadline.remaining()
        timeout = (min(CONNECT_TIMEOUT_S, remaining), min(self.stall_s, remaining))
        try:
            response = self._open(timeout)
        except requests.Timeout:
            return (None if self.deadline.passed() else Failure.NETWORK), None
        except requests.RequestException:
            return Failure.NETWORK, None
        self.connections += 1
        self._response = response
        try:
            status = response.status_code
            if status == 200:
                failure = yield from self._read(response)
                return failure, None
            if status in (401, 403):
                raise CredentialRejectedError(self.credential_label, status, error_detail(response))
            if status in (420, 429):
                return self._rate_limit_kind(response), retry_after(response)
            if status in NOT_RETRYABLE:
                raise StreamRequestError(
                    f"{self.source_api} stream refused the request with HTTP {status}: "
                    f"{error_detail(response)}"
                )
            log.warning("stream %s answered HTTP %s", self.source_api, status)
            return Failure.HTTP, retry_after(response)
        finally:
            self._close()

    def _read(self, response: requests.Response) -> Generator[bytes, None, Failure | None]:
        """Generator over one 200 response; returns why it ended (None: stop or deadline)."""
        sock = _socket_of(response)
        chunks = response.raw.stream(self.chunk_size, decode_content=True)
        pending = b""
        got_data = False
        while True:
            if not self._running():
                return None
            yield from self._between()
            remaining = self.deadline.remaining()
            read_timeout = min(self.stall_s, remaining)
            if sock is not None:
                sock.settimeout(read_timeout)
            try:
                chunk = next(chunks)
            except StopIteration:
                return Failure.NETWORK  # the server ended a stream that never should
            except ReadTimeoutError:
                if self._stopped or read_timeout < self.stall_s:
                    return None  # the deadline, not the server, cut the read
                return Failure.STALL
            except (Urllib3Error, OSError, ValueError, AttributeError):
                # Cut mid-line, reset, or closed by stop() from another thread.
                return None if self._stopped else Failure.NETWORK
            self.bytes_read += len(chunk)
            if not got_data:
                got_data = True
                self.policy.connected()
            parts = chunk.split(b"\n")
            if pending:
                parts[0] = pending + parts[0]
            pending = parts.pop()
            for part in parts:
                line = part[:-1] if part.endswith(b"\r") else part
                yield line
                if line:
                    ending = self._ends_connection(line)
                    if ending is not None:
                        return ending

    def _close(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()
