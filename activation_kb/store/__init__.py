"""A fleet event store: canonical events as a Parquet dataset partitioned by UTC day.

Exports arrive every day; :func:`ingest` appends them (idempotently, atomically, one writer at a
time, parsing on all cores), and readers take only the days they need:
``load_events(STORE, since=..., until=...)``, ``analyze_fleet(STORE, ...)`` and
``activation-kb report run --store STORE``. See ``_layout`` for the files of a store.
"""

from __future__ import annotations

from ._info import store_info
from ._ingest import LOG_COLUMNS, IngestResult, ingest, read_log, read_rejected
from ._layout import SCHEMA_VERSION, is_store, open_store
from ._read import count_rows, read_range, read_store, store_span

__all__ = ["ingest", "IngestResult", "store_info", "read_store", "read_log", "read_rejected",
           "is_store", "open_store", "SCHEMA_VERSION", "LOG_COLUMNS", "read_range",
           "count_rows", "store_span"]
