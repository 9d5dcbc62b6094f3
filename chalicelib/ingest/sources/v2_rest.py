"""X API v2 REST calls (stream rules, recent search, connections, usage) through twython.

twython 3.9.1's ``Twython`` already does what these calls need: a
``requests`` session with an OAuth 2 bearer header, parameter encoding
(lists joined with commas, booleans as ``true``/``false``), JSON bodies, and
errors raised by status (``TwythonAuthError`` for 401, ``TwythonRateLimitError``
for 429). Its public ``request()`` only refuses what we need for a
configurable base URL: it rejects ``http://`` (the loopback test server) and
appends ``.json`` to relative paths, a v1.1 convention that v2 does not use.
:class:`V2Rest` therefore builds the full URL itself and calls twython's
request core, ``_request``, as a subclass may.

Errors become small domain errors here, at the boundary: 401/403 raise
:class:`CredentialRejectedError` (the run ends at once), 429
:class:`RateLimitedError`, anything else :class:`V2RestError`.
"""

from __future__ import annotations

from typing import Any

from twython import Twython, TwythonError

from chalicelib.ingest.sources.credentials import CredentialRejectedError, Secret
from chalicelib.ingest.sources.http_stream import USER_AGENT, BearerAuth
from chalicelib.ingest.sources.reconnect import Deadline

DEFAULT_API_URL = "https://api.x.com"
REST_TIMEOUT_S = 15.0
CONNECTIONS_PATH = "/2/connections"
KILL_CONNECTIONS_PATH = "/2/connections/all"
USAGE_PATH = "/2/usage/tweets"


class V2RestError(RuntimeError):
    """A v2 REST call failed for a reason other than credentials or rate limits."""


class RateLimitedError(V2RestError):
    """HTTP 429 on a REST call; ``reset_at`` is X's ``x-rate-limit-reset`` (epoch s) if sent."""

    def __init__(self, message: str, reset_at: str | None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class V2Rest(Twython):
    """Bearer-token v2 REST client with a configurable base URL."""

    credential_label = "bearer token"

    def __init__(
        self,
        bearer: Secret,
        *,
        base_url: str = DEFAULT_API_URL,
        credential_label: str = "bearer token",
        timeout_s: float = REST_TIMEOUT_S,
    ) -> None:
        super().__init__(
            access_token=bearer.reveal(),
            oauth_version=2,
            client_args={"timeout": timeout_s, "headers": {"User-Agent": USER_AGENT}},
        )
        # Twython keeps the token as an attribute and signs through requests-oauthlib's
        # OAuth2, which refuses plain http even to 127.0.0.1 (the test server). The
        # bearer header is all OAuth2 adds for app-only auth, so send it ourselves.
        self.access_token = None
        self.client.auth = BearerAuth(bearer)
        self.base_url = base_url.rstrip("/")
        self.credential_label = credential_label
        self.timeout_s = timeout_s
        #: When set, no call waits past it (the ingest run's stop time).
        self.deadline: Deadline | None = None

    def __repr__(self) -> str:
        return f"V2Rest({self.base_url!r})"

    def call(
        self,
        path: str,
        method: str = "GET",
        params: dict[str, Any] | None = None,
        *,
        json_body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One v2 call; ``path`` starts with ``/2/``; query in ``params`` or the path."""
        url = f"{self.base_url}{path}"
        timeout = self.timeout_s
        if self.deadline is not None:
            timeout = min(timeout, self.deadline.remaining())
            if timeout <= 0:
                raise V2RestError(f"{method} {path}: not sent, the run's deadline has passed")
        self.client_args["timeout"] = timeout
        try:
            if json_body is not None:
                content = self._request(url, method, params=json_body, json_encoded=True)
            else:
                content = self._request(url, method, params=params or {})
        except TwythonError as exc:
            raise self._translate(exc, path) from None
        if not isinstance(content, dict):
            raise V2RestError(f"{method} {path}: expected a JSON object, got {type(content)}")
        return content

    def active_connections(self) -> list[dict[str, Any]]:
        """The app's streaming connections X still counts as open (no ``disconnected_at``).

        ``GET /2/connections`` lists active and past connections, each with
        ``endpoint_name``, ``connected_at`` and, once closed, ``disconnected_at``
        and ``disconnect_reason``.
        """
        data = self.call(CONNECTIONS_PATH).get("data") or []
        return [c for c in data if isinstance(c, dict) and not c.get("disconnected_at")]

    def kill_all_connections(self) -> int:
        """``DELETE /2/connections/all``: end every streaming connection of the app.

        X's documented use: "resolve TooManyConnections errors and clean up stale
        connections without waiting for timeouts". Returns ``successful_kills``.
        """
        data = self.call(KILL_CONNECTIONS_PATH, "DELETE").get("data") or {}
        return int(data.get("successful_kills") or 0)

    def cycle_usage(self) -> int:
        """Posts the project read this billing cycle: ``data.project_usage`` (a string)."""
        data = self.call(USAGE_PATH).get("data") or {}
        try:
            return int(data["project_usage"])
        except (KeyError, TypeError, ValueError):
            raise V2RestError(f"{USAGE_PATH}: no project_usage in {data!r}"[:400]) from None

    def _translate(self, exc: TwythonError, path: str) -> Exception:
        status = getattr(exc, "error_code", None)
        detail = self._last_body()
        if status in (401, 403):
            return CredentialRejectedError(self.credential_label, int(status), detail)
        if status == 429:
            return RateLimitedError(f"{path}: rate limited (HTTP 429)", exc.retry_after)
        return V2RestError(f"{path}: HTTP {status or '?'}: {detail or exc.msg}"[:400])

    def _last_body(self) -> str:
        last = self._last_call or {}
        return str(last.get("content") or "").strip().replace("\n", " ")[:300]
