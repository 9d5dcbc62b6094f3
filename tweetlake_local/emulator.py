"""The AWS emulation: a moto server on 127.0.0.1 and boto3 pointed at it.

Used by the pytest session fixture and by the local mode, so both run against
the same kind of endpoint over real HTTP.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
from typing import IO, Any

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
LOCAL_REGION = "us-east-1"
#: What the local mode serves from a moto process of its own: the stream, which the
#: ingest run writes and every reader polls, apart from the tables and the bucket
#: (the address the banner shows, which the operator tools and the API use).
LOCAL_APART = ("kinesis",)
LOOPBACK = "127.0.0.1"


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As http.server and werkzeug do: a port the last run left in TIME_WAIT is
        # reusable at once, while a port another process listens on stays taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, port))
        sock.listen(socket.SOMAXCONN)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_loopback(port: int, *, fallback: bool = False) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: a port the OS picks).

    Binding is the only test of "is this port free" that cannot race: the socket
    that passed the test is the one that serves, so nothing can take the port in
    between (as it can between a probe, or a port picked by one process, and the
    bind). With ``fallback`` a taken ``port`` gives a socket on a free port;
    without it, OSError(EADDRINUSE) tells the caller, who names the flag to fix.
    """
    try:
        return _listening_socket(port)
    except OSError as exc:
        if not (fallback and port and exc.errno == errno.EADDRINUSE):
            raise
    return _listening_socket(0)


def fallback_note(requested: int, actual: int) -> str:
    """`` (8000 was taken)`` when a server did not get the port it asked for first."""
    return f" ({requested} was taken)" if requested and actual != requested else ""


class MotoServer:
    """moto's server on 127.0.0.1:``port`` (0: a free one), served by a daemon thread,
    or with ``process`` by a child process (:mod:`tweetlake_local.moto_process`), so
    that it does not share a GIL with the code that calls it.

    Not ``ThreadedMotoServer``: it binds inside its thread, where werkzeug meets a
    taken port with ``sys.exit``, so its ``start()`` waits forever. Here the socket
    is bound by :func:`bind_loopback` in the caller's thread, so a taken port raises
    OSError(EADDRINUSE) at once, or, with ``fallback``, moves to a free port.
    :attr:`port` is the port actually bound.

    A server process ends when the thread that started it does (Linux's parent-death
    signal follows the thread): start it from the main thread.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        fallback: bool = False,
        process: bool = False,
        apart: tuple[str, ...] = (),
    ) -> None:
        self.requested_port = port
        self.fallback = fallback
        self.process = process
        #: Services served by a moto process of their own, on a free port each (their
        #: calls then never wait behind the others' for one GIL): service id → server.
        self.apart = {service: MotoServer(0, process=True) for service in apart}
        self._server: Any = None  # werkzeug's BaseWSGIServer, once started in a thread
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen[str] | None = None
        self._errors: IO[str] | None = None  # the child's stderr
        self._port: int | None = None
        self._spawned_port = 0  # bound, served once the child says ready

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the moto server has no port before start()")
        return self._port

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def port_note(self) -> str:
        """`` (4566 was taken)`` if it serves elsewhere than the port asked for, else ''."""
        return fallback_note(self.requested_port, self.port)

    def start(self) -> MotoServer:
        """Serve; a taken port raises OSError(EADDRINUSE), with nothing left running."""
        try:
            if not self.process:
                for server in self.apart.values():
                    server.start()
                return self._start_thread()
            # Every child imports moto at once (a second or more each), then each is awaited.
            for server in (*self.apart.values(), self):
                server._spawn()
            for server in (*self.apart.values(), self):
                server._await_ready()
            return self
        except BaseException:
            self.stop()
            raise

    def _start_thread(self) -> MotoServer:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        with bind_loopback(self.requested_port, fallback=self.fallback) as sock:
            # werkzeug serves a duplicate of the bound socket's descriptor.
            self._server = make_server(
                LOOPBACK,
                sock.getsockname()[1],
                DomainDispatcherApplication(create_backend_app),
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=sock.fileno(),
            )
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()
        return self

    def _spawn(self) -> None:
        """Bind here, serve in a child that inherits the socket (:meth:`_await_ready`)."""
        errors = self._errors = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        with bind_loopback(self.requested_port, fallback=self.fallback) as sock:
            fd, port = sock.fileno(), int(sock.getsockname()[1])
            argv = [sys.executable, "-m", "tweetlake_local.moto_process"]
            child = subprocess.Popen(  # noqa: S603 (our own module, no shell)
                [*argv, str(fd), str(port), str(os.getpid())],
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                start_new_session=True,  # Ctrl-C is the parent's; it stops the server
            )
        self._child, self._spawned_port = child, port

    def _await_ready(self) -> None:
        """The child's ``ready`` line; if it died instead, its error output."""
        child = self._child
        if child is None:
            raise RuntimeError("the moto server process was not started")
        line = child.stdout.readline().strip() if child.stdout else ""  # EOF if it died
        if line != "ready":
            errors = ""
            if self._errors is not None:
                self._errors.seek(0)
                errors = self._errors.read()[-2000:]
            raise RuntimeError(f"the moto server process did not start: {errors}")
        self._port = self._spawned_port

    def stop(self) -> None:
        for server in self.apart.values():
            server.stop()
        if self._child is not None:
            self._child.terminate()
            try:
                self._child.wait(10)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait(10)
            self._child = None
        if self._errors is not None:
            self._errors.close()
            self._errors = None
        if self._server is not None:
            self._server.shutdown()  # serve_forever returns and closes the socket
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def environment(self, region: str = LOCAL_REGION) -> dict[str, str]:
        """:func:`aws_environment` for this server, with ``AWS_ENDPOINT_URL_<SERVICE>``
        (botocore's per-service endpoint) for each service served apart."""
        env = aws_environment(self.endpoint, region)
        for service, server in self.apart.items():
            env[f"AWS_ENDPOINT_URL_{service.upper()}"] = server.endpoint
        return env

    def reset(self) -> None:
        """Forget every resource (moto's reset endpoint)."""
        for server in self.apart.values():
            server.reset()
        url = f"{self.endpoint}/moto-api/reset"  # http://127.0.0.1:<port>, built above
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass


def aws_environment(endpoint: str, region: str = LOCAL_REGION) -> dict[str, str]:
    """Variables that send unmodified boto3 to ``endpoint`` with dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **DUMMY_CREDENTIALS,
    }
