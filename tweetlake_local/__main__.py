"""``python -m tweetlake_local``: the local command line (``make run`` calls ``run``)."""

from __future__ import annotations

import sys

from tweetlake_local.cli import exit_after_run, main

code = main()
if sys.argv[1:2] == ["run"]:
    exit_after_run(code)
raise SystemExit(code)
