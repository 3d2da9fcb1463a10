"""Where things live in an event store, and the version check.

::

    STORE/
      _store.json                   format name, schema version, partitioning, creation time
      _store.lock                   held (flock) by the ingest writing, if any
      day=2026-03-05/part-<ingest>-<n>.parquet   canonical events of that UTC day
      _ingest_log/<ingest>.parquet  one row per file ingested (path, sha256, counts, time)
      _rejected/<ingest>.parquet    the records that could not be loaded (file, record, reason)

Names starting with ``_`` or ``.`` are not part of the events dataset (pyarrow, DuckDB and Dask
skip them), so the events are a plain hive-partitioned Parquet dataset that any tool reads:
``duckdb.read_parquet('STORE/day=*/*.parquet', hive_partitioning=true)``.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

import pandas as pd

from ..errors import StoreVersionError

__all__ = ["SCHEMA_VERSION", "META", "LOG_DIR", "REJECTED_DIR", "LOCK", "is_store",
           "open_store", "day_dirs", "day_name", "write_atomically"]

#: Version of the store's layout and events schema this activation_kb writes and reads.
SCHEMA_VERSION = 1
META = "_store.json"
LOG_DIR = "_ingest_log"
REJECTED_DIR = "_rejected"
LOCK = "_store.lock"
_FORMAT = "activation-kb event store"
_DAY = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")


def is_store(path: object) -> bool:
    """Tell whether ``path`` is an event store directory (it holds ``_store.json``)."""
    try:
        return (Path(os.fspath(path)) / META).is_file()
    except TypeError:
        return False


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` beside ``path``, flush it to disk, then rename it into place."""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def open_store(path: str | os.PathLike, create: bool = False) -> Path:
    """Return the root of the event store at ``path``, checking its schema version.

    Parameters
    ----------
    path : str or path
        The store directory.
    create : bool
        Make a new store when ``path`` does not exist or is an empty directory.

    Raises
    ------
    StoreVersionError
        When ``path`` is not a store (and ``create`` is False, or it is a non-empty directory
        that is not a store), or when the store was written by a newer schema version.
    """
    root = Path(os.fspath(path))
    meta = root / META
    if not meta.is_file():
        if not create:
            raise StoreVersionError(f"{root}: not an event store (no {META}); create one with "
                                    "`activation-kb events ingest EXPORTS... --store DIR`")
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise StoreVersionError(f"{root}: exists and is not an event store; give a new or "
                                    "empty directory for a new store")
        root.mkdir(parents=True, exist_ok=True)
        body = {"format": _FORMAT, "schema_version": SCHEMA_VERSION, "partitioning": "day (UTC)",
                "created": pd.Timestamp.now(tz="UTC").isoformat()}
        write_atomically(meta, (json.dumps(body, indent=2) + "\n").encode())
        return root
    try:
        body = json.loads(meta.read_text(encoding="utf-8"))
        version = int(body["schema_version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreVersionError(f"{meta}: unreadable store description ({exc}); expected JSON "
                                "with a schema_version") from exc
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{root}: the store was written by a newer activation-kb (store schema version "
            f"{version}; this version reads up to {SCHEMA_VERSION}); upgrade activation-kb to "
            "read or ingest into it")
    return root


def day_name(day: pd.Timestamp | str) -> str:
    """Return the partition directory name of a UTC day: ``day=2026-03-05``."""
    return f"day={pd.Timestamp(day).strftime('%Y-%m-%d')}"


def day_dirs(root: Path) -> dict[str, Path]:
    """Return ``{"2026-03-05": path}`` for every day partition of the store, in day order."""
    found = {}
    for child in root.iterdir() if root.is_dir() else []:
        match = _DAY.match(child.name)
        if match and child.is_dir():
            found[match.group(1)] = child
    return dict(sorted(found.items()))
