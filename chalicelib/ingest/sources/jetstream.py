"""Bluesky Jetstream: a free, unauthenticated websocket of the whole network's events.

``GET /subscribe?wantedCollections=…&wantedDids=…&cursor=<unix µs>`` upgrades to a
websocket whose text frames are JSON events, each with a ``time_us``. A run
resumes from the checkpoint (the largest ``time_us`` an earlier run put into
Kinesis) minus a few seconds: delivery is at-least-once and replay can reorder
events around the cutover to live, and the consumer is idempotent, so reading
a little twice is what makes the schedule gapless. Jetstream keeps about 36
hours; an older cursor is clamped by the server without a word, so the source
says so itself (``cursor_too_old``) instead of pretending nothing was missed.

Connections drop (the public instances have closed them after about a minute):
the source reconnects from the last ``time_us`` it yielded, moving to the next
instance each time, with :class:`~chalicelib.retry.Backoff` between failures.
It stops at the run's deadline like the X sources, and its summary reports its
lag (wall clock minus the last ``time_us``). No credentials exist to handle.

Settings (all optional):

====================================  ===============================================
TWEETLAKE_JETSTREAM_URLS              comma-separated ``wss://host/subscribe`` URLs,
                                      tried in turn (default: the four public ones)
TWEETLAKE_JETSTREAM_COLLECTIONS       wanted collections (default app.bsky.feed.post)
TWEETLAKE_JETSTREAM_DIDS              only these accounts (comma-separated DIDs)
TWEETLAKE_JETSTREAM_REWIND_S          seconds re-read before the checkpoint (default 5)
====================================  ===============================================
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from chalicelib.config import ConfigError, env_integer
from chalicelib.ids import POST_COLLECTION, is_did
from chalicelib.ingest.sources.base import SourceRefusedError
from chalicelib.retry import Backoff

log = logging.getLogger(__name__)

PUBLIC_INSTANCES = tuple(
    f"wss://jetstream{n}.us-{region}.bsky.network/subscribe"
    for region in ("east", "west")
    for n in (1, 2)
)
#: How far back a public instance replays; an older cursor is silently clamped.
REPLAY_WINDOW_S = 36 * 3600
#: The longest a ``recv`` blocks before the source yields a keep-alive, so the
#: ingest loop looks at its deadline at least this often.
POLL_S = 1.0
#: Jetstream's limits on filters.
MAX_COLLECTIONS, MAX_DIDS = 100, 10_000
_NSID_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*(?:\.[a-zA-Z0-9-]+)+(?:\.\*)?")
_TIME_US_RE = re.compile(r'"time_us"\s*:\s*([0-9]{1,20})')
_TIME_US_BYTES_RE = re.compile(rb'"time_us"\s*:\s*([0-9]{1,20})')
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class JetstreamSettings:
    urls: tuple[str, ...] = PUBLIC_INSTANCES
    collections: tuple[str, ...] = (POST_COLLECTION,)
    dids: tuple[str, ...] = ()
    rewind_s: int = 5


def _list(env: Mapping[str, str], variable: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in env.get(variable, "").split(",") if part.strip())


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    secure = parts.scheme == "wss" or (parts.scheme == "ws" and parts.hostname in LOOPBACK_HOSTS)
    if not parts.hostname or not secure or "?" in url:
        raise ConfigError(
            "TWEETLAKE_JETSTREAM_URLS",
            f"holds {url!r:.80}",
            "give wss://host/subscribe URLs without a query (plain ws:// only to 127.0.0.1)",
        )
    return url


def load_jetstream_settings(env: Mapping[str, str]) -> JetstreamSettings:
    """The source's settings; a malformed one raises ConfigError naming it."""
    urls = tuple(_check_url(u) for u in _list(env, "TWEETLAKE_JETSTREAM_URLS")) or PUBLIC_INSTANCES
    collections = _list(env, "TWEETLAKE_JETSTREAM_COLLECTIONS") or (POST_COLLECTION,)
    bad = [c for c in collections if not _NSID_RE.fullmatch(c)]
    if bad or len(collections) > MAX_COLLECTIONS:
        raise ConfigError(
            "TWEETLAKE_JETSTREAM_COLLECTIONS",
            f"holds {bad[0]!r:.80}" if bad else f"names {len(collections)} collections",
            f"give at most {MAX_COLLECTIONS} NSIDs such as app.bsky.feed.post",
        )
    dids = _list(env, "TWEETLAKE_JETSTREAM_DIDS")
    bad = [d for d in dids if not is_did(d)]
    if bad or len(dids) > MAX_DIDS:
        raise ConfigError(
            "TWEETLAKE_JETSTREAM_DIDS",
            f"holds {bad[0]!r:.80}" if bad else f"names {len(dids)} accounts",
            f"give at most {MAX_DIDS} DIDs such as did:plc:ewvi7nxzyoun6zhxrhs64oiz",
        )
    return JetstreamSettings(
        urls=urls,
        collections=collections,
        dids=dids,
        rewind_s=env_integer(env, "TWEETLAKE_JETSTREAM_REWIND_S", 5, 0, 3600),
    )


