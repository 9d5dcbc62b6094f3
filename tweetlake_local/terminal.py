"""The terminal's foreground, so that Ctrl-C reaches the local mode and not ``make``.

A Ctrl-C in a terminal signals its whole foreground process group. Started by
``make run``, the local mode shares make's group, so make gets the SIGINT too;
make then waits for its child and, whatever the child's exit code, kills itself
with SIGINT (exit 130): a clean stop would read as a failure to ``make run &&
…``. So when this process is in the terminal's foreground group without leading
it (a parent such as make leads it), it moves to a group of its own and makes
that the foreground: Ctrl-C then signals only the local mode, which stops in
order and exits 0, and make passes that on. :meth:`Foreground.give_back`
returns the terminal to the parent's group at exit (forced stops included).

While the local mode holds the terminal, Ctrl-Z is ignored: a stopped group
that make does not know of would leave the shell waiting with no prompt.
Started from a shell directly, the process already leads its group and nothing
changes.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any


def terminal_fd() -> int | None:
    """The first of stdin, stdout, stderr that is a terminal."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                return fd
    return None


def _set_foreground(fd: int, pgrp: int) -> None:
    """tcsetpgrp from a group that may be in the background (SIGTTOU would stop it)."""
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, pgrp)
    finally:
        signal.signal(signal.SIGTTOU, previous)


class Foreground:
    """Take the terminal's foreground from a parent that leads this process's group."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self._previous_group: int | None = None
        self._previous_tstp: Any = None

    def take(self) -> bool:
        """Move to a group of our own and make it the foreground; True if done."""
        fd = terminal_fd()
        if fd is None:
            return False
        group = os.getpgrp()
        try:
            in_front = os.tcgetpgrp(fd) == group
        except OSError:  # not our controlling terminal
            return False
        if not in_front or group == os.getpid():
            return False
        try:
            os.setpgid(0, 0)
            _set_foreground(fd, os.getpid())
        except OSError:
            with contextlib.suppress(OSError):
                os.setpgid(0, group)  # back where we were
            return False
        self._fd, self._previous_group = fd, group
        self._previous_tstp = signal.signal(signal.SIGTSTP, signal.SIG_IGN)
        return True

    def give_back(self) -> None:
        """Return the foreground to the parent's group (safe to call twice)."""
        if self._fd is None or self._previous_group is None:
            return
        fd, group = self._fd, self._previous_group
        self._fd = self._previous_group = None
        with contextlib.suppress(OSError):  # the parent's group may be gone
            _set_foreground(fd, group)
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGTSTP, self._previous_tstp)
