"""The read routes: parse the request, read, shape, answer.

``app.py`` hands each route's path and query parameters to one function here.
Each function returns a ``chalice.Response``; :func:`answer` turns refusals
into 400/404 bodies and infrastructure faults into 503, so nothing a client
sends can produce a 500.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import aws
from chalicelib.api import cursor as cursors
from chalicelib.api import params, shape
from chalicelib.api.errors import ApiError, bad_request, error, error_response, json_response
from chalicelib.api.keys import high_for_until
from chalicelib.api.reader import Page, Reader
from chalicelib.aws import RETRYABLE_ERROR_CODES, error_code
from chalicelib.config import ConfigError, Settings, get_settings

log = logging.getLogger(__name__)

# Cache lifetimes. A first page changes as tweets arrive; later pages hold
# older tweets and change only when one is deleted, so they live longer, but
# short enough that a delete disappears from caches within a minute. Private:
# the caller's own cache only, since a shared cache may hand a response to a
# signed request on to anyone (RFC 9111 lets "public" override Authorization).
CACHE_FIRST_PAGE = "private, max-age=5"
CACHE_LATER_PAGE = "private, max-age=60"
CACHE_ITEM = "private, max-age=60"
CACHE_USER = "private, max-age=30"

LIST_PARAMS = ("limit", "cursor", "since", "until")

# A 503 for whatever may pass: throttling, and a table missing while a deploy creates it.
_UNAVAILABLE = RETRYABLE_ERROR_CODES | {"ResourceNotFoundException"}

View = Callable[..., Response]


def answer(view: View) -> View:
    """Turn what a view raises into the documented error responses.

    Refusals become 400/404, configuration and store faults 503 (with
    ``Retry-After`` where retrying helps); a DynamoDB error that means our
    request was wrong (e.g. ``ValidationException``) is a bug and becomes a 500.
    """

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return view(*args, **kwargs)
        except ApiError as exc:
            return error_response(exc)
        except ConfigError as exc:
            return error(503, "misconfigured", str(exc))
        except ClientError as exc:
            code = error_code(exc) or ""
            if code not in _UNAVAILABLE:
                log.exception("dynamodb refused a request: %s", code)
                return error(500, "internal", "the server failed to answer; this is not your fault")
            log.warning("dynamodb unavailable: %s", code)
            response = error(503, "unavailable", f"the store is unavailable ({code}); retry")
            response.headers["Retry-After"] = "1"
            return response
        except BotoCoreError as exc:
            log.warning("dynamodb unreachable: %s", exc)
            response = error(503, "unavailable", f"the store is unreachable ({type(exc).__name__})")
            response.headers["Retry-After"] = "1"
            return response
        except Exception:
            # A fault of ours, never of the input (which is checked above): keep the
            # error format, log the trace, and show the client nothing internal.
            log.exception("unhandled error in %s", view.__name__)
            return error(500, "internal", "the server failed to answer; this is not your fault")

    return wrapped


def _reader(settings: Settings) -> Reader:
    return Reader(aws.client("dynamodb", settings.region), settings)


def _no_params(query_params: Any) -> None:
    params.single_values(params.query_values(query_params), ())


@answer
def get_tweet(tweet_id: str, query_params: Any = None) -> Response:
    _no_params(query_params)
    tweet_id = params.check_id(tweet_id, "tweet")
    settings = get_settings()
    reader = _reader(settings)
    item = reader.tweet(tweet_id)
    if item is None:
        raise ApiError(404, "not_found", f"no tweet {tweet_id} is stored (or it was deleted)")
    if not tweet_id.isdigit():  # Bluesky: not while its account is taken down or inactive
        author = shape.string_of(item.get("author_id"))
        _check_active(reader.author(author) if author else None, author)
    return json_response(shape.tweet(item), cache_control=CACHE_ITEM)


def _check_active(author: dict[str, Any] | None, user_id: str | None) -> None:
    """404 for the posts of a Bluesky account whose newest status is not active."""
    status = shape.suppressed_status(author)
    if status is not None:
        raise ApiError(404, "not_found", f"the posts of {user_id} are not served: account {status}")


@answer
def get_user(user_id: str, query_params: Any = None) -> Response:
    _no_params(query_params)
    user_id = params.check_id(user_id, "user")
    settings = get_settings()
    item = _reader(settings).author(user_id)
    if item is None:
        raise ApiError(404, "not_found", f"no tweets by user {user_id} are stored")
    return json_response(shape.user(item), cache_control=CACHE_USER)


@answer
def list_tweets(query_params: Any = None) -> Response:
    settings = get_settings()
    listing = _Listing.parse(query_params, "feed", settings)
    reader = _reader(settings)
    page = reader.feed(listing.low, listing.high, listing.limit)
    return listing.respond(_served(page, reader), settings)


def _served(page: Page, reader: Reader) -> Page:
    """The page without the posts of inactive Bluesky accounts (one read of their authors).

    The cursor still follows the last item read, so a page may hold fewer items.
    """
    dids = {
        author
        for item in page.items
        if (author := shape.string_of(item.get("author_id"))) and author.startswith("did:")
    }
    if not dids:
        return page
    hidden = {did for did, item in reader.authors(dids).items() if shape.suppressed_status(item)}
    if not hidden:
        return page
    kept = [i for i in page.items if shape.string_of(i.get("author_id")) not in hidden]
    return Page(kept, page.next_high)


@answer
def list_user_tweets(user_id: str, query_params: Any = None) -> Response:
    user_id = params.check_id(user_id, "user")
    settings = get_settings()
    listing = _Listing.parse(query_params, f"user:{user_id}", settings)
    reader = _reader(settings)
    if user_id.startswith("did:"):
        _check_active(reader.author(user_id), user_id)
    page = reader.timeline(user_id, listing.low, listing.high, listing.limit)
    # An empty first page is the only place an unknown user and a user with no
    # stored tweets look alike: one GetItem tells them apart (still <= limit+1 reads).
    if not page.items and listing.first_page and reader.author(user_id) is None:
        raise ApiError(404, "not_found", f"no tweets by user {user_id} are stored")
    return listing.respond(page, settings)


class _Listing:
    """A paged listing's parsed query: window, limit and where this page starts."""

    def __init__(
        self, scope: str, window: params.Window, limit: int, high: str, first_page: bool
    ) -> None:
        self.scope = scope
        self.window = window
        self.limit = limit
        self.low = window.since
        self.high = high
        self.first_page = first_page

    @classmethod
    def parse(cls, query_params: Any, scope: str, settings: Settings) -> _Listing:
        given = params.single_values(params.query_values(query_params), LIST_PARAMS)
        limit = params.parse_limit(given.get("limit"))
        window = params.parse_window(given)
        high = high_for_until(window.until)
        if "cursor" not in given:
            return cls(scope, window, limit, high, first_page=True)
        cursor = cursors.decode(given["cursor"], cursors.signing_key(settings))
        if cursor.scope != scope:
            raise bad_request("invalid_cursor", "cursor belongs to another listing: drop it")
        for name in ("since", "until"):
            if name in given and getattr(window, name) != getattr(cursor, name):
                raise bad_request(
                    "invalid_cursor",
                    f"{name} differs from the request the cursor came from:"
                    " keep since/until as they were, or omit them with a cursor",
                )
        window = params.Window(since=cursor.since, until=cursor.until)
        # A cursor may only narrow its window, never widen it.
        high = min(cursor.high, high_for_until(window.until))
        return cls(scope, window, limit, high, first_page=False)

    def respond(self, page: Page, settings: Settings) -> Response:
        next_cursor = None
        if page.next_high is not None:
            state = cursors.Cursor(self.scope, self.window.since, self.window.until, page.next_high)
            next_cursor = cursors.encode(state, cursors.signing_key(settings))
        body = {
            "items": [shape.tweet(item) for item in page.items],
            "count": len(page.items),
            "next_cursor": next_cursor,
        }
        cache = CACHE_FIRST_PAGE if self.first_page else CACHE_LATER_PAGE
        return json_response(body, cache_control=cache)
