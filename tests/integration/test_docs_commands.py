"""Every command the README and docs/ show is exercised, or said to need AWS.

The commands are pulled out of the fenced blocks (``$ `` prompts, and every
line of ``bash`` blocks). Each must match one rule below: offline commands the
suite can run cheaply are run here (``cost``, ``sql``); the others name the test
that exercises them (the local-mode smoke test, the API tests against the
moto server, the redrive/backfill tests), and that test must exist; commands
that need an AWS account are only checked for the files they name. A command no
rule knows fails the test, so a new snippet in the docs cannot go unchecked.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT
from tests.support.child_clock import child_now
from tests.support.sample import envelope_line, posted, sample_envelopes
from tweetlake_local.firehose import DirSink, StreamRecord, curated_delivery

pytestmark = pytest.mark.integration

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
SHELL_BLOCKS = {"bash", "sh", "shell"}


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


def doc_commands(path: Path) -> list[Command]:
    found: list[Command] = []
    in_block, lang, pending, start = False, "", "", 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fence = FENCE.match(line.strip())
        if fence:
            in_block, lang = (False, "") if in_block else (True, fence.group(1))
            continue
        text = line.strip()
        if not in_block:
            continue
        if text.startswith("$ "):
            command = text[2:]
        elif pending or (lang in SHELL_BLOCKS and text and not text.startswith("#")):
            command = text
        else:
            continue
        if not pending:
            start = number
        if command.endswith("\\"):
            pending += command[:-1] + " "
            continue
        found.append(Command(path.name, start, (pending + command).strip()))
        pending = ""
    return found


ALL_COMMANDS = [c for doc in DOCS for c in doc_commands(doc)]
PY = r"(?:\.venv/bin/)?python3? -m"
COVERED = {
    # pattern → the test file that runs it (or the same code path) for real
    r"^make (run|test|checkov)\b": "tests/integration/test_local_run.py",
    rf"^{PY} tweetlake_local run\b": "tests/integration/test_local_run.py",
    rf"^{PY} tweetlake_local (redrive)\b": "tests/integration/test_redrive.py",
    rf"^{PY} tweetlake_local (backfill)\b": "tests/unit/test_lake_backfill.py",
    rf"^{PY} tweetlake_local purge\b": "tests/integration/test_purge.py",
    rf"^(TWITTER_BEARER_TOKEN=\S+ )?{PY} tweetlake_local compliance\b": (
        "tests/integration/test_compliance.py"
    ),
    rf"^{PY} tweetlake_ops\.chalice_config\b": "tests/unit/test_chalice_config.py",
    r"^curl -s '?http://127\.0\.0\.1:8000/": "tests/integration/test_api_routes.py",
    r"^(ls|jq) (-\w+ )?(\S+ )?\.tweetlake/lake/quarantine/": "tests/integration/test_local_run.py",
}
AWS_ONLY = (
    r"^(cd terraform|cd \.\.|terraform\b|aws\b|for kind in|done$|grep -q|export\b)",
    r"^(AWS_DEFAULT_REGION=\S+ )?\.venv/bin/chalice (deploy|delete)\b",
    r"^curl https://<id>\.execute-api\.",
    r"^awscurl --service execute-api\b",
    rf"^{PY} tweetlake_local (redrive|backfill) s3://\$BUCKET",
)


LOCAL_ENDPOINT = "--aws-endpoint http://127.0.0.1:4566"


def classify(command: Command) -> str:
    text = command.text
    if re.match(rf"^{PY} tweetlake_local (cost|sql)\b", text):
        return "run"
    if LOCAL_ENDPOINT in text and re.match(rf"^{PY} tweetlake_local (backfill|redrive)\b", text):
        return "live"  # against a running local mode: test_hints_run_as_printed
    if re.match(rf"^{PY} bench\.", text):
        return "bench"
    if re.match(rf"^{PY} pytest\b", text):
        return "pytest"
    for pattern in AWS_ONLY:
        if re.match(pattern, text):
            return "aws"
    for pattern, test_file in COVERED.items():
        if re.match(pattern, text):
            return f"covered:{test_file}"
    return "unknown"


def test_docs_show_commands() -> None:
    assert len(ALL_COMMANDS) > 40
    assert any("tweetlake_local sql" in c.text for c in ALL_COMMANDS)


def test_every_documented_command_has_a_rule() -> None:
    unknown = [str(c) for c in ALL_COMMANDS if classify(c) == "unknown"]
    assert unknown == [], "add a rule (run it, name its test, or mark it AWS-only)"


def test_covering_tests_exist_and_make_targets_exist() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    for command in ALL_COMMANDS:
        kind = classify(command)
        if kind.startswith("covered:"):
            assert (REPO_ROOT / kind.split(":", 1)[1]).exists(), str(command)
        target = re.match(r"^make (\w+)", command.text)
        if target:
            assert re.search(rf"^{target.group(1)}:", makefile, re.M), str(command)


def test_benchmarks_and_pytest_paths_named_in_docs_exist() -> None:
    for command in ALL_COMMANDS:
        kind = classify(command)
        if kind == "bench":
            for module in re.findall(r"-m bench\.(\w+)", command.text):
                assert (REPO_ROOT / "bench" / f"{module}.py").exists(), str(command)
        if kind == "pytest":
            for word in shlex.split(command.text):
                if word.startswith("tests/"):
                    assert (REPO_ROOT / word.split("::")[0]).exists(), str(command)


def test_terraform_var_files_named_in_docs_exist() -> None:
    for command in ALL_COMMANDS:
        for var_file in re.findall(r"-var-file=(\S+)", command.text):
            if "$" not in var_file:
                assert (REPO_ROOT / "terraform" / var_file).exists(), str(command)


def test_documented_local_api_paths_are_routes_of_the_openapi_document() -> None:
    spec = json.loads((REPO_ROOT / "chalicelib" / "api" / "openapi.json").read_text())
    patterns = [
        re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", path) + "$") for path in spec["paths"]
    ]
    for command in ALL_COMMANDS:
        match = re.search(r"http://127\.0\.0\.1:8000(/[^'\s?]*)", command.text)
        if match:
            assert any(p.match(match.group(1)) for p in patterns), str(command)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("docs-lake")
    delivery = curated_delivery([DirSink(path)], buffer_bytes=1_000_000, clock=lambda: 0.0)
    now = child_now()  # the `sql` commands run as children, on the real clock
    delivery.put(
        StreamRecord(
            envelope_line(envelope),
            "shardId-docs",
            str(i),
            now,
        )
        for i, envelope in enumerate(posted(sample_envelopes(200, seed=3), now))
    )
    delivery.close()
    return path


RUNNABLE = [c for c in ALL_COMMANDS if classify(c) == "run"]


@pytest.mark.parametrize("command", RUNNABLE, ids=[f"{c.doc}:{c.line}" for c in RUNNABLE])
def test_offline_commands_run(command: Command, lake: Path) -> None:
    argv = shlex.split(command.text)
    module_at = argv.index("-m")
    args = [sys.executable, *argv[module_at:]]
    if "sql" in args:
        args += ["--lake", str(lake)]
    result = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{command}\n{result.stdout[-800:]}\n{result.stderr[-800:]}"
    assert result.stdout.strip(), str(command)


# --- the banner's hints and the commands that need a running local mode -----------------

#: A new shell: no virtualenv on the PATH, nothing of this process's environment.
FRESH_SHELL = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(Path.home()), "LANG": "C.UTF-8"}
BANNER_ROW = re.compile(r"^(.{21}): (.*)$")


def banner_hints(lines: list[str]) -> list[str]:
    """The commands the banner (the panel's head) suggests, as printed: what follows
    ``try:`` and the row of example requests under the API's address."""
    hints: list[str] = []
    for line in lines:
        row = BANNER_ROW.match(line)
        if row is None:
            break  # the banner ends at the first line that is not a row
        name, value = row.group(1).strip(), row.group(2)
        if "try: " in value:
            hints += re.split(r" {3,}", value.split("try: ", 1)[1].strip())
        elif not name:
            hints += re.split(r" {3,}", value.strip())
    return hints


def in_fresh_shell(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=REPO_ROOT,
        env=FRESH_SHELL,
        capture_output=True,
        text=True,
        timeout=120,
    )


LIVE = [c for c in ALL_COMMANDS if classify(c) == "live"]


@pytest.mark.slow
def test_hints_run_as_printed(tmp_path: Path) -> None:
    """GIVEN a local mode serving its API after a bounded load WHEN each command its
    banner suggests is pasted into a new shell in the repository (no virtualenv
    active), and each documented command that needs a running local mode is run
    THEN each succeeds and prints an answer (curl: JSON without an error)."""
    from tests.integration.test_local_run import start_local

    home = tmp_path / "home"
    run = start_local(home, "--tweets", "200", "--until-drained", "--serve")
    try:
        run.wait_for(
            lambda: any(x.startswith("serving the API") for x in run.lines), 180, "--serve"
        )
        hints = banner_hints(run.lines)
        assert len(hints) == 4, run.output  # health, a page of tweets, one tweet, sql
        page = json.loads(in_fresh_shell(next(h for h in hints if "limit=" in h)).stdout)
        tweet_id = page["items"][0]["tweet_id"]
        for hint in hints:
            result = in_fresh_shell(hint.replace("<tweet_id>", tweet_id))
            output = f"{result.stdout[-800:]}\n{result.stderr[-800:]}"
            assert result.returncode == 0, f"{hint}\n{output}"
            assert result.stdout.strip(), hint
            if hint.startswith("curl "):
                assert "error" not in json.loads(result.stdout), f"{hint}: {result.stdout}"
        for command in LIVE:
            text = command.text.replace("127.0.0.1:4566", f"127.0.0.1:{run.aws_port}")
            text = text.replace(".tweetlake/lake", str(home / "lake"))
            # Docs say `python` for the virtualenv's; the README spells it out.
            text = re.sub(r"^python3? ", f"{sys.executable} ", text)
            result = in_fresh_shell(text)
            assert result.returncode == 0, (
                f"{command}\n{result.stdout[-800:]}\n{result.stderr[-800:]}"
            )
            assert result.stdout.strip(), str(command)
    finally:
        run.proc.send_signal(signal.SIGINT)
        run.finish(120)
