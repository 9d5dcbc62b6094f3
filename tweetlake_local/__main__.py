"""``python -m tweetlake_local``: the local command line (``make run`` calls ``run``)."""

from __future__ import annotations

from tweetlake_local.cli import main

raise SystemExit(main())
