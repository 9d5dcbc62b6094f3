"""v1.1 ``statuses/filter`` through twython's ``TwythonStreamer`` (OAuth 1.0a).

For accounts and compatible endpoints that still serve v1.1. ``TwythonStreamer``
provides the OAuth 1.0a user-context session (requests-oauthlib signing,
including the form body a POST to ``statuses/filter`` carries) and twython's
parameter encoding. Its read loop, ``_request``, is not used, and
:class:`_Streamer` disables it, because for a function that must stop on time
it would:

* read 1 byte per chunk by default and ``json.loads`` every line before
  handing it on (we hand raw lines to ``chalicelib.envelope.normalize``, parsed once);
* after a non-200 answer, pass the error body to ``on_success`` and reconnect
  at once in a loop, or after a fixed ``retry_in`` (10 s), never with the
  documented 420/HTTP/network back-off;
* drop keep-alives (so no stall check but the socket timeout) and let
  ``ChunkedEncodingError`` escape on a line cut off mid-way;
* block until the next line with no way to honour a deadline.

So the connection is made on twython's signed session and read by the shared
reconnecting reader (:mod:`chalicelib.ingest.sources.http_stream`), with v1.1's 90 s
stall window (v1.1 keep-alives come about every 30 s).
"""

from __future__ import annotations

from typing import Any, NoReturn

import requests
from twython import TwythonStreamer
from twython.helpers import _transparent_params

from chalicelib.ingest.sources.credentials import Secret
from chalicelib.ingest.sources.http_stream import CHUNK_SIZE, HttpStreamSource
from chalicelib.ingest.sources.live_settings import DEFAULT_V1_STREAM_URL

FILTER_PATH = "/1.1/statuses/filter.json"


class _Streamer(TwythonStreamer):
    """TwythonStreamer for its OAuth 1.0a session; its blocking read loop is disabled."""

    def _request(self, url: str, method: str = "GET", params: Any = None) -> NoReturn:
        raise RuntimeError(
            "tweetlake reads the stream itself; see chalicelib.ingest.sources.v1_stream"
        )


class V1StreamSource(HttpStreamSource):
    """The Source for ``TWEETLAKE_SOURCE=v1.1``."""

    source_api = "v1.1"
    stall_s = 90.0

    def __init__(
        self,
        consumer_key: Secret,
        consumer_secret: Secret,
        access_token: Secret,
        access_token_secret: Secret,
        *,
        stream_url: str = DEFAULT_V1_STREAM_URL,
        track: str = "",
        follow: str = "",
        locations: str = "",
        language: str = "",
        credential_label: str = "OAuth 1.0a credentials",
        **kwargs: Any,
    ) -> None:
        streamer = _Streamer(
            consumer_key.reveal(),
            consumer_secret.reveal(),
            access_token.reveal(),
            access_token_secret.reveal(),
            chunk_size=kwargs.get("chunk_size", CHUNK_SIZE),
        )
        super().__init__(session=streamer.client, **kwargs)
        self.stream_url = stream_url.rstrip("/")
        self.credential_label = credential_label
        params = {
            "track": track,
            "follow": follow,
            "locations": locations,
            "language": language,
            "stall_warnings": True,
        }
        self.params, _ = _transparent_params({k: v for k, v in params.items() if v})

    def __repr__(self) -> str:
        return f"V1StreamSource({self.stream_url!r})"

    def _open(self, timeout: tuple[float, float]) -> requests.Response:
        return self.session.post(
            self.stream_url + FILTER_PATH, data=self.params, stream=True, timeout=timeout
        )
