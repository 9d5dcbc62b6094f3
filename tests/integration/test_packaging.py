"""The Lambda package stays lean: what it holds, and what importing ``app`` costs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.paths import REPO_ROOT
from tests.support.terraform_outputs import terraform_outputs
from tweetlake_ops import chalice_config

pytestmark = pytest.mark.integration

HEAVY = ("pyarrow", "moto", "duckdb", "pandas", "pytest", "sqlglot", "numpy")


def test_importing_app_pulls_in_no_heavy_module() -> None:
    code = (
        "import json, sys; import app; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


def test_the_consumers_decoder_loads_with_the_first_batch_not_with_app() -> None:
    """msgspec (~9 ms of import) is the consumer's alone: the API's cold start skips it."""
    code = (
        "import sys; import app; print('msgspec' in sys.modules); "
        "from chalicelib.envelope.codec import decode_valid; decode_valid(b'{}'); "
        "print('msgspec' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True"]


def test_requirements_txt_lists_nothing_heavy() -> None:
    names = [
        line.split("==")[0].strip().lower()
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not set(names) & set(HEAVY)


@pytest.mark.slow
def test_chalice_package_builds_a_lean_zip(tmp_path: Path) -> None:
    chalice = Path(sys.executable).with_name("chalice")
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [str(chalice), "package", "--pkg-format", "terraform", str(tmp_path / "out")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    archive = tmp_path / "out" / "deployment.zip"
    names = zipfile.ZipFile(archive).namelist()
    tops = {name.split("/")[0] for name in names}
    assert "app.py" in tops
    assert "chalicelib" in tops
    assert "twython" in tops
    # The functions run on arm64 (.chalice/config.json): the consumer's compiled decoders
    # are aarch64 Linux extension modules (manylinux wheels), and no x86_64 one slipped in.
    for module in ("msgspec", "pybase64"):
        assert any(n.startswith(f"{module}/") and "aarch64-linux-gnu.so" in n for n in names)
    assert not [n for n in names if n.endswith(".so") and "x86_64" in n]
    functions = json.loads((tmp_path / "out" / "chalice.tf.json").read_text())["resource"][
        "aws_lambda_function"
    ]
    assert {f["architectures"][0] for f in functions.values()} == {"arm64"}
    assert not {t for t in tops if t.split("-")[0].lower() in HEAVY}
    assert not {"tweetlake_local", "tweetlake_ops", "tests", "bench"} & tops
    # The Lambda runtime provides boto3; bundling it would add about 17 MB.
    assert not {"boto3", "botocore"} & tops
    assert archive.stat().st_size < 2 * 1024 * 1024
    assert (tmp_path / "out" / "chalice.tf.json").exists()


DATA_ROUTES = ("/tweets", "/tweets/{tweet_id}", "/users/{user_id}", "/users/{user_id}/tweets")
OPEN_ROUTES = ("/openapi.json", "/docs")


def _package_stage(tmp_path: Path, stage: str, access: str | None) -> dict[str, Any]:
    """``chalice package --stage`` of a copy of the app whose ``stage`` the bridge wrote
    from Terraform-shaped outputs (as an operator deploys it); its chalice.tf.json."""
    project = tmp_path / stage / "project"
    (project / ".chalice").mkdir(parents=True)
    for name in ("app.py", "requirements.txt"):
        shutil.copy(REPO_ROOT / name, project / name)
    shutil.copy(REPO_ROOT / ".chalice" / "config.json", project / ".chalice" / "config.json")
    shutil.copytree(REPO_ROOT / "chalicelib", project / "chalicelib")
    config_path = project / ".chalice" / "config.json"
    if access is not None:
        config = json.loads(config_path.read_text())
        config["stages"][stage] = {"environment_variables": {"TWEETLAKE_API_ACCESS": access}}
        config_path.write_text(json.dumps(config))
    outputs = tmp_path / stage / "outputs.json"
    outputs.write_text(json.dumps(terraform_outputs(stage)))
    bridge = ["--stage", stage, "--tf-output", str(outputs), "--config", str(config_path)]
    assert chalice_config.main(bridge) == 0
    chalice = Path(sys.executable).with_name("chalice")
    out = tmp_path / stage / "out"
    result = subprocess.run(
        [str(chalice), "package", "--stage", stage, "--pkg-format", "terraform", str(out)],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    document: dict[str, Any] = json.loads((out / "chalice.tf.json").read_text())
    return document


def _swagger(package: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI body of the REST API (Chalice puts it in a local the API's body names)."""
    api = package["resource"]["aws_api_gateway_rest_api"]["rest_api"]
    assert api["body"] == "${local.chalice_api_swagger}"
    body: dict[str, Any] = json.loads(package["locals"]["chalice_api_swagger"])
    return body


def _sigv4_scheme(swagger: dict[str, Any]) -> str:
    schemes = swagger.get("securityDefinitions", {})
    (name,) = [n for n, s in schemes.items() if s.get("x-amazon-apigateway-authtype") == "awsSigv4"]
    return name


@pytest.fixture(scope="module")
def prod_package(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _package_stage(tmp_path_factory.mktemp("prod"), "prod", access=None)


@pytest.mark.slow
def test_prod_data_routes_need_a_sigv4_caller(prod_package: dict[str, Any]) -> None:
    swagger = _swagger(prod_package)
    scheme = _sigv4_scheme(swagger)
    paths = swagger["paths"]
    assert set(DATA_ROUTES) | {"/health"} | set(OPEN_ROUTES) <= set(paths)
    for path in (*DATA_ROUTES, "/health"):
        assert paths[path]["get"].get("security") == [{scheme: []}], path
    for path in OPEN_ROUTES:
        assert "security" not in paths[path]["get"], path
    for path, methods in paths.items():
        assert set(methods) <= {"get", "options"}, path
        assert path in OPEN_ROUTES or "security" in methods["get"], f"{path} is open"


@pytest.mark.slow
def test_prod_api_function_has_its_reserved_concurrency(prod_package: dict[str, Any]) -> None:
    functions = prod_package["resource"]["aws_lambda_function"]
    config = json.loads((REPO_ROOT / ".chalice" / "config.json").read_text())
    expected = config["stages"]["dev"]["lambda_functions"]["api_handler"]["reserved_concurrency"]
    assert functions["api_handler"]["reserved_concurrent_executions"] == expected
    assert 1 <= expected <= 10


@pytest.mark.slow
def test_a_stage_made_public_on_purpose_packages_open_routes(tmp_path: Path) -> None:
    swagger = _swagger(_package_stage(tmp_path, "demo", access="public"))
    for path in (*DATA_ROUTES, "/health"):
        assert "security" not in swagger["paths"][path]["get"], path
