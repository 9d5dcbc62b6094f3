"""boto3 clients, built on first use and reused across warm invocations.

Clients are never created at import: the moto server (tests, local mode) must
be running and ``AWS_ENDPOINT_URL`` set before the first client is built. The
cache key includes the endpoint so a test that points boto3 somewhere else gets
a fresh client rather than a stale one.
"""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[tuple[str, str, str | None], Any] = {}


def client(service: str, region: str) -> Any:
    """A cached boto3 client for ``service`` in ``region``."""
    key = (service, region, os.environ.get("AWS_ENDPOINT_URL"))
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            import boto3
            from botocore.config import Config

            config = Config(
                connect_timeout=5,
                read_timeout=20,
                retries={"mode": "standard", "max_attempts": 3},
            )
            found = _clients[key] = boto3.session.Session().client(
                service, region_name=region, config=config
            )
    return found


# AWS error codes that mean "slow down / try again", not "your request is wrong"
# (DynamoDB's and Kinesis's; botocore's own retries have run before one reaches us).
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "InternalServerError",
        "InternalFailure",
        "InternalFailureException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSThrottlingException",
    }
)


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (None for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def is_transient(exc: BaseException) -> bool:
    """Throttling and unavailability errors, and lost connections, are worth a retry."""
    if error_code(exc) in RETRYABLE_ERROR_CODES:
        return True
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

    return isinstance(exc, ConnectionClosedError | EndpointConnectionError | ReadTimeoutError)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key-or-prefix`` → ``(bucket, key)``, the key possibly empty.

    Raises ValueError (saying what is wrong) for anything else, so each caller
    can word its own error with the fix that applies there.
    """
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"an s3:// URI needs a bucket: {uri!r}")
    return bucket, key


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``; raises ValueError when malformed."""
    bucket, key = split_s3_uri(uri)
    if not key:
        raise ValueError(f"an s3:// URI needs a bucket and a key: {uri!r}")
    return bucket, key


def reset_clients() -> None:
    """Forget every cached client (tests that switch endpoints or credentials)."""
    with _lock:
        _clients.clear()
