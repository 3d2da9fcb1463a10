"""``store_info``: what an event store holds (size, days, records, devices, last ingest)."""

from __future__ import annotations

import os
from typing import Any

import pyarrow.compute as pc

from .. import schema as S
from ._ingest import read_log, read_rejected
from ._layout import SCHEMA_VERSION, day_dirs, open_store
from ._read import count_rows, store_dataset

__all__ = ["store_info"]


def store_info(store: str | os.PathLike) -> dict[str, Any]:
    """Describe an event store.

    Parameters
    ----------
    store : str or path
        The store directory.

    Returns
    -------
    dict
        ``path``, ``schema_version``, ``size_bytes`` (every file of the store), ``days``
        (number of day partitions), ``first_day``, ``last_day``, ``records`` (events stored),
        ``devices`` (distinct machines that logged them, compared without domain and case),
        ``files_ingested``, ``rejected`` (records), and ``last_ingest``: ``time``, ``files``,
        ``records``, ``loaded``, ``rejected``, ``duplicates`` of the latest ingest, or None.

    Raises
    ------
    StoreVersionError
        When ``store`` is not a store or was written by a newer version.
    """
    root = open_store(store)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    days = list(day_dirs(root))
    devices: set[str] = set()
    if days:
        for batch in store_dataset(root).to_batches(columns=[S.HOST]):
            names = pc.utf8_lower(pc.replace_substring_regex(batch.column(0), r"\..*$", ""))
            devices.update(pc.unique(names).to_pylist())
        devices.discard(None)
    log = read_log(root)
    last = None
    if len(log):
        latest = log[log["ingest"] == log["ingest"].iloc[-1]]
        last = {"time": log["time"].max().isoformat(), "files": int(len(latest)),
                **{k: int(latest[k].sum()) for k in ("records", "loaded", "rejected",
                                                      "duplicates")}}
    return {
        "path": str(root), "schema_version": SCHEMA_VERSION, "size_bytes": int(size),
        "days": len(days), "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None, "records": count_rows(root),
        "devices": len(devices), "files_ingested": int(len(log)),
        "rejected": int(len(read_rejected(root))), "last_ingest": last,
    }


