"""Twitter/X credentials: Secrets Manager on AWS, environment variables locally.

On AWS the ingest function reads one JSON secret whose name is in
``TWEETLAKE_TWITTER_SECRET`` (Terraform creates it empty; the operator puts the
values in, see docs/credentials.md), so tokens never sit in the Lambda
configuration where anyone with ``lambda:GetFunctionConfiguration`` can read
them. Locally, with that variable unset, the same values come from
``TWITTER_BEARER_TOKEN`` and friends.

Every value is wrapped in :class:`Secret`, whose ``repr``/``str`` hide it, so
a log line, a traceback's locals or an f-string cannot leak a token; code
that must send it calls ``reveal()``. Errors name the credential (where it
came from), never its value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.aws import error_code
from chalicelib.config import ConfigError
from chalicelib.ingest.sources.base import SourceRefusedError

SECRET_SETTING = "TWEETLAKE_TWITTER_SECRET"  # noqa: S105 -- the setting's name, not a secret

#: secret JSON key -> environment variable, in the order docs/credentials.md lists them.
FIELDS: dict[str, str] = {
    "bearer_token": "TWITTER_BEARER_TOKEN",
    "consumer_key": "TWITTER_CONSUMER_KEY",
    "consumer_secret": "TWITTER_CONSUMER_SECRET",
    "access_token": "TWITTER_ACCESS_TOKEN",
    "access_token_secret": "TWITTER_ACCESS_TOKEN_SECRET",
}
OAUTH1_FIELDS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


class Secret:
    """A credential value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class CredentialRejectedError(SourceRefusedError):
    """X answered 401/403: the run ends at once; the message names the refused credential."""

    def __init__(self, credential: str, status: int, detail: str = "") -> None:
        self.credential = credential
        self.status = status
        hint = (
            "it is wrong, revoked or regenerated"
            if status == 401
            else "the app or its plan may not be allowed this endpoint"
        )
        super().__init__(
            f"X refused the {credential} with HTTP {status}"
            + (f" ({detail[:200]})" if detail else "")
            + f": {hint}; see docs/credentials.md"
        )


@dataclass(frozen=True)
class TwitterCredentials:
    """Whatever credentials are configured; ``origin`` says where each came from."""

    values: Mapping[str, Secret]
    origin: str

    def describe(self, fields: tuple[str, ...]) -> str:
        """How an error names credentials: secret keys or environment variables, never values."""
        if self.origin == "environment":
            names = ", ".join(FIELDS[f] for f in fields)
            return f"{names} (environment)"
        return f"{', '.join(fields)} in {self.origin}"

    def bearer(self) -> Secret:
        return self._need(("bearer_token",), "the v2 stream, its rules and recent search")[0]

    def oauth1(self) -> tuple[Secret, Secret, Secret, Secret]:
        a, b, c, d = self._need(OAUTH1_FIELDS, "the v1.1 stream (OAuth 1.0a user context)")
        return a, b, c, d

    def _need(self, fields: tuple[str, ...], purpose: str) -> list[Secret]:
        missing = [f for f in fields if f not in self.values]
        if missing:
            where = (
                f"set {', '.join(FIELDS[f] for f in missing)}"
                if self.origin == "environment"
                else f"add the keys {', '.join(missing)} to {self.origin}"
            )
            variable = FIELDS[missing[0]] if self.origin == "environment" else SECRET_SETTING
            raise ConfigError(variable, f"is needed for {purpose}", where)
        return [self.values[f] for f in fields]


def from_mapping(values: Mapping[str, Any], origin: str) -> TwitterCredentials:
    kept = {k: Secret(str(v).strip()) for k, v in values.items() if k in FIELDS and str(v).strip()}
    return TwitterCredentials(values=kept, origin=origin)


def from_environment(env: Mapping[str, str]) -> TwitterCredentials:
    return from_mapping({k: env.get(var, "") for k, var in FIELDS.items()}, "environment")


def from_secrets_manager(
    secret_id: str, get_secret_value: Callable[..., Any]
) -> TwitterCredentials:
    """Read the JSON secret; ``get_secret_value`` is a boto3 client's method (injectable)."""
    origin = f"Secrets Manager secret {secret_id!r}"
    try:
        response = get_secret_value(SecretId=secret_id)
    except Exception as exc:
        code = error_code(exc) or type(exc).__name__
        raise ConfigError(
            SECRET_SETTING,
            f"names a secret that cannot be read ({code})",
            "create it (terraform apply) and give the function secretsmanager:GetSecretValue",
        ) from None
    try:
        values = json.loads(response.get("SecretString") or "")
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise ConfigError(
            SECRET_SETTING,
            f"names a secret that is not a JSON object ({origin})",
            f"store a JSON object with keys among {', '.join(FIELDS)}",
        )
    return from_mapping(values, origin)


def load_credentials(
    env: Mapping[str, str] | None = None,
    secrets_client: Any = None,
) -> TwitterCredentials:
    """Secrets Manager when ``TWEETLAKE_TWITTER_SECRET`` is set, else the environment."""
    env = os.environ if env is None else env
    secret_id = env.get(SECRET_SETTING, "").strip()
    if not secret_id:
        return from_environment(env)
    if secrets_client is None:
        from chalicelib.aws import client
        from chalicelib.config import get_settings

        secrets_client = client("secretsmanager", get_settings().region)
    return from_secrets_manager(secret_id, secrets_client.get_secret_value)
