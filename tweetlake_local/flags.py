"""Argument types for the command line: a bad value is refused at parse time,
in one line that names the flag (``error: argument --api-port: …``), exit 2.

Checking here, not later, keeps a typo from surfacing as a traceback
(``--api-port 70000``), as a setting's environment name (``--tweets -5``), or as a
run that silently means something else (``--duration -1``).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """Errors in one line naming what to fix (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def port(text: str) -> int:
    """A TCP port, or 0 for one the system picks."""
    value = whole_number(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port: use 1-65535, or 0 for any")
    return value


def whole_number(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is below {low}")
        return value

    return parse


def seconds(
    low: float = 0.0, *, above: bool = False, high: float = math.inf
) -> Callable[[str], float]:
    """Seconds in ``[low, high]`` (``above``: strictly more than ``low``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not math.isfinite(value) or value < low or (above and value == low) or value > high:
            bound = f"more than {low:g}" if above else f"at least {low:g}"
            limit = f" and at most {high:g}" if math.isfinite(high) else ""
            raise argparse.ArgumentTypeError(f"{text} is out of range: use {bound}{limit}")
        return value

    return parse
