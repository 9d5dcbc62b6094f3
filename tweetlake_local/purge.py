"""The purge, locally: the emulated bucket and its folder mirror both lose deleted tweets.

The local mode writes every lake object twice, to moto's bucket and to the lake
folder (:mod:`tweetlake_local.firehose`), and the folder outlives the bucket (moto
keeps it in memory). So a local purge runs :func:`chalicelib.purge.engine.run_purge`
over both stores: the bucket through :class:`~chalicelib.purge.engine.S3Store` and
the folder through :class:`DirStore`, each scanned on its own (the folder may hold
objects of earlier runs the bucket never saw). Requests come from the state table
of the running local mode, as on AWS.

``make run`` runs it every :data:`LOCAL_PURGE_EVERY_S` (:class:`PurgeSchedule`) and
once more after a bounded run drained, so ``--until-drained`` ends with a clean lake.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.purge.engine import LakeObject, ObjectStore, PurgeSummary, S3Store, run_purge
from tweetlake_local.firehose import DirSink

log = logging.getLogger(__name__)

#: Locally buffers flush within seconds (not 900 s), so the purge can run each minute.
LOCAL_PURGE_EVERY_S = 60.0


@dataclass
class DirStore:
    """The lake folder as an object store: keys are paths relative to ``root``."""

    root: Path
    name: str = "folder"

    def list(self, prefix: str, start_after: str = "") -> Iterator[LakeObject]:
        base = self.root / prefix
        if not base.is_dir():
            return
        found = []
        for dirpath, _dirs, files in os.walk(base):
            for file in files:
                if file.startswith("."):  # a DirSink write in progress
                    continue
                path = Path(dirpath) / file
                key = path.relative_to(self.root).as_posix()
                if key > start_after:
                    found.append(LakeObject(key, path.stat().st_size))
        yield from sorted(found, key=lambda o: o.key)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def put(self, key: str, body: bytes) -> None:
        DirSink(self.root).put(key, body)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)


def local_stores(s3: Any, bucket: str, lake_dir: Path | None) -> list[ObjectStore]:
    """The bucket, and the folder when there is one."""
    stores: list[ObjectStore] = [S3Store(s3, bucket)]
    if lake_dir is not None and lake_dir.is_dir():
        stores.append(DirStore(lake_dir))
    return stores


def purge_once(
    settings: Any,
    lake_dir: Path | None,
    *,
    settle_s: float,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sink: Callable[[str], None] = log.info,
) -> PurgeSummary:
    """One purge of the local mode's bucket and folder."""
    from chalicelib import aws

    return run_purge(
        aws.client("dynamodb", settings.region),
        settings.state_table,
        local_stores(aws.client("s3", settings.region), settings.lake_bucket, lake_dir),
        now=now,
        settle_s=settle_s,
        dimensions={"stage": settings.stage},
        sink=sink,
    )


class PurgeSchedule:
    """Runs :func:`purge_once` every ``interval_s`` until stopped (a thread of the local
    mode); a failed run is logged and the next one tries again, as on AWS."""

    def __init__(self, settings: Any, lake_dir: Path, *, interval_s: float, settle_s: float):
        self.settings = settings
        self.lake_dir = lake_dir
        self.interval_s = interval_s
        self.settle_s = settle_s
        self.stopping = threading.Event()
        self._lock = threading.Lock()  # one purge at a time: the schedule's or the drain's
        self.runs = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.wait(self.interval_s):
            self.run_once(self.settle_s)

    def run_once(self, settle_s: float) -> None:
        with self._lock:
            try:
                purge_once(self.settings, self.lake_dir, settle_s=settle_s)
                self.runs += 1
            except Exception:
                log.exception("purge failed (the next scheduled run will try again)")
