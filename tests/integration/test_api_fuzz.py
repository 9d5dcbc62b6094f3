"""The API served by ``chalice local``'s server on 127.0.0.1, probed over real HTTP.

schemathesis reads ``/openapi.json`` from the running app and generates
requests from it (examples, coverage, fuzzing, stateful phases, bounded in
``schemathesis.toml``): no response may be a 5xx or break the document. The
app reads a dedicated moto server seeded with fixture tweets, so the session's
shared server (reset before every test) cannot pull data from under it. The
API runs as the local mode runs it (:class:`ChaliceLocal`): it binds a port the
OS picks and says which, so no port is chosen here and handed over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.aws import reset_clients
from chalicelib.config import load_settings
from tests.integration.api_support import base_envelopes, seed, synthetic_envelopes
from tweetlake_local.api_server import ChaliceLocal
from tweetlake_local.emulator import MotoServer, aws_environment
from tweetlake_local.resources import create_resources
from tweetlake_local.stage import stage_environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMATHESIS_CONFIG = Path(__file__).with_name("schemathesis.toml")
BIN = Path(sys.executable).parent


def _request(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def served_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``chalice local`` over a seeded moto server; yields the base URL."""
    server = MotoServer().start()
    env = {**os.environ, **stage_environment("dev"), **aws_environment(server.endpoint)}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        reset_clients()
        settings = load_settings(env)
        create_resources(settings)
        start = datetime(2026, 11, 20, tzinfo=UTC)
        seed(settings, base_envelopes() + synthetic_envelopes(60, start, timedelta(minutes=17)))
    reset_clients()
    # Its log (every request) goes to a file, not a pipe nobody drains; it never
    # autoreloads (a restart on a file change would drop the fuzzer's connections).
    log_path = tmp_path_factory.mktemp("chalice-local") / "api.log"
    api = ChaliceLocal(0, "dev", env, log_path).start()
    try:
        if not api.wait_ready(timeout_s=30):
            pytest.fail(f"chalice local did not come up: {api.log_tail(2000)}")
        yield api.url
    finally:
        api.stop()
        server.stop()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    served_api: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [
            str(BIN / "schemathesis"),
            *("--config-file", str(SCHEMATHESIS_CONFIG)),
            *("run", f"{served_api}/openapi.json", "--no-color"),
        ],
        cwd=tmp_path,  # keeps schemathesis' own cache files out of the repository
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
    assert "6 selected / 6 total" in result.stdout


def test_preflight_write_methods_and_unknown_paths_over_http(served_api: str) -> None:
    """What a browser and a client sending writes get from the local server."""
    status, headers, body = _request(f"{served_api}/tweets", method="OPTIONS")
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        status, headers, body = _request(f"{served_api}/tweets/1", method=method)
        assert status == 405, method
        assert headers["Allow"] == "GET"
        assert json.loads(body)["Code"] == "MethodNotAllowedError"
    status, _, body = _request(f"{served_api}/nothing/here")
    assert status == 403
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    status, headers, body = _request(f"{served_api}/tweets?limit=3")
    assert status == 200 and json.loads(body)["count"] == 3
