"""Read an event store: only the days asked for (partition pruning), only the columns needed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from .. import schema as S
from ..errors import StoreError
from ..params import parse_bytes
from ._layout import day_dirs, open_store

__all__ = ["read_store", "store_dataset", "time_filter", "store_span", "count_rows",
           "complete_columns", "BYTES_PER_RECORD", "available_memory", "parse_bytes"]

#: Memory the pandas engine needs per record it reads: the canonical frame (about 440 bytes
#: with its message and raw text), the Arrow table it is read from, the attempts and counts.
#: Measured: ``analyze_fleet(STORE, since=, until=)`` peaked 1,180-1,200 bytes a record above
#: the process's size before (600,000 and 980,000 records of a simulated store).
BYTES_PER_RECORD = 1_200
_DAY = pa.schema([("day", pa.string())])


def store_dataset(root: Path, dictionaries: Sequence[str] = ()) -> ds.Dataset:
    """Return the store's events as a pyarrow dataset, hive-partitioned by ``day`` (a string).

    ``dictionaries``: text columns read as Parquet stores them, a dictionary of each file's
    values and a code per record (see :func:`read_range`).
    """
    fmt: str | ds.ParquetFileFormat = "parquet"
    if dictionaries:
        fmt = ds.ParquetFileFormat(
            read_options=ds.ParquetReadOptions(dictionary_columns=list(dictionaries)))
    return ds.dataset(root, format=fmt,
                      partitioning=ds.partitioning(_DAY, flavor="hive"),
                      ignore_prefixes=[".", "_"])


def time_filter(start: pd.Timestamp | None, end: pd.Timestamp | None) -> ds.Expression | None:
    """Return a filter on ``[start, end)`` that prunes day partitions first, then rows.

    A bound at UTC midnight is the day partitions' own (a day holds the records of its UTC
    date): no record is compared with it (filtering the records copied every column read,
    measured: 4.5 of a Dask task's 8 CPU seconds of reading whole days, 2.4 without).
    """
    parts = []
    if start is not None:
        start = pd.Timestamp(start).tz_convert("UTC")
        parts.append(ds.field("day") >= start.strftime("%Y-%m-%d"))
        if start != start.normalize():
            parts.append(ds.field(S.EVENT_TIME) >= pa.scalar(start.as_unit("ns").value,
                                                             pa.timestamp("ns", tz="UTC")))
    if end is not None:
        end = pd.Timestamp(end).tz_convert("UTC")
        last = (end - pd.Timedelta(1, "ns")).strftime("%Y-%m-%d")
        parts.append(ds.field("day") <= last)
        if end != end.normalize():
            parts.append(ds.field(S.EVENT_TIME) < pa.scalar(end.as_unit("ns").value,
                                                            pa.timestamp("ns", tz="UTC")))
    if not parts:
        return None
    expr = parts[0]
    for part in parts[1:]:
        expr = expr & part
    return expr


def complete_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the canonical columns ``frame`` lacks (empty, typed), in canonical order."""
    missing = [c for c in S.EVENT_COLUMNS if c not in frame.columns]
    if not missing:
        return frame[list(S.EVENT_COLUMNS)]
    n = len(frame)
    empty = S.empty_events()
    index = pd.RangeIndex(n)
    frame = frame.reset_index(drop=True)
    for column in missing:
        if column == S.SITE:
            frame[column] = pd.array(pa.repeat("", n), dtype=S.EVENT_DTYPES[S.SITE])
        else:
            frame[column] = empty[column].reindex(index)
    return frame[list(S.EVENT_COLUMNS)]


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    from ..telemetry._canonical import _to_frame

    if "day" in table.column_names:
        table = table.drop_columns(["day"])
    return _to_frame(table)


def read_store(
    store: str | os.PathLike,
    since: object = None,
    until: object = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read the events of ``[since, until)`` from an event store.

    Only the day partitions that overlap the period are opened (pyarrow dataset filters on the
    ``day`` partition key), then rows outside it are dropped while reading.

    Parameters
    ----------
    store : str or path
        The store directory.
    since, until : str or timestamp, optional
        Period; naive times are UTC. Default: everything.
    columns : sequence of str, optional
        Read only these columns; the others are added empty (default: all).

    Returns
    -------
    pandas.DataFrame
        Canonical events frame, sorted by event_time then host.

    Raises
    ------
    StoreVersionError
        When ``store`` is not a store, or was written by a newer version.
    """
    from ..analysis.frequency import to_utc

    root = open_store(store)
    start, end = to_utc(since, "since"), to_utc(until, "until")
    return read_range(root, start, end, columns)


def read_range(root: Path, start: pd.Timestamp | None, end: pd.Timestamp | None,
               columns: Sequence[str] | None = None, complete: bool = True,
               ordered: bool = True, categories: Sequence[str] = (),
               where: ds.Expression | None = None) -> pd.DataFrame:
    """Read ``[start, end)`` of an opened store (see :func:`read_store`).

    ``ordered=False`` leaves the records in the files' order (for a caller that orders what it
    needs itself: sorting every column by time and host took a fifth of a Dask task).

    ``categories``: text columns returned as pandas categoricals (categories in no particular
    order) instead of text, for a caller that groups on them: read as the Parquet dictionaries
    they are stored as, each file's distinct values are decoded once, not once per record, and
    need not be hashed again (measured on six days of 5.2 million records, four columns of few
    values each: reading 3.4 -> 3.2 CPU seconds, and the attempt grouping no longer encodes
    them). Columns of about as many values as records gain nothing: uniting every file's
    dictionary costs more than encoding the text. Only with ``ordered=False``.

    ``where``: only the records that match this filter besides the period (a pyarrow dataset
    expression on the store's columns).
    """
    if not day_dirs(root):
        return S.empty_events()
    if categories and ordered:
        raise ValueError("categories are read in the files' order only (ordered=False)")
    wanted = None if columns is None else [c for c in S.EVENT_COLUMNS if c in set(columns)]
    coded = [c for c in categories if wanted is None or c in wanted]
    try:
        period = time_filter(start, end)
        if where is not None:
            period = where if period is None else period & where
        table = store_dataset(root, coded).to_table(columns=wanted, filter=period)
    except (pa.ArrowException, OSError) as exc:
        raise StoreError(f"{root}: cannot read the store's events ({exc})") from exc
    if ordered:
        frame = _to_pandas(_time_ordered(table))
    else:
        # one chunk per column: a Parquet file's row groups are chunks, and taking rows from
        # a column of hundreds of chunks cost the attempt grouping twice its time
        names = table.column_names
        kept = {c: _categorical(table[c]) for c in coded if c in names}
        frame = _to_pandas(table.drop_columns(list(kept)).combine_chunks())
        for column, values in kept.items():
            frame[column] = values
        frame = frame[[c for c in names if c != "day"]]
    return complete_columns(frame) if complete else frame


def _categorical(values: pa.ChunkedArray) -> pd.Categorical:
    """Return Arrow text (dictionary-encoded or not) as a pandas categorical.

    Categories keep the canonical text dtype; the per-file dictionaries are united in Arrow
    (unique values, in the order met) and not checked for uniqueness again
    (:func:`~activation_kb.schema.distinct_categories`).
    """
    if not pa.types.is_dictionary(values.type):
        values = pc.dictionary_encode(values)
    values = values.unify_dictionaries()
    if values.num_chunks:
        dictionary = values.chunk(0).dictionary
        codes = np.concatenate([pc.fill_null(chunk.indices, -1).to_numpy()
                                .astype(np.int32, copy=False) for chunk in values.chunks])
    else:
        dictionary, codes = pa.array([], pa.string()), np.zeros(0, np.int32)
    text = pd.array(dictionary.cast(pa.large_string()), dtype=pd.StringDtype("pyarrow"))
    return pd.Categorical.from_codes(codes, dtype=S.distinct_categories(pd.Index(text)),
                                     validate=False)


def _time_ordered(table: pa.Table) -> pa.Table:
    """Sort records by event time, then host (a missing host as ""), stably, in Arrow.

    Arrow's multi-key sort of the strings themselves: three times faster than ``np.lexsort``
    of the host names as Python objects, and the frame is built once, in order.
    """
    if table.num_rows < 2 or S.EVENT_TIME not in table.column_names:
        return table
    keys = pa.table({"t": table[S.EVENT_TIME],
                     "h": pc.fill_null(table[S.HOST], "") if S.HOST in table.column_names
                     else pa.repeat("", table.num_rows)})
    order = pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("h", "ascending")])
    if pc.all(pc.equal(order, pa.array(np.arange(table.num_rows)))).as_py():
        return table
    return table.take(order)


def count_rows(root: Path, start: pd.Timestamp | None = None,
               end: pd.Timestamp | None = None) -> int:
    """Count the records of the days overlapping ``[start, end)``, from Parquet footers."""
    if not day_dirs(root):
        return 0
    dataset = store_dataset(root)
    expr = time_filter(start, end)
    day_only = None
    if expr is not None:  # the footers give whole files: prune on the day only
        parts = []
        if start is not None:
            parts.append(ds.field("day") >= pd.Timestamp(start).strftime("%Y-%m-%d"))
        if end is not None:
            last = (pd.Timestamp(end) - pd.Timedelta(1, "ns")).strftime("%Y-%m-%d")
            parts.append(ds.field("day") <= last)
        day_only = parts[0] if len(parts) == 1 else parts[0] & parts[1]
    return sum(f.metadata.num_rows for f in dataset.get_fragments(filter=day_only))


def store_span(root: Path) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """First and last event time in the store, from its first and last day partitions.

    From the Parquet footers' statistics where every row group has them (nothing read: the
    Dask engine's client kept 51 MB of a 50-million-record store's first and last days read
    in full); else from the day's times.
    """
    days = day_dirs(root)
    if not days:
        return None, None
    keys = list(days)
    first = _day_edge(days[keys[0]], min)
    last = _day_edge(days[keys[-1]], max)
    return first, last


def _day_edge(folder: Path, pick) -> pd.Timestamp | None:
    """Return the first (``pick`` is ``min``) or last (``max``) event time of a day partition."""
    found = _footer_edge(folder, pick)
    if found is not False:
        return found
    times = ds.dataset(folder, format="parquet").to_table(columns=[S.EVENT_TIME])
    values = times[S.EVENT_TIME]
    compute = pc.min if pick is min else pc.max
    return None if len(values) == 0 else pd.Timestamp(compute(values).as_py())


def _footer_edge(folder: Path, pick) -> pd.Timestamp | None | bool:
    """Return the edge from the files' statistics: None for no time, False if some lack them."""
    import pyarrow.parquet as pq

    edges = []
    for path in sorted(folder.glob("*.parquet")):
        meta = pq.read_metadata(path)
        names = meta.schema.names
        if S.EVENT_TIME not in names:
            return False
        column = names.index(S.EVENT_TIME)
        for group in range(meta.num_row_groups):
            part = meta.row_group(group)
            if part.num_rows == 0:
                continue
            stats = part.column(column).statistics
            if stats is None or not stats.has_min_max:
                return False  # not written, or only nulls: read the times
            edges.append(pd.Timestamp(stats.min if pick is min else stats.max))
    return pick(edges) if edges else None


def available_memory() -> int:
    """Return the bytes this process may still use.

    ``ACTIVATION_KB_MEMORY_LIMIT`` if set (e.g. "4GB"), else the cgroup limit or MemAvailable,
    whichever is smaller.
    """
    limit = os.environ.get("ACTIVATION_KB_MEMORY_LIMIT")
    if limit:
        return parse_bytes(limit)
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if text != "max":
            found.append(int(text) - used)
    except (OSError, ValueError):
        pass
    return min(found) if found else 1 << 62
