"""One writer at a time: an exclusive ``flock`` on the store's lock file.

The operating system releases the lock when its holder exits, even when it is killed, so a
crashed ingest never leaves a stale lock behind. The holder writes its pid, host and start time
into the file so that the next one can say who is writing.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from ..errors import StoreLockedError
from ._layout import LOCK

__all__ = ["store_lock"]


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another ingest"
    return (f"another ingest (pid {info.get('pid')} on {info.get('host')}, started "
            f"{info.get('started')})")


@contextmanager
def store_lock(root: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the store's lock while the block runs.

    Parameters
    ----------
    root : Path
        The store.
    wait : float
        Seconds to wait for another ingest to finish; 0 gives up at once.

    Raises
    ------
    StoreLockedError
        When the lock is still held after ``wait`` seconds, naming its holder.
    """
    path = root / LOCK
    handle = open(path, "a+", encoding="utf-8")
    try:
        deadline = time.monotonic() + max(wait, 0.0)
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"{root}: the store is locked by {_holder(path)}; two ingests never "
                        "write at once: retry when it has finished, or wait for it with "
                        "--wait SECONDS (wait= in Python)") from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": pd.Timestamp.now(tz="UTC").isoformat()}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
