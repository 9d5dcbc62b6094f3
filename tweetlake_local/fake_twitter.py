"""A loopback stand-in for X's streaming and REST endpoints, misbehaving on command.

Tests and ``python -m bench.stream`` start it on 127.0.0.1 (free port) and
point a live source's base URL at it. It speaks the real wire protocol (HTTP/1.1,
chunked transfer encoding, ``\\r\\n``-terminated JSON lines, ``\\r\\n``
keep-alives) so the sources run unmodified over real sockets.

Each stream connection plays the next *script* queued for its path: a list
of actions such as :func:`lines`, :func:`keepalive`, :func:`drop`,
:func:`stall`, :func:`status` and :func:`end`. With no script left, a
connection is held open and silent (a stall) until the server stops. The v2
rules endpoint keeps a rule set (rejecting values that contain ``INVALID``),
recent search serves :attr:`FakeTwitter.tweets`, and every request is
recorded in :attr:`FakeTwitter.requests`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

V2_FILTER = "/2/tweets/search/stream"
V2_SAMPLE = "/2/tweets/sample/stream"
V2_RULES = "/2/tweets/search/stream/rules"
V2_SEARCH = "/2/tweets/search/recent"
V1_FILTER = "/1.1/statuses/filter.json"
STREAM_PATHS = (V2_FILTER, V2_SAMPLE, V1_FILTER)

Action = tuple[str, Any]


# --- script actions ---------------------------------------------------------------------


def _b(item: bytes | str | dict[str, Any]) -> bytes:
    if isinstance(item, dict):
        return json.dumps(item, separators=(",", ":")).encode()
    return item.encode() if isinstance(item, str) else item


def lines(*payloads: bytes | str | dict[str, Any]) -> Action:
    """Each payload as its own chunk, ``\\r\\n``-terminated."""
    return ("chunks", [_b(p) + b"\r\n" for p in payloads])


def chunks(*raw: bytes) -> Action:
    """Chunks exactly as given (lines split or joined at will)."""
    return ("chunks", list(raw))


def keepalive(count: int = 1) -> Action:
    return ("chunks", [b"\r\n"] * count)


def drop(partial: bytes | str) -> Action:
    """Send part of a line, then cut the connection without ending the body."""
    return ("drop", _b(partial))


def stall(seconds: float) -> Action:
    """Send nothing for ``seconds`` (or until the server stops)."""
    return ("stall", seconds)


def status(code: int, body: dict[str, Any] | None = None, **headers: str) -> Action:
    """Answer the connection with ``code`` (first action of a script)."""
    return ("status", (code, body or {"title": f"HTTP {code}"}, headers))


def end() -> Action:
    """End the chunked body properly; the server closes the connection."""
    return ("end", None)


def repeat(line: bytes, count: int, per_chunk: int = 64) -> Action:
    """``count`` copies of ``line`` in chunks of ``per_chunk`` lines (throughput runs)."""
    return ("repeat", (_b(line) + b"\r\n", count, per_chunk))


def blob(data: bytes, times: int = 1, chunk_size: int = 64 * 1024) -> Action:
    """``data`` (many lines) ``times`` over, in chunks of ``chunk_size`` bytes."""
    return ("blob", (data, times, chunk_size))


def operational_disconnect() -> Action:
    return lines(
        {
            "errors": [
                {
                    "title": "operational-disconnect",
                    "disconnect_type": "UpstreamOperationalDisconnect",
                    "detail": "This stream has been disconnected upstream for operational reasons.",
                    "type": "https://api.twitter.com/2/problems/operational-disconnect",
                }
            ]
        }
    )


# --- the server -------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeTwitter:
    """The server's state; start with :meth:`start` (or as a context manager)."""

    bearer: str = "test-bearer"
    consumer_key: str = "test-consumer-key"
    tweets: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    reject_rule: Callable[[str], str | None] = lambda v: (
        "Invalid rule syntax (INVALID)" if "INVALID" in v else None
    )
    requests: list[Recorded] = field(default_factory=list)
    rules: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._scripts: dict[str, deque[list[Action]]] = {p: deque() for p in STREAM_PATHS}
        self._rest_failures: dict[str, deque[Action]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._next_rule_id = 1_900_000_000_000_000_000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control --------------------------------------------------------------------

    def script(self, path: str, *actions: Action) -> FakeTwitter:
        """Queue what the next connection to ``path`` plays."""
        self._scripts[path].append(list(actions))
        return self

    def fail_next(self, path: str, action: Action) -> FakeTwitter:
        """The next REST call to ``path`` answers with this :func:`status` instead."""
        self._rest_failures.setdefault(path, deque()).append(action)
        return self

    def add_tweet(self, tweet_id: int, text: str, author_id: str = "1800000000000000001") -> None:
        """A tweet recent search can find (its author is added to ``users``)."""
        self.tweets.append(
            {
                "id": str(tweet_id),
                "text": text,
                "author_id": author_id,
                "created_at": "2026-11-24T06:00:00.000Z",
                "lang": "en",
            }
        )
        self.users.setdefault(author_id, {"id": author_id, "username": f"u{author_id[-4:]}"})

    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("start() the server first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwitter:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeTwitter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour (called from handler threads) -------------------------------------

    def _next_script(self, path: str) -> list[Action] | None:
        with self._lock:
            queue = self._scripts.get(path)
            return queue.popleft() if queue else None

    def _rest_failure(self, path: str) -> Action | None:
        with self._lock:
            queue = self._rest_failures.get(path)
            return queue.popleft() if queue else None

    def _authorized(self, path: str, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if path == V1_FILTER:
            return auth.startswith("OAuth ") and f'oauth_consumer_key="{self.consumer_key}"' in auth
        return auth == f"Bearer {self.bearer}"

    def _rules_get(self) -> dict[str, Any]:
        data = [{"id": i, **r} for i, r in self.rules.items()]
        meta = {"sent": "2026-11-24T06:00:00.000Z", "result_count": len(data)}
        return {"data": data, "meta": meta} if data else {"meta": meta}

    def _rules_post(self, body: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        now = "2026-11-24T06:00:00.000Z"
        if "delete" in body:
            ids = [str(i) for i in body["delete"].get("ids", [])]
            deleted = [i for i in ids if self.rules.pop(i, None) is not None]
            summary = {"deleted": len(deleted), "not_deleted": len(ids) - len(deleted)}
            return {"meta": {"sent": now, "summary": summary}}
        created, errors = [], []
        values = {r["value"] for r in self.rules.values()}
        for rule in body.get("add", []):
            reason = self.reject_rule(rule["value"])
            if reason is None and rule["value"] in values:
                reason = "DuplicateRule"
            if reason:
                errors.append(
                    {"value": rule["value"], "details": [reason], "title": "Invalid Rule"}
                )
                continue
            self._next_rule_id += 1
            new = {"id": str(self._next_rule_id), "value": rule["value"]}
            if rule.get("tag"):
                new["tag"] = rule["tag"]
            created.append(new)
        if not dry_run:
            for new in created:
                self.rules[new["id"]] = {k: v for k, v in new.items() if k != "id"}
        summary = {
            "created": 0 if dry_run else len(created),
            "not_created": len(errors),
            "valid": len(created),
            "invalid": len(errors),
        }
        out: dict[str, Any] = {"meta": {"sent": now, "summary": summary}}
        if created:
            out["data"] = created
        if errors:
            out["errors"] = errors
        return out

    def _search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        q = query.get("query", [""])[0]
        since = int(query.get("since_id", ["0"])[0])
        size = int(query.get("max_results", ["10"])[0])
        offset = int(query.get("next_token", ["0"])[0])
        word = q.split()[0].lower() if q.split() else ""
        hits = sorted(
            (t for t in self.tweets if int(t["id"]) > since and word in t["text"].lower()),
            key=lambda t: int(t["id"]),
            reverse=True,
        )
        page = hits[offset : offset + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0]["id"], page[-1]["id"]
        if offset + size < len(hits):
            meta["next_token"] = str(offset + size)
        out: dict[str, Any] = {"meta": meta}
        if page:
            out["data"] = page
            authors = {t["author_id"] for t in page}
            out["includes"] = {"users": [self.users[a] for a in authors if a in self.users]}
        return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeTwitter

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :attr:`FakeTwitter.requests` instead."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    # --- dispatch ---------------------------------------------------------------------

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = Recorded(
            self.command, parts.path, parse_qs(parts.query), headers, body, time.monotonic()
        )
        fake = self.fake
        with fake._lock:
            fake.requests.append(record)
        if not fake._authorized(parts.path, headers):
            self._json(401, {"title": "Unauthorized", "type": "about:blank", "status": 401})
            return
        if parts.path in STREAM_PATHS:
            self._stream(fake._next_script(parts.path) or [stall(3600)])
            return
        failure = fake._rest_failure(parts.path)
        if failure is not None:
            code, payload, extra = failure[1]
            self._json(code, payload, extra)
            return
        if parts.path == V2_RULES and self.command == "GET":
            self._json(200, fake._rules_get())
        elif parts.path == V2_RULES:
            dry_run = record.param("dry_run") == "true"
            with fake._lock:
                answer = fake._rules_post(json.loads(body or b"{}"), dry_run)
            self._json(200, answer)
        elif parts.path == V2_SEARCH:
            self._json(200, fake._search(record.query))
        else:
            self._json(404, {"title": "Not Found"})

    def _json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    # --- streaming ----------------------------------------------------------------------

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _stream(self, script: list[Action]) -> None:
        if script and script[0][0] == "status":
            code, payload, extra = script[0][1]
            self._json(code, payload, extra)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")  # a stream's socket is never reused
        self.end_headers()
        try:
            for kind, arg in script:
                if not self._play(kind, arg):
                    return
            self._play("stall", 3600.0)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (reconnect, stop): nothing to clean up
        self.close_connection = True

    def _play(self, kind: str, arg: Any) -> bool:
        """One action; False when the connection is finished."""
        if kind == "chunks":
            for data in arg:
                self._chunk(data)
        elif kind == "repeat":
            line, count, per_chunk = arg
            block = line * per_chunk
            for _ in range(count // per_chunk):
                self._chunk(block)
            if count % per_chunk:
                self._chunk(line * (count % per_chunk))
        elif kind == "blob":
            data, times, size = arg
            pieces = [data[i : i + size] for i in range(0, len(data), size)]
            for _ in range(times):
                for piece in pieces:
                    self._chunk(piece)
        elif kind == "stall":
            self.fake._stop.wait(arg)
            return not self.fake._stop.is_set()
        elif kind == "drop":
            if arg:  # an empty chunk would be the terminating one: a clean end, not a cut
                self._chunk(arg)
            self.close_connection = True
            self.connection.shutdown(2)  # socket.SHUT_RDWR: cut, no terminating chunk
            return False
        elif kind == "end":
            self.wfile.write(b"0\r\n\r\n")
            self.close_connection = True
            return False
        return True


def script_lines(path_lines: Iterable[str]) -> Action:
    """Convenience: fixture lines (already JSON text) as one :func:`lines` action."""
    return lines(*[line for line in path_lines if line.strip()])
