"""The read-only REST API: what ``app.py``'s routes call.

Modules: :mod:`~chalicelib.api.views` (one function per route),
:mod:`~chalicelib.api.params` (checking client input),
:mod:`~chalicelib.api.cursor` (signed page cursors),
:mod:`~chalicelib.api.reader` (GetItem/Query against the tables),
:mod:`~chalicelib.api.shape` (items to public JSON),
:mod:`~chalicelib.api.docs` (the OpenAPI document and its HTML page),
:mod:`~chalicelib.api.health`, :mod:`~chalicelib.api.access`
(which routes need a signed caller once deployed). Every error body is
``{"error": <code>, "message": <what to fix>}``.
"""

from __future__ import annotations

from chalice import CORSConfig

from chalicelib.api.access import data_authorizer
from chalicelib.api.docs import docs_page, openapi_document
from chalicelib.api.health import health
from chalicelib.api.views import get_tweet, get_user, list_tweets, list_user_tweets

# Any origin may ask; on a private stage the request must still be signed, and
# Chalice's default allowed headers carry the signature (Authorization,
# X-Amz-Date, X-Amz-Security-Token).
CORS = CORSConfig(allow_origin="*", max_age=600)

__all__ = [
    "CORS",
    "data_authorizer",
    "docs_page",
    "get_tweet",
    "get_user",
    "health",
    "list_tweets",
    "list_user_tweets",
    "openapi_document",
]
