"""The replay source streams a JSON-lines file, line by line, and unwraps envelopes."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from chalicelib.aws import parse_s3_uri
from chalicelib.envelope.normalize import normalize_line
from chalicelib.ingest.sources.replay import (
    ReplaySource,
    split_lines,
    unwrap_envelope,
)
from tests.paths import OWN_TWITTER, own_lines


def test_lines_split_across_chunk_boundaries() -> None:
    data = b'{"a":1}\r\n\n{"b":"\xc3\xa9"}\n{"c":3}'
    assert list(split_lines(io.BytesIO(data), chunk_bytes=3)) == [
        b'{"a":1}\r',
        b"",
        b'{"b":"\xc3\xa9"}',
        b'{"c":3}',
    ]


def test_replays_a_local_file_with_its_keep_alives(tmp_path: Path) -> None:
    source = ReplaySource(str(OWN_TWITTER / "v2_stream.jsonl"))
    lines = list(source.lines())
    assert len(lines) == len(own_lines("v2_stream.jsonl"))
    assert all(not line.endswith(b"\r") for line in lines)
    kinds = [item.kind for line in lines for item in normalize_line(line)]
    assert "tweet" in kinds and "control" in kinds


def test_gzip_files_are_decompressed_on_the_fly(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl.gz"
    text = (OWN_TWITTER / "v1_statuses.jsonl").read_bytes()
    path.write_bytes(gzip.compress(text))
    assert list(ReplaySource(str(path)).lines()) == text.rstrip(b"\n").split(b"\n")


def test_an_envelope_line_replays_its_raw_payload() -> None:
    raw = own_lines("v1_statuses.jsonl")[0]
    (item,) = normalize_line(raw)
    assert item.envelope is not None
    line = json.dumps(item.envelope, ensure_ascii=False).encode()
    assert unwrap_envelope(line) == raw.encode()
    assert unwrap_envelope(b'{"schema_version":1,"raw":') == b'{"schema_version":1,"raw":'


def test_stop_ends_the_replay(tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(own_lines("v1_statuses.jsonl") * 50))
    source = ReplaySource(str(path))
    got = 0
    for _ in source.lines():
        got += 1
        if got == 3:
            source.stop()
    assert got == 3


def test_s3_uris_are_checked() -> None:
    assert parse_s3_uri("s3://b/k/x.jsonl") == ("b", "k/x.jsonl")
    for bad in ("s3://b", "s3:///k", "/local"):
        with pytest.raises(ValueError):
            parse_s3_uri(bad)
    with pytest.raises(ValueError, match="needs an S3 client"):
        list(ReplaySource("s3://b/k").lines())
