"""The wall clock a child process sees.

``make test-future`` moves this process's clock (time-machine); a subprocess
(``chalice local``, the local mode, a CLI command) keeps the real one. Data a
child will compare with *its* now is dated from this clock.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime


def child_now() -> datetime:
    """Now, as a freshly started Python child process reads it."""
    result = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return datetime.fromtimestamp(float(result.stdout), UTC)