def subscribe_url(base: str, settings: JetstreamSettings, cursor_us: int | None) -> str:
    """The subscription URL: repeated ``wantedCollections``/``wantedDids``, then the cursor."""
    query: list[tuple[str, str]] = [("wantedCollections", c) for c in settings.collections]
    query += [("wantedDids", d) for d in settings.dids]
    if cursor_us is not None:
        query.append(("cursor", str(cursor_us)))
    return f"{base}?{urlencode(query)}"


def frame_time_us(frame: str | bytes) -> int | None:
    """A frame's ``time_us`` without parsing the whole JSON (the cursor to resume from)."""
    if isinstance(frame, str):
        text = _TIME_US_RE.search(frame)
        return int(text.group(1)) if text else None
    found = _TIME_US_BYTES_RE.search(frame)
    return int(found.group(1)) if found else None


@dataclass
class _Progress:
    """What the source reports at the end of a run."""

    frames: int = 0
    connections: int = 0
    failures: list[str] = field(default_factory=list)
    cursor_start_us: int | None = None
    last_time_us: int | None = None
    cursor_too_old: bool = False


class JetstreamSource:
    """Yields Jetstream frames as text, one event each ("" while the socket is quiet)."""

    source_api = "jetstream"
    #: The run checkpoints the largest ``time_us`` it sent (chalicelib.ingest.handler).
    checkpoints_cursor = True

    def __init__(
        self,
        settings: JetstreamSettings,
        *,
        checkpoint_us: int | None,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        open_timeout_s: float = 10.0,
    ) -> None:
        self._settings = settings
        self._deadline = deadline
        self._clock = clock
        self._wall = wall
        self._backoff = backoff or Backoff(base_s=0.5, cap_s=30.0, max_attempts=8, sleep=sleep)
        self._open_timeout_s = open_timeout_s
        self._stopped = threading.Event()
        self._socket: Any = None
        self._instance = 0
        self._progress = _Progress()
        if checkpoint_us is not None:
            start = max(1, checkpoint_us - settings.rewind_s * 1_000_000)
            self._progress.cursor_start_us = start
            self._progress.cursor_too_old = wall() - start / 1_000_000 > REPLAY_WINDOW_S
            if self._progress.cursor_too_old:
                log.warning(
                    "jetstream checkpoint %d is older than the %d-hour replay window: "
                    "the server starts later, and posts in between are missed",
                    checkpoint_us,
                    REPLAY_WINDOW_S // 3600,
                )

    @property
    def reconnects(self) -> int:
        return max(0, self._progress.connections - 1)

    def stop(self) -> None:
        self._stopped.set()
        socket = self._socket
        if socket is not None:
            socket.close()

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - self._clock()

    def _done(self) -> bool:
        remaining = self._remaining()
        return self._stopped.is_set() or (remaining is not None and remaining <= 0)

    def _cursor(self) -> int | None:
        """Resume from the last frame yielded (re-read: at-least-once), else the start."""
        last = self._progress.last_time_us
        return last if last is not None else self._progress.cursor_start_us

    def lines(self) -> Iterator[str | bytes]:
        """Frames until the deadline or ``stop``; reconnects across instances on failure."""
        from websockets.exceptions import InvalidStatus, WebSocketException

        failures_in_a_row = 0
        while not self._done():
            url = self._settings.urls[self._instance % len(self._settings.urls)]
            yielded = False
            try:
                for frame in self._session(url):
                    yielded = yielded or frame != ""
                    yield frame
                reason = "closed by the server"
            except InvalidStatus as exc:
                status = exc.response.status_code
                if 400 <= status < 500 and status != 429:
                    raise SourceRefusedError(
                        f"jetstream {url} refused the subscription: HTTP {status}"
                    ) from exc
                reason = f"HTTP {status}"
            except (OSError, TimeoutError, WebSocketException) as exc:
                reason = f"{type(exc).__name__}: {exc}"[:200]
            if self._done():
                return
            failures_in_a_row = 0 if yielded else failures_in_a_row + 1
            self._failed(url, reason, failures_in_a_row)

    def _failed(self, url: str, reason: str, failures_in_a_row: int) -> None:
        """Note the failure, move to the next instance, wait (within the deadline)."""
        self._progress.failures.append(f"{url}: {reason}")
        self._instance += 1
        log.info("jetstream %s ended (%s); next instance in turn", url, reason)
        if self._backoff.exhausted(failures_in_a_row):
            raise ConnectionError(
                f"jetstream: {failures_in_a_row} connections in a row gave nothing; last: {reason}"
            )
        wait = self._backoff.delay(max(0, failures_in_a_row - 1))
        remaining = self._remaining()
        if remaining is not None:
            wait = min(wait, max(0.0, remaining))
        self._backoff.sleep(wait)

    def _session(self, url: str) -> Iterator[str | bytes]:
        from websockets.sync.client import connect

        target = subscribe_url(url, self._settings, self._cursor())
        with connect(
            target,
            open_timeout=self._open_timeout_s,
            close_timeout=2,
            max_size=16 * 1024 * 1024,
            compression=None,
            user_agent_header="tweetlake",
        ) as socket:
            self._socket = socket
            self._progress.connections += 1
            try:
                yield from self._frames(socket)
            finally:
                self._socket = None

    def _frames(self, socket: Any) -> Iterator[str | bytes]:
        progress = self._progress
        while not self._done():
            remaining = self._remaining()
            timeout = POLL_S if remaining is None else max(0.0, min(POLL_S, remaining))
            try:
                frame = socket.recv(timeout=timeout)
            except TimeoutError:
                yield ""  # a keep-alive: the ingest loop checks its deadline
                continue
            time_us = frame_time_us(frame)
            if time_us is not None and (
                progress.last_time_us is None or time_us > progress.last_time_us
            ):
                progress.last_time_us = time_us
            progress.frames += 1
            yield frame

    def summary(self) -> dict[str, Any]:
        """Frames, connections, failures, the cursor span and the lag behind the network."""
        progress = self._progress
        lag = None
        if progress.last_time_us is not None:
            lag = round(max(0.0, self._wall() - progress.last_time_us / 1_000_000), 3)
        return {
            "frames": progress.frames,
            "connections": progress.connections,
            "failures": progress.failures[-10:],
            "cursor_start_us": progress.cursor_start_us,
            "last_time_us": progress.last_time_us,
            "lag_s": lag,
            "cursor_too_old": progress.cursor_too_old,
        }
