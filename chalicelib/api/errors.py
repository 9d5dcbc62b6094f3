"""Errors the read API answers with, and the JSON responses that carry them.

Every error body is ``{"error": <code>, "message": <what to fix>}``. Views
raise :class:`ApiError` anywhere below the route; the route wrapper turns it
into a response, so no client input can escape as a 500 with a stack trace.
"""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

NO_STORE = "no-store"


class ApiError(Exception):
    """A request the API refuses, with the status, a stable code and a fix."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def unavailable(message: str, retry_after_s: int | None = None) -> ApiError:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s else None
    return ApiError(503, "unavailable", message, headers)


def json_response(body: Any, status: int = 200, cache_control: str = NO_STORE) -> Response:
    """A JSON response; the body is serialised here so no type reaches Chalice's encoder."""
    return Response(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": "application/json", "Cache-Control": cache_control},
    )


def error(status: int, code: str, message: str) -> Response:
    return json_response({"error": code, "message": message}, status=status)


def error_response(exc: ApiError) -> Response:
    response = error(exc.status, exc.code, exc.message)
    response.headers.update(exc.headers)
    return response
