"""Replay a JSON-lines file of stream payloads: a local path or ``s3://bucket/key``.

The file is streamed in chunks, never read whole, so a multi-gigabyte capture
replays in a 512 MB Lambda. ``.gz`` files are decompressed on the fly.

Lines may be raw Twitter payloads (what the live stream sends) or tweetlake
envelopes (what the raw zone of the lake holds, one per line): an envelope is
unwrapped to its ``raw`` payload, so replaying ``raw/`` re-normalizes the
original text with today's code instead of trusting yesterday's mapping.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol, cast

from chalicelib.aws import parse_s3_uri
from chalicelib.ingest.sources.base import LocalSource

CHUNK_BYTES = 256 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def split_lines(stream: Readable, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Lines of a binary stream, split on ``\\n`` only (JSON escapes every other newline)."""
    tail = b""
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            break
        parts = (tail + chunk).split(b"\n")
        tail = parts.pop()
        yield from parts
    if tail:
        yield tail


def unwrap_envelope(line: bytes) -> bytes:
    """An envelope line's ``raw`` payload; any other line unchanged."""
    if b'"schema_version"' not in line or b'"raw"' not in line:
        return line
    try:
        doc = json.loads(line)
    except ValueError:
        return line
    if (
        isinstance(doc, dict)
        and doc.get("kind") in ("tweet", "delete")
        and isinstance(doc.get("raw"), str)
    ):
        raw: str = doc["raw"]
        return raw.encode("utf-8")
    return line


class ReplayFileError(ValueError):
    """The replay file is cut or corrupt: says which file and where it stops."""


class _Counted:
    """A readable that counts the bytes it hands out (to say where a file is cut)."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self.bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self.bytes += len(chunk)
        return chunk


class ReplaySource(LocalSource):
    """A :class:`~chalicelib.ingest.sources.base.Source` over one JSON-lines file."""

    source_api = "replay"

    def __init__(self, uri: str, *, s3_client: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self._uri = uri
        self._s3_client = s3_client

    def _open(self) -> IO[bytes]:
        if self._uri.startswith("s3://"):
            if self._s3_client is None:
                raise ValueError("an s3:// replay needs an S3 client")
            bucket, key = parse_s3_uri(self._uri)
            body: IO[bytes] = self._s3_client().get_object(Bucket=bucket, Key=key)["Body"]
            return body
        return Path(self._uri).open("rb")  # closed in lines()

    def lines(self) -> Iterator[bytes]:
        raw = self._open()
        compressed = _Counted(raw)
        try:
            gz = self._uri.endswith(".gz")
            stream = _Counted(
                gzip.GzipFile(fileobj=cast(IO[bytes], compressed), mode="rb") if gz else raw
            )
            number = 0
            try:
                for line in split_lines(stream):
                    if self._stopped.is_set():
                        return
                    number += 1
                    yield unwrap_envelope(line.rstrip(b"\r"))
            except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                raise ReplayFileError(
                    f"{self._uri} is cut or corrupt ({type(exc).__name__}: {exc}): the"
                    f" gzip stream stops after {compressed.bytes} compressed bytes,"
                    f" {stream.bytes} bytes decompressed; its {number} complete lines"
                    " before that were read, and any partial line after them was not"
                ) from exc
        finally:
            raw.close()
