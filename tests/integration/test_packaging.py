"""The Lambda package stays lean: what it holds, and what importing ``app`` costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

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
    # The consumer's compiled decoders, as Linux extension modules Lambda can load.
    for module in ("msgspec", "pybase64"):
        assert any(n.startswith(f"{module}/") and "x86_64-linux-gnu.so" in n for n in names)
    assert not {t for t in tops if t.split("-")[0].lower() in HEAVY}
    assert not {"tweetlake_local", "tweetlake_ops", "tests", "bench"} & tops
    # The Lambda runtime provides boto3; bundling it would add about 17 MB.
    assert not {"boto3", "botocore"} & tops
    assert archive.stat().st_size < 2 * 1024 * 1024
    assert (tmp_path / "out" / "chalice.tf.json").exists()
