"""X API v2 filtered (or sample) stream, read with ``requests`` and a bearer token.

Why ``requests`` and not a twython subclass: ``TwythonStreamer`` builds an
OAuth 1.0a session in its constructor and knows only v1.1 URLs, and its read
loop (``_request``) is the part we cannot use anyway (1-byte reads by
default, a JSON parse of every line, no backoff after errors, no stall or
deadline handling). What it would contribute to v2 is a ``requests.Session``,
so the stream sits on ``requests`` directly, shares its reconnecting reader
with the v1.1 source (:mod:`chalicelib.ingest.sources.http_stream`), and uses
twython where twython fits: the v2 REST calls for rules and recent search
(:mod:`chalicelib.ingest.sources.v2_rest`).

On start the source syncs the configured rules (filter stream only). After
``catch_up_delay_s`` it runs the catch-up (:mod:`chalicelib.ingest.sources.catchup`)
in between stream reads: the stream is connected first, so search only has to
cover up to a moment the stream already covers, and waiting a little lets
search index the tweets of the seconds before the connection.

Stale connections: pay-per-use allows one stream connection per app, and a run
cut off by the Lambda timeout can leave X counting a connection nobody reads.
Before its first connection the source asks ``GET /2/connections`` and, if
one is still open, ends it with ``DELETE /2/connections/all``; a ``429
TooManyConnections`` later in the run does the same and reconnects at once
instead of waiting the 60 s+ rate-limit back-off (at most
``MAX_STALE_CLEARS`` times a run, so two deployments fighting over the slot
fall back to the back-off instead of evicting each other in a loop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import requests

from chalicelib.ingest.sources.catchup import PAGE_SIZE, CatchUp
from chalicelib.ingest.sources.credentials import CredentialRejectedError, Secret
from chalicelib.ingest.sources.http_stream import BearerAuth, HttpStreamSource
from chalicelib.ingest.sources.reconnect import Failure
from chalicelib.ingest.sources.rules import Rule, RulesSync, sync_rules
from chalicelib.ingest.sources.v2_rest import DEFAULT_API_URL, V2Rest, V2RestError

log = logging.getLogger(__name__)

FILTER_PATH = "/2/tweets/search/stream"
SAMPLE_PATH = "/2/tweets/sample/stream"
#: Clears of the stream slot a run may do; beyond, TooManyConnections waits like a 429.
MAX_STALE_CLEARS = 2

#: What the envelope needs: by default a v2 line has only id, text and edit history.
V2_FIELDS: dict[str, str] = {
    "expansions": "author_id",
    "tweet.fields": (
        "author_id,created_at,lang,entities,referenced_tweets,note_tweet,in_reply_to_user_id"
    ),
    "user.fields": "created_at,description,location,url,verified,public_metrics",
}


class V2StreamSource(HttpStreamSource):
    """The Source for ``TWEETLAKE_SOURCE=v2``."""

    source_api = "v2"
    stall_s = 20.0

    def __init__(
        self,
        bearer: Secret,
        *,
        api_url: str = DEFAULT_API_URL,
        stream: str = "filter",
        rules: list[Rule] | None = None,
        rest: V2Rest | None = None,
        since_id: str | None = None,
        catch_up_pages: int = 10,
        catch_up_delay_s: float = 15.0,
        catch_up_page_size: int = PAGE_SIZE,
        backfill_minutes: int = 0,
        credential_label: str = "bearer token",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.api_url = api_url.rstrip("/")
        self.stream = stream
        self.rules = rules
        self.credential_label = credential_label
        self.session.auth = BearerAuth(bearer)
        self.rest = rest or V2Rest(bearer, base_url=self.api_url, credential_label=credential_label)
        self.rest.deadline = self.deadline
        self.since_id = since_id
        self.catch_up_pages = catch_up_pages
        self.catch_up_delay_s = catch_up_delay_s
        self.catch_up_page_size = catch_up_page_size
        self.backfill_minutes = backfill_minutes
        self.now = now
        self.rules_sync: RulesSync | None = None
        self.catch_up: CatchUp | None = None
        self._catch_up_at: float | None = None
        self.stale_cleared = 0
        self._clears = 0

    def __repr__(self) -> str:
        return f"V2StreamSource({self.api_url!r}, {self.stream!r})"

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        if self.rules_sync is not None:
            out["rules"] = self.rules_sync.summary()
        if self.catch_up is not None:
            out["catch_up"] = self.catch_up.report.summary()
        out["stale_connections_cleared"] = self.stale_cleared
        return out

    def cycle_usage(self) -> int | None:
        """X's count of posts read this billing cycle (the post budget's start), or None."""
        try:
            return self.rest.cycle_usage()
        except (V2RestError, CredentialRejectedError) as exc:
            log.warning("could not read X usage: %s", exc)
            return None

    def _clear_stale_connections(self) -> bool:
        """After ``TooManyConnections``: end the app's connections, reconnect without waiting."""
        if self._clears >= MAX_STALE_CLEARS:
            return False
        self._clears += 1
        return self._kill_connections("TooManyConnections")

    def _kill_connections(self, why: str) -> bool:
        try:
            killed = self.rest.kill_all_connections()
        except (V2RestError, CredentialRejectedError) as exc:
            log.warning("could not clear stale stream connections (%s): %s", why, exc)
            return False
        self.stale_cleared += killed
        log.info("cleared %d stale stream connection(s) (%s)", killed, why)
        return True

    def _clear_before_connecting(self) -> None:
        """One REST call a run; clears only when X still counts an open connection."""
        try:
            active = self.rest.active_connections()
        except (V2RestError, CredentialRejectedError) as exc:
            # A plan without the Connections API (or a token the stream will refuse
            # anyway, with the better message) must not stop the run here.
            log.warning("could not list stream connections: %s", exc)
            return
        if active:
            self._kill_connections(f"{len(active)} open before connecting")

    def _before_stream(self) -> Iterator[bytes]:
        self._clear_before_connecting()
        active = []
        if self.stream == "filter" and self.rules is not None:
            self.rules_sync = sync_rules(self.rest, self.rules)
            active = self.rules_sync.active
        if self.catch_up_pages > 0:
            self.catch_up = CatchUp(
                rest=self.rest,
                rules=active,
                since_id=self.since_id,
                fields=V2_FIELDS,
                max_pages=self.catch_up_pages,
                page_size=self.catch_up_page_size,
                now=self.now,
                deadline=self.deadline,
            )
            self._catch_up_at = self.clock() + self.catch_up_delay_s
        return iter(())

    def _between(self) -> Iterator[bytes]:
        if self.catch_up and self._catch_up_at is not None and self.clock() >= self._catch_up_at:
            self._catch_up_at = None
            yield from self.catch_up.lines()

    def _open(self, timeout: tuple[float, float]) -> requests.Response:
        path = FILTER_PATH if self.stream == "filter" else SAMPLE_PATH
        params = dict(V2_FIELDS)
        if self.backfill_minutes:
            params["backfill_minutes"] = str(self.backfill_minutes)
        return self.session.get(self.api_url + path, params=params, stream=True, timeout=timeout)

    def _ends_connection(self, line: bytes) -> Failure | None:
        # Only error-only lines are looked into; tweet lines are never parsed here.
        if line.startswith(b'{"errors"') and b"operational-disconnect" in line:
            return Failure.OPERATIONAL_DISCONNECT
        return None
