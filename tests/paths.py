"""Where test data lives.

``SHARED_TWITTER`` holds real public API payloads kept beside the repository
(``../shared/fixtures/twitter``); tests read them in place and skip with a
reason on a fresh clone that lacks them. ``OWN_TWITTER`` holds the project's
own fixtures, written from the documented formats, which cover the same cases.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
OWN_TWITTER = REPO_ROOT / "tests" / "fixtures" / "twitter"
SHARED_TWITTER = Path(
    os.environ.get(
        "TWEETLAKE_SHARED_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures" / "twitter"
    )
)


def shared_fixture(name: str) -> Path:
    """Path of a shared fixture, or skip the test saying why it is absent."""
    path = SHARED_TWITTER / name
    if not path.exists():
        pytest.skip(
            f"shared fixture {name} not found under {SHARED_TWITTER}"
            " (a fresh clone without ../shared)"
        )
    return path


def shared_lines(name: str) -> list[str]:
    """A shared fixture as lines: JSON-lines files split, single documents whole."""
    text = shared_fixture(name).read_text(encoding="utf-8")
    return text.splitlines() if name.endswith(".jsonl") else [text]


def own_lines(name: str) -> list[str]:
    text = (OWN_TWITTER / name).read_text(encoding="utf-8")
    return text.splitlines() if name.endswith(".jsonl") else [text]


OWN_BLUESKY = REPO_ROOT / "tests" / "fixtures" / "bluesky"


def bluesky_lines(name: str = "jetstream_events.jsonl") -> list[str]:
    """An own Jetstream fixture: one frame per line, as the websocket sends them."""
    return (OWN_BLUESKY / name).read_text(encoding="utf-8").splitlines()
