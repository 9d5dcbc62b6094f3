"""Logic behind the read-only REST routes (the full set arrives with issue 6).

Views return ``chalice.Response`` objects with a JSON body; every error body
is ``{"error": <code>, "message": <what to fix>}``.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib import aws
from chalicelib.config import ConfigError, get_settings


def error(status: int, code: str, message: str) -> Response:
    return Response(
        body={"error": code, "message": message},
        status_code=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


def health() -> Response:
    """200 when the tweets table answers, 503 with the reason otherwise."""
    try:
        settings = get_settings()
    except ConfigError as exc:
        return error(503, "misconfigured", str(exc))
    try:
        table = aws.client("dynamodb", settings.region).describe_table(
            TableName=settings.tweets_table
        )["Table"]
    except Exception as exc:  # any failure to reach the table is the answer itself
        return error(503, "unavailable", f"tweets table unreachable: {type(exc).__name__}: {exc}")
    body: dict[str, Any] = {
        "status": "ok",
        "stage": settings.stage,
        "tweets_table": table["TableName"],
        "table_status": table.get("TableStatus"),
    }
    return Response(body=body, status_code=200, headers={"Cache-Control": "no-store"})
