"""The AWS emulation: a moto server on 127.0.0.1 and boto3 pointed at it.

Used by the pytest session fixture and by the local mode, so both run against
the same kind of endpoint over real HTTP.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import urllib.request
from typing import Any

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
LOCAL_REGION = "us-east-1"
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
    """moto's server on 127.0.0.1:``port`` (0: a free one), served by a daemon thread.

    Not ``ThreadedMotoServer``: it binds inside its thread, where werkzeug meets a
    taken port with ``sys.exit``, so its ``start()`` waits forever. Here the socket
    is bound by :func:`bind_loopback` in the caller's thread, so a taken port raises
    OSError(EADDRINUSE) at once, or, with ``fallback``, moves to a free port.
    :attr:`port` is the port actually bound.
    """

    def __init__(self, port: int = 0, *, fallback: bool = False) -> None:
        self.requested_port = port
        self.fallback = fallback
        self._server: Any = None  # werkzeug's BaseWSGIServer, once started
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the moto server has no port before start()")
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def port_note(self) -> str:
        """`` (4566 was taken)`` if it serves elsewhere than the port asked for, else ''."""
        return fallback_note(self.requested_port, self.port)

    def start(self) -> MotoServer:
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
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()  # serve_forever returns and closes the socket
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def reset(self) -> None:
        """Forget every resource (moto's reset endpoint)."""
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
