"""The read-only REST API: what ``app.py``'s routes call.

Modules: :mod:`~chalicelib.api.views` (one function per route),
:mod:`~chalicelib.api.params` (checking client input),
:mod:`~chalicelib.api.cursor` (signed page cursors),
:mod:`~chalicelib.api.reader` (GetItem/Query against the tables),
:mod:`~chalicelib.api.shape` (items to public JSON),
:mod:`~chalicelib.api.docs` (the OpenAPI document and its HTML page),
:mod:`~chalicelib.api.health`. Every error body is
``{"error": <code>, "message": <what to fix>}``.
"""

from __future__ import annotations

from chalice import CORSConfig

from chalicelib.api.docs import docs_page, openapi_document
from chalicelib.api.health import health
from chalicelib.api.views import get_tweet, get_user, list_tweets, list_user_tweets

# Public, read-only data: any origin may read it, no credentials involved.
CORS = CORSConfig(allow_origin="*", max_age=600)

__all__ = [
    "CORS",
    "docs_page",
    "get_tweet",
    "get_user",
    "health",
    "list_tweets",
    "list_user_tweets",
    "openapi_document",
]
