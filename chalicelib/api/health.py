"""``GET /health``: is the tweets table reachable with this deployment's settings?

200 with the table's status, or 503 with the reason (misconfiguration or the
table unreachable), so a load balancer or a person learns what is wrong from
the body. Never cached.
"""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib import aws
from chalicelib.api.errors import error, json_response
from chalicelib.config import ConfigError, get_settings


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
        "tweets_table": str(table["TableName"]),
        "table_status": str(table.get("TableStatus", "UNKNOWN")),
    }
    return json_response(body)
