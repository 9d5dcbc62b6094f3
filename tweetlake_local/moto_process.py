"""The moto server in a process of its own (``-m tweetlake_local.moto_process FD PORT PARENT``).

In the local mode the emulated AWS does most of the work (the consumer's
``BatchWriteItem`` calls spend most of their time inside moto). In a thread of
the pipeline's process it shares one GIL with the ingest run, the consumer and
the lake writers, so on a two-core machine it starves them and they starve it.
Here it gets a core of its own.

The parent binds the listening socket (:func:`tweetlake_local.emulator.bind_loopback`,
so a taken port is an error in the parent, at once) and passes its descriptor
``FD``; this process serves it and prints ``ready`` once it does. It asks Linux
to end it when its parent dies (``PR_SET_PDEATHSIG``), so a ``kill -9`` of the
local mode leaves no server holding the port, and it ignores SIGINT: Ctrl-C is
for the parent, which stops it (SIGTERM) after draining.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
from typing import Any

PR_SET_PDEATHSIG = 1
READY = "ready"


def die_with_parent(parent: int) -> None:
    """SIGKILL when the parent exits (Linux); exit now if it already has.

    SIGKILL, not the SIGTERM an orderly stop sends: with the parent gone nobody waits
    for a clean shutdown, and the port must be free before a new run looks at it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's stop() still ends it
        return
    if os.getppid() != parent:
        os._exit(0)


def serve(fd: int, port: int, parent: int) -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server: Any = make_server(
        "127.0.0.1",
        port,  # the port ``fd`` is bound to; werkzeug serves ``fd`` itself
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
        fd=fd,
    )

    def stop(_signum: int, _frame: object) -> None:
        # shutdown() waits for serve_forever, which runs in this (the main) thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(READY, flush=True)
    # Nothing else goes to the pipe the parent read that line from (it no longer reads).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    server.serve_forever()


def main(argv: list[str]) -> None:
    fd, port, parent = (int(a) for a in argv[1:4])
    serve(fd, port, parent)


if __name__ == "__main__":
    main(sys.argv)
