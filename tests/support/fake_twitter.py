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

Pay-per-use endpoints, in X's documented shapes: ``GET /2/connections`` lists
:attr:`FakeTwitter.connections` (``endpoint_name``, ``connected_at``, and once
closed ``disconnected_at`` and ``disconnect_reason``); ``DELETE
/2/connections/all`` closes the open ones and answers ``{"data":
{"successful_kills", "failed_kills", "results"}}``. While
:attr:`FakeTwitter.stream_limit` connections are open there, a stream request
is answered like X's: HTTP 429 with the ``TooManyConnections`` problem
(:data:`TOO_MANY_CONNECTIONS`, the shared fixture's body). ``GET
/2/usage/tweets`` answers ``{"data": {"project_usage": "…", "project_cap":
"…", "cap_reset_day": …, "project_id": "…"}}`` from
:attr:`FakeTwitter.project_usage` (what X counted before the run).

Batch compliance: ``POST /2/compliance/jobs`` creates a job whose
``upload_url`` and ``download_url`` point back here (unauthenticated, like
X's signed URLs); ``PUT`` the ids to the first, poll ``GET
/2/compliance/jobs/{id}`` (``in_progress`` :attr:`FakeTwitter.job_polls_in_progress`
times, once by default, then ``complete``), and ``GET``
the second for one JSON line per uploaded id found in
:attr:`FakeTwitter.compliance` (id → reason), in X's result format.

What a script sends before it goes silent leaves in one write, so a client
never waits on a half-sent script (a short stall window in a test races
nothing but the silence it is meant to detect).

Knowing when a run has read everything
--------------------------------------

A test that wants a run to end right after the last scripted line, and never
before it, however busy the machine, sets ``end_when_served``: once every
queued script and REST failure has been served (:attr:`FakeTwitter.served`),
each stream with nothing left to play is ended (what is left and the FIN go
out together) instead of held open. The client reads such a stream to its end
and closes it; :meth:`FakeTwitter.client_closed_every_stream` then says so.
``tests/support/clock.py`` turns that into the run's deadline. A script that
makes the client hang up itself (an operational-disconnect line) must not be
the last one: the client reconnects after it and finds the stream ended.
"""

from __future__ import annotations

import contextlib
import json
import socket
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
V2_CONNECTIONS = "/2/connections"
V2_KILL_CONNECTIONS = "/2/connections/all"
V2_USAGE = "/2/usage/tweets"
V2_COMPLIANCE_JOBS = "/2/compliance/jobs"
#: Where the fake's signed upload and download URLs point (X's are cloud-storage URLs).
COMPLIANCE_UPLOAD = "/compliance-storage/upload/"
COMPLIANCE_DOWNLOAD = "/compliance-storage/download/"
V1_FILTER = "/1.1/statuses/filter.json"
STREAM_PATHS = (V2_FILTER, V2_SAMPLE, V1_FILTER)
#: How long a stream with nothing left to play is held open (the server stops first).
HOLD_S = 3600.0
#: A stream handler's write buffer: a script's lines up to its next silence go out in
#: one write; the bench's 64 KiB blob chunks are as large as it and go out as before.
WRITE_BUFFER = 64 * 1024

Action = tuple[str, Any]

#: X's answer to a stream request over the connection limit (the shared fixture's body).
TOO_MANY_CONNECTIONS: dict[str, str] = {
    "title": "ConnectionException",
    "detail": "This stream is currently at the maximum allowed connection limit.",
    "connection_issue": "TooManyConnections",
    "type": "https://api.twitter.com/2/problems/streaming-connection",
}


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
    """The server's state; start with :meth:`start` (or as a context manager).

    With ``end_when_served``, a stream that has nothing left to play is ended as
    soon as :attr:`served` is set (at once, if it already is), instead of held
    open until the server stops; see the module's docstring.
    """

    bearer: str = "test-bearer"
    consumer_key: str = "test-consumer-key"
    tweets: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    reject_rule: Callable[[str], str | None] = lambda v: (
        "Invalid rule syntax (INVALID)" if "INVALID" in v else None
    )
    requests: list[Recorded] = field(default_factory=list)
    rules: dict[str, dict[str, str]] = field(default_factory=dict)
    #: End idle streams once every script is served, instead of holding them open.
    end_when_served: bool = False
    #: Streaming connections X counts for the app (a stale one has no disconnected_at).
    connections: list[dict[str, str]] = field(default_factory=list)
    #: Open :attr:`connections` at which a stream request gets 429 TooManyConnections.
    stream_limit: int | None = None
    #: Posts read this billing cycle before the test (``project_usage``).
    project_usage: int = 0
    project_cap: int = 3_000_000
    #: Tweet id → compliance reason (deleted, protected, suspended, …) the jobs report.
    compliance: dict[str, str] = field(default_factory=dict)
    #: Status polls a job with ids answers ``in_progress`` before it is ``complete``.
    job_polls_in_progress: int = 1

    def __post_init__(self) -> None:
        self._scripts: dict[str, deque[list[Action]]] = {p: deque() for p in STREAM_PATHS}
        self._rest_failures: dict[str, deque[Action]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._next_rule_id = 1_900_000_000_000_000_000
        self._jobs: dict[str, dict[str, Any]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._streams = 0  # stream connections so far (their serial numbers)
        self._sending = 0  # connections still sending a scripted response (up to its silence)
        self._ended: list[tuple[int, socket.socket]] = []
        #: Set while every queued script and REST failure has been served: none is left in
        #: a queue, and every connection that took one has sent it (all but its silence).
        self.served = threading.Event()
        self.served.set()

    # --- control --------------------------------------------------------------------

    def script(self, path: str, *actions: Action) -> FakeTwitter:
        """Queue what the next connection to ``path`` plays."""
        with self._lock:
            self._scripts[path].append(list(actions))
            self._update_served()
        return self

    def fail_next(self, path: str, action: Action) -> FakeTwitter:
        """The next REST call to ``path`` answers with this :func:`status` instead."""
        with self._lock:
            self._rest_failures.setdefault(path, deque()).append(action)
            self._update_served()
        return self

    @property
    def stream_count(self) -> int:
        """Stream connections so far; the next one gets this serial number."""
        with self._lock:
            return self._streams

    def client_closed_every_stream(self, since: int = 0) -> bool:
        """True once the server has ended its idle streams, every script being served,
        and the client has closed each of them: it read them to their end (or had left
        them before), so nothing the server sent is still on its way.

        Only with ``end_when_served``; ``since`` is a :attr:`stream_count`: at least one
        ended stream must be that connection or a later one (a run's own, not a
        previous run's).
        """
        with self._lock:
            if not self.served.is_set():
                return False
            ended = list(self._ended)
        if not any(serial >= since for serial, _ in ended):
            return False
        return all(_closed_by_peer(sock) for _, sock in ended)

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

    def add_stale_connection(self, endpoint: str = V2_FILTER) -> None:
        """A connection X still counts as open although its client is gone."""
        with self._lock:
            self.connections.append(
                {
                    "endpoint_name": endpoint,
                    "connected_at": "2026-11-24T05:50:00.000Z",
                    "client_ip": "192.0.2.10",
                }
            )

    def open_connections(self) -> list[dict[str, str]]:
        with self._lock:
            return [c for c in self.connections if "disconnected_at" not in c]

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
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            self._changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeTwitter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour (called from handler threads) -------------------------------------

    def _update_served(self) -> None:
        """Called with the lock held after anything that changes what is left to serve."""
        queued = any(self._scripts.values()) or any(self._rest_failures.values())
        if queued or self._sending:
            self.served.clear()
        else:
            self.served.set()
            self._changed.notify_all()

    def _open_stream(self, path: str) -> tuple[int, list[Action] | None]:
        """A new stream connection: its serial number and the script it plays (if any)."""
        with self._lock:
            serial = self._streams
            self._streams += 1
            queue = self._scripts.get(path)
            script = queue.popleft() if queue else None
            if script is not None:
                self._sending += 1
            self._update_served()
            return serial, script

    def _sent(self) -> None:
        """A connection has sent the scripted response it took (all but its silence)."""
        with self._lock:
            self._sending -= 1
            self._update_served()

    def _wait_until_served(self, seconds: float) -> bool:
        """Silence on a stream with nothing left to play; True: end it now (served)."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._stop.is_set() or (self.end_when_served and self.served.is_set()),
                timeout=seconds,
            )
            return self._should_end()

    def _should_end(self) -> bool:
        return self.end_when_served and self.served.is_set() and not self._stop.is_set()

    def _ending(self, serial: int, sock: socket.socket) -> None:
        """Recorded before the FIN leaves, so a client that sees it finds it here."""
        with self._lock:
            self._ended.append((serial, sock))

    def _rest_failure(self, path: str) -> Action | None:
        """The failure queued for this REST call, if any (call :meth:`_sent` once sent)."""
        with self._lock:
            queue = self._rest_failures.get(path)
            failure = queue.popleft() if queue else None
            if failure is not None:
                self._sending += 1
            return failure

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

    def _connections_get(self) -> dict[str, Any]:
        data = [dict(c) for c in self.connections]
        return {"data": data, "meta": {"result_count": len(data)}}

    def _connections_kill(self) -> dict[str, Any]:
        killed = [c for c in self.connections if "disconnected_at" not in c]
        for connection in killed:
            connection["disconnected_at"] = "2026-11-24T06:00:00.000Z"
            connection["disconnect_reason"] = "ClientRequestedKill"
        results = [{"success": True, "endpoint_name": c["endpoint_name"]} for c in killed]
        return {"data": {"successful_kills": len(killed), "failed_kills": 0, "results": results}}

    def _over_stream_limit(self) -> bool:
        if self.stream_limit is None:
            return False
        with self._lock:
            return sum("disconnected_at" not in c for c in self.connections) >= self.stream_limit

    def _job_view(self, job: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    def _job_create(self, body: dict[str, Any]) -> dict[str, Any]:
        job_id = str(1_372_966_999_991_541_762 + len(self._jobs))
        job = {
            "id": job_id,
            "type": body.get("type", "tweets"),
            "name": body.get("name", ""),
            "status": "created",
            "created_at": "2026-11-24T06:00:00.000Z",
            "upload_url": f"{self.url}{COMPLIANCE_UPLOAD}{job_id}",
            "upload_expires_at": "2026-11-24T06:15:00.000Z",
            "download_url": f"{self.url}{COMPLIANCE_DOWNLOAD}{job_id}",
            "download_expires_at": "2026-12-01T06:00:00.000Z",
            "resumable": False,
            "_ids": [],
            "_polls": 0,
        }
        self._jobs[job_id] = job
        return {"data": self._job_view(job)}

    def _job_get(self, job_id: str) -> dict[str, Any] | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        if job["status"] in ("created", "in_progress") and job["_ids"]:
            job["_polls"] += 1
            done = job["_polls"] > self.job_polls_in_progress
            job["status"] = "complete" if done else "in_progress"
        return {"data": self._job_view(job)}

    def _job_results(self, job_id: str) -> bytes:
        job = self._jobs[job_id]
        out = []
        for tweet_id in job["_ids"]:
            reason = self.compliance.get(tweet_id)
            if reason is None:
                continue
            result = {
                "id": tweet_id,
                "action": "scrub_geo" if reason == "scrub_geo" else "delete",
                "created_at": "2026-11-24T06:00:00.000Z",
                "redacted_at": "2026-11-25T06:00:00.000Z",
                "reason": reason,
            }
            out.append(json.dumps(result, separators=(",", ":")).encode() + b"\n")
        return b"".join(out)

    def _usage(self) -> dict[str, Any]:
        data = {
            "project_id": "1369785403853424",
            "project_cap": str(self.project_cap),
            "project_usage": str(self.project_usage),
            "cap_reset_day": 10,
        }
        return {"data": data}

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


def _closed_by_peer(sock: socket.socket) -> bool:
    """Has the other end closed this connection? Asks the kernel, without waiting.

    On loopback the client's FIN (or RST, when it left data unread) is delivered
    within its ``close()``, so a client that has closed the connection and then
    asks is told so.
    """
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset by the client, or closed here at stop()
        return True


def _split_silence(script: list[Action]) -> tuple[list[Action], float]:
    """The actions that send something, and the seconds of silence the script ends with."""
    end = len(script)
    while end and script[end - 1][0] == "stall":
        end -= 1
    return script[:end], sum(float(arg) for _, arg in script[end:])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = WRITE_BUFFER  # flushed before every silence and after every response
    fake: FakeTwitter
    _sending = False  # this connection took a script and has not sent all of it yet

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :attr:`FakeTwitter.requests` instead."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
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
        if parts.path.startswith("/compliance-storage/"):
            self._storage(parts.path, body)
            return
        if not fake._authorized(parts.path, headers):
            self._json(401, {"title": "Unauthorized", "type": "about:blank", "status": 401})
            return
        if parts.path in STREAM_PATHS and fake._over_stream_limit():
            self._json(429, TOO_MANY_CONNECTIONS)
            return
        if parts.path in STREAM_PATHS:
            serial, script = fake._open_stream(parts.path)
            self._sending = script is not None
            try:
                self._stream(serial, script or [])
            finally:
                self._script_sent()
            return
        failure = fake._rest_failure(parts.path)
        if failure is not None:
            code, payload, extra = failure[1]
            self._sending = True
            try:
                self._json(code, payload, extra)
                self.wfile.flush()
            finally:
                self._script_sent()
            return
        if parts.path == V2_RULES and self.command == "GET":
            self._json(200, fake._rules_get())
        elif parts.path == V2_RULES:
            dry_run = record.param("dry_run") == "true"
            with fake._lock:
                answer = fake._rules_post(json.loads(body or b"{}"), dry_run)
            self._json(200, answer)
        else:
            self._rest(parts.path, record)

    def _storage(self, path: str, body: bytes) -> None:
        """The signed URLs: no bearer token (X's are cloud-storage URLs)."""
        fake = self.fake
        job_id = path.rsplit("/", 1)[-1]
        with fake._lock:
            job = fake._jobs.get(job_id)
            if job is not None and path.startswith(COMPLIANCE_UPLOAD) and self.command == "PUT":
                job["_ids"] = body.decode("ascii").split()
                answer = b""
            elif job is not None and path.startswith(COMPLIANCE_DOWNLOAD):
                answer = fake._job_results(job_id)
            else:
                answer = None
        if answer is None:
            self._json(404, {"title": "Not Found"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _rest(self, path: str, record: Recorded) -> None:
        fake = self.fake
        if path == V2_COMPLIANCE_JOBS and self.command == "POST":
            with fake._lock:
                answer = fake._job_create(record.json() or {})
            self._json(200, answer)
        elif path.startswith(V2_COMPLIANCE_JOBS + "/"):
            with fake._lock:
                found = fake._job_get(path.rsplit("/", 1)[-1])
            self._json(200 if found else 404, found or {"title": "Not Found"})
        elif path == V2_SEARCH:
            self._json(200, fake._search(record.query))
        elif path == V2_CONNECTIONS and self.command == "GET":
            with fake._lock:
                answer = fake._connections_get()
            self._json(200, answer)
        elif path == V2_KILL_CONNECTIONS and self.command == "DELETE":
            with fake._lock:
                answer = fake._connections_kill()
            self._json(200, answer)
        elif path == V2_USAGE:
            self._json(200, fake._usage())
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

    def _stream(self, serial: int, script: list[Action]) -> None:
        if script and script[0][0] == "status":
            code, payload, extra = script[0][1]
            self._json(code, payload, extra)
            self.wfile.flush()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")  # a stream's socket is never reused
        self.end_headers()
        sends, silence_s = _split_silence(script)
        try:
            for kind, arg in sends:
                if not self._play(kind, arg):
                    return
            self._script_sent()
            self._idle(serial, silence_s + HOLD_S)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (reconnect, stop): nothing to clean up
        self.close_connection = True

    def _script_sent(self) -> None:
        """This connection's script has nothing but silence left, or is over."""
        if self._sending:
            self._sending = False
            self.fake._sent()

    def _idle(self, serial: int, seconds: float) -> None:
        """Nothing left to send: stay open and silent, or end the stream once served."""
        fake = self.fake
        if not fake._should_end():
            self.wfile.flush()
            if not fake._wait_until_served(seconds):
                return
        self._end_stream(serial)

    def _end_stream(self, serial: int) -> None:
        """Send what is left with the FIN, then keep our end open until the server stops,
        so :meth:`FakeTwitter.client_closed_every_stream` can see the client close it."""
        sock = self.connection
        self.fake._ending(serial, sock)
        cork = getattr(socket, "TCP_CORK", None)
        with contextlib.suppress(OSError):  # the client may have left already
            if cork is not None:  # Linux: hold the last lines back until the FIN joins them
                sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
            self.wfile.flush()
            sock.shutdown(socket.SHUT_WR)
        self.fake._stop.wait()

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
            self.wfile.flush()
            self.fake._stop.wait(arg)
            return not self.fake._stop.is_set()
        elif kind == "drop":
            if arg:  # an empty chunk would be the terminating one: a clean end, not a cut
                self._chunk(arg)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # socket.SHUT_RDWR: cut, no terminating chunk
            return False
        elif kind == "end":
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            return False
        return True


def script_lines(path_lines: Iterable[str]) -> Action:
    """Convenience: fixture lines (already JSON text) as one :func:`lines` action."""
    return lines(*[line for line in path_lines if line.strip()])
