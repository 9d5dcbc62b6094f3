"""Which routes need a signed caller on a deployed stage, from the stage's setting."""

from __future__ import annotations

import pytest
from chalice import IAMAuthorizer

from chalicelib.api import data_authorizer
from chalicelib.config import ConfigError


@pytest.mark.parametrize("env", [{}, {"TWEETLAKE_API_ACCESS": "iam"}, {"TWEETLAKE_API_ACCESS": ""}])
def test_a_stage_is_private_unless_it_says_otherwise(env: dict[str, str]) -> None:
    assert isinstance(data_authorizer(env), IAMAuthorizer)


def test_public_is_a_choice_written_in_the_stage() -> None:
    assert data_authorizer({"TWEETLAKE_API_ACCESS": "public"}) is None


@pytest.mark.parametrize("value", ["IAM", "open", "none", "api_key"])
def test_an_unknown_mode_fails_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=r"TWEETLAKE_API_ACCESS .*use iam .* or public"):
        data_authorizer({"TWEETLAKE_API_ACCESS": value})


def test_the_app_marks_exactly_the_data_routes_and_health() -> None:
    """Imported outside any stage (as here), the app is private: the default."""
    from app import app

    guarded = {path for path, methods in app.routes.items() if methods["GET"].authorizer}
    assert guarded == {
        "/tweets",
        "/tweets/{tweet_id}",
        "/users/{user_id}",
        "/users/{user_id}/tweets",
        "/health",
    }
