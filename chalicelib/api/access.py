"""Who may call which route once deployed: the authorizer each route carries.

The data routes (tweets, users, ``/health``) carry Chalice's ``IAMAuthorizer``
unless the stage says ``TWEETLAKE_API_ACCESS=public``: API Gateway then
rejects an unsigned request with 403 before it reaches Lambda, and charges
nothing for it. ``/openapi.json`` and ``/docs`` stay open: they hold no X
content and tell a caller how to sign. ``/health`` is not among them because
its 503 body names tables and quotes AWS errors, which carry the account id.

``chalice local`` and ``chalice.test.Client`` admit every request to an
``IAMAuthorizer`` route (Chalice cannot check SigV4 locally), so local use is
unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalice import IAMAuthorizer

from chalicelib.config import api_access


def data_authorizer(env: Mapping[str, str]) -> IAMAuthorizer | None:
    """The authorizer of the data routes for the stage whose variables ``env`` holds."""
    return IAMAuthorizer() if api_access(env) == "iam" else None
