"""The Dask engine: the heavy part of :func:`~activation_kb.analyze_fleet` on a cluster.

One Dask task per run of consecutive day partitions of an event store (:func:`day_groups`:
about two per worker, at most :data:`TASK_RECORDS` records each, fewer when the workers' memory
limit asks for it: :mod:`.dask_memory`; the largest run first) reads those days' records, and
only those, groups them into attempts with the package's own
:func:`~activation_kb.activation_attempts`, and reduces them to small, additive **facts**: the
parts of every count the report needs (:func:`~.frequency.count_parts`), each machine's
dimension counts and last attempt (cut into buckets by machine: :mod:`.dask_machines`), the
failed attempts and their errors. The attempts within the attempt window of a task's first or
last midnight may go on across it: the task hands their records on, and
:func:`boundary_facts` groups the records of both sides of a few midnights at once, so an
attempt that straddles midnight stays one attempt and each record is read once. The counts are
merged at once on a worker, each bucket of machines once (a few tasks' at a time as they end,
then all); the client receives the merged facts, the machines' rows and each task's failed
attempts and errors, then detects spikes and explains incidents exactly as the pandas engine
does (the tests assert identical counts, spikes and incidents).

Workers must see the store at the same path (a shared or network file system) and have
activation_kb installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from .. import schema as S
from ..errors import MissingDependencyError
from ..telemetry._codes import CODED_KINDS
from .attempts import (
    ATTEMPT_WINDOW,
    AttemptTable,
    GroupedRecords,
    activation_attempts,
    grouped_records,
)
from .dask_machines import (
    PROFILE_DIMENSIONS,
    combine_machines,
    machine_buckets,
    merge_machines,
)
from .dask_memory import (
    check_workers,
    task_records,
    trim_memory,
    trim_worker,
    use_system_allocator,
    worker_environ,
    worker_memory,
)
from .dask_rows import RowGatherer
from .frequency import count_parts, merge_count_parts
from .silence import activity_parts, merge_activity_parts
from .summary import EXAMPLES, unreadable

__all__ = ["Plan", "partition_facts", "merge_facts", "compute_facts", "dask_client",
           "PROFILE_DIMENSIONS", "boundary_facts", "READ_COLUMNS", "TASK_RECORDS", "day_groups",
           "day_rows"]

#: Facts that are rows (the period's failed attempts, every error): each task sends its own
#: to the client, which concatenates them; on a worker they would add up to all the failures
#: of the store (measured: 157,000 failed attempts and 306,000 errors, 22 MB, for 3.3 million
#: records).
ROWS = ("failed", "errors")
#: Columns a task reads: what the attempt grouping and the activity counts read.
READ_COLUMNS = (S.EVENT_TIME, S.HOST, S.ROLE, S.EVENT_KIND, S.RESULT_CODE, S.IS_SUCCESS,
                S.CLIENT_NAME, S.CMID, S.KMS_HOST, S.SITE, S.SKU_ID, S.TRIGGER,
                S.ACTIVATION_METHOD, S.MIN_COUNT)
#: Text columns a task reads as categories (:func:`~..store._read.read_range`): the attempt
#: grouping and the activity counts group on them, and a fleet has few of each. Not the
#: machines' names and ids (about as many as records a day: uniting the files' dictionaries
#: cost more than encoding the text, 1.2 CPU s against 0.6 for 5 million records), ``raw``
#: (a different text per record) nor ``source_file`` (sorted on as text).
CODED_COLUMNS = (S.KMS_HOST, S.SITE, S.SKU_ID, S.TRIGGER)
#: What :func:`~.silence.activity_parts` reads of a task's own records (a copy of these
#: columns only, not of the frame).
_ACTIVITY_COLUMNS = (S.EVENT_TIME, S.ROLE, S.HOST, S.SITE)
#: What :func:`~.summary.unreadable` reads of the records that should carry a result code and
#: have none (it looks at no other record): read again for those records only, when a task
#: has any (rare: codes the loader could not read), not for every record (``raw`` holds each
#: record's text; four columns of eighteen, a tenth of a task's read).
_UNREADABLE_COLUMNS = (S.EVENT_KIND, S.RESULT_CODE, S.RAW, S.SOURCE_FILE, S.SOURCE_RECORD,
                       S.EVENT_ID)
#: What a task keeps of its records once they are grouped into attempts.
_OWN_COLUMNS = (S.EVENT_KIND, S.RESULT_CODE, *_ACTIVITY_COLUMNS)
#: Tasks whose machine facts are combined at a time, bucket by bucket, as they end (workers
#: would hold every task's until the last ended: at 50 million records, more than a 2 GB
#: worker could hold beside a task).
_COMBINE = 8
#: A bucket of machine facts per this many records read, at least (:func:`machine_bucket_count`).
#: At 50 million records (2 workers of 2 GB): 11 buckets (5 million each) took 99 combines and
#: 11 merges, 10-15 s of task time; 4 buckets 36 and 4, 7.4 s; the workers' peak the same
#: (1.1 GB, a task's).
BUCKET_RECORDS = 15_000_000
#: Most records one task reads without a memory limit (about 500 MB at the peak of a task).
TASK_RECORDS = 500_000
#: The client gives freed memory back every this many tasks' rows received (measured at 50
#: million records: the client grew 250 MB for 20 tasks' 90 MB of rows without it).
_TRIM_EVERY = 8
_ID_SHIFT = 40  # attempt ids: partition number << 40 + the attempt's number in its partition


@dataclass(frozen=True)
class Plan:
    """What to compute: the range read, the period reported, and the counts wanted.

    Attributes
    ----------
    first, lo, hi : pandas.Timestamp or None
        Records are read from ``first`` (the baseline's start) to ``hi``; the period reported
        is ``[lo, hi)``.
    freq, tz : str
        Bucket size and time zone of the counts.
    requests : tuple
        ``(name, keys, period_only)``: counts keyed by ``keys`` over the whole range, or over
        the period only.
    before : pandas.Timestamp or None
        Start of the previous period of the same length (``[before, lo)``, which the report
        compares the period with); None when there is none.
    """

    first: pd.Timestamp | None
    lo: pd.Timestamp | None
    hi: pd.Timestamp | None
    freq: str
    tz: str | None
    requests: tuple[tuple[str, tuple[str, ...], bool], ...]
    before: pd.Timestamp | None = None


def _cat_concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames, keeping categorical columns categorical (categories united)."""
    rows = RowGatherer()
    for position, frame in enumerate(frames):
        rows.add("rows", frame, position)
    return rows.frame("rows")


def _read_days(root: Path, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    from ..store._read import read_range

    if end <= start:
        return S.empty_events()
    # only the columns read: the others would be added empty, for nothing (10 % of a task);
    # in the files' order: nothing a task computes depends on the records' order (the attempt
    # grouping orders each device's records by time itself)
    return read_range(root, start, end, columns=READ_COLUMNS, complete=False, ordered=False,
                      categories=CODED_COLUMNS)


def _span(day: str, days: int, plan: Plan) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the span of records a task reads: its days, within the plan's range."""
    start = pd.Timestamp(day, tz="UTC")
    end = start + pd.Timedelta(days=days)
    if plan.first is not None:
        start = max(start, plan.first)
    if plan.hi is not None:
        end = min(end, plan.hi)
    return start, end


def partition_facts(store: str, day: str, number: int, plan: Plan,
                    days: int = 1, buckets: int = 1) -> dict[str, Any]:
    """Facts of the records of the UTC days ``day`` .. ``day + days`` of ``store``.

    The attempts that may go on across the days' edges (within :data:`~.attempts.ATTEMPT_WINDOW`
    of them) are left out of the facts; their records are returned under ``"edges"``
    (``"head"``, ``"tail"``) for :func:`boundary_facts`.

    Parameters
    ----------
    store : str
        The store directory (as the workers see it).
    day : str
        The first day, "2026-03-05".
    number : int
        The partition's number, which makes its attempt ids unique.
    plan : Plan
        What to compute.
    days : int
        How many consecutive days the task covers (see :func:`day_groups`).
    buckets : int
        Into how many buckets its machine facts are cut (:mod:`.dask_machines`).

    Returns
    -------
    dict
        Mergeable facts (see :func:`merge_facts`) and the edges' records.
    """
    use_system_allocator()  # workers started without WORKER_ENVIRON: see .dask_memory
    facts = _facts(Path(store), day, number, plan, days, buckets)
    trim_worker()  # the task's frames are freed: their pages go back if the worker is large
    return facts


def boundary_facts(edges: Sequence[pd.DataFrame], number: int, plan: Plan,
                   buckets: int = 1) -> dict[str, Any]:
    """Facts of the attempts at the edges of tasks' days, grouped from both sides of each edge.

    Parameters
    ----------
    edges : sequence of pandas.DataFrame
        The edge records (``"head"`` and ``"tail"`` of :func:`partition_facts`) of consecutive
        tasks, the edges either side of a midnight between two tasks both among them. Records
        of different edges are a day apart: grouped together, they make the attempts of each.
    number : int
        A partition number no task has.
    plan : Plan
        What to compute.
    buckets : int
        As for :func:`partition_facts`.

    Returns
    -------
    dict
        Mergeable facts: the attempts' facts; no records of their own (the tasks count those).
    """
    use_system_allocator()
    frame = _cat_concat(list(edges))
    table = activation_attempts(frame)
    return {**_attempt_facts(table, number, plan, buckets, frame.iloc[:0]),
            "events": 0, "records": 0, "kms_hosts": pd.Series([], dtype=object),
            "unreadable": _NOTHING_UNREADABLE}


def _facts(root: Path, day: str, number: int, plan: Plan, days: int,
           buckets: int) -> dict[str, Any]:
    """:func:`partition_facts`' work; what it allocated is freed when it returns."""
    start, end = _span(day, days, plan)
    frame = _read_days(root, start, end)
    trim_worker()  # what the reader freed (2.4M records: 1,069 -> 591 MB; peak 1.47 -> 1.02 GB)
    grouped = grouped_records(frame)
    edges, table = _edges(frame, grouped, start, end)
    del grouped
    frame = frame[list(_OWN_COLUMNS)]  # the attempts' other columns freed (a tenth of the peak)
    # records of these days within the period (the summary's events and KMS hosts)
    t = frame[S.EVENT_TIME]
    here = (t >= plan.lo).to_numpy(bool) if plan.lo is not None else np.ones(len(frame), bool)
    hosts = frame.loc[here & (frame[S.ROLE] == "kms_host").to_numpy(bool), S.HOST]
    suspect = (frame[S.RESULT_CODE].isna() & frame[S.EVENT_KIND].isin(CODED_KINDS)).to_numpy(bool)
    return {
        **_attempt_facts(table, number, plan, buckets, frame[list(_ACTIVITY_COLUMNS)]),
        "events": int(here.sum()),
        "records": int(len(frame)),
        "kms_hosts": pd.Series(hosts.astype(str).unique()),
        "unreadable": _unreadable(root, start, end) if suspect.any() else _NOTHING_UNREADABLE,
        "edges": edges,
    }


_NOTHING_UNREADABLE = {"unreadable_codes": 0, "unreadable_code_examples": []}


def _unreadable(root: Path, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Any]:
    """Count the records of ``[start, end)`` whose written result code was not read."""
    from ..store._read import read_range

    lacking = ds.field(S.RESULT_CODE).is_null() & ds.field(S.EVENT_KIND).isin(list(CODED_KINDS))
    return unreadable(read_range(root, start, end, columns=_UNREADABLE_COLUMNS, complete=False,
                                 ordered=False, where=lacking))


def _edges(frame: pd.DataFrame, grouped: GroupedRecords, start: pd.Timestamp,
           end: pd.Timestamp) -> tuple[dict[str, pd.DataFrame], AttemptTable]:
    """Split off the attempts that may go on across the edges of ``[start, end)``.

    An attempt whose first record comes less than the attempt window after ``start`` may be
    the end of an attempt of the day before; one whose last record comes less than the window
    before ``end`` may go on the next day. Their records are returned (the attempt's columns
    only), ``"head"`` and ``"tail"``, and the other attempts as a table. An attempt at both
    edges (records less than the window apart for the task's whole days) goes to the head:
    its end is not joined with what follows.
    """
    window = ATTEMPT_WINDOW.value
    table = grouped.table
    first = table.attempts["time"].array.asi8 if len(table.attempts) else np.zeros(0, np.int64)
    head = first < start.value + window
    tail = (grouped.last >= end.value - window) & ~head
    out = {}
    known = grouped.attempt_of >= 0
    for side, edge in (("head", head), ("tail", tail)):
        rows = known.copy()
        rows[known] = edge[grouped.attempt_of[known]]
        out[side] = _trimmed(frame.loc[rows, list(READ_COLUMNS)])  # what the grouping reads
    keep = ~(head | tail)
    if keep.all():
        return out, table
    attempts = table.attempts[keep].reset_index(drop=True)
    errors = table.errors[keep[table.errors["attempt"].to_numpy(np.int64)]]
    return out, AttemptTable(attempts=attempts, errors=errors.reset_index(drop=True))


def _attempt_facts(mine: AttemptTable, number: int, plan: Plan, buckets: int,
                   activity_rows: pd.DataFrame) -> dict[str, Any]:
    """Facts of a task's attempts (and the activity of its records, ``activity_rows``)."""
    attempts = mine.attempts.copy()
    errors = mine.errors.copy()
    offset = number << _ID_SHIFT
    attempts["attempt"] = attempts["attempt"].to_numpy(np.int64) + offset
    errors["attempt"] = errors["attempt"].to_numpy(np.int64) + offset
    mine = AttemptTable(attempts=attempts, errors=errors)
    period = mine.between(plan.lo, None) if plan.lo is not None else mine
    counts = {}
    for name, keys, period_only in plan.requests:
        source, start = (period, plan.lo) if period_only else (mine, plan.first)
        # its devices are the facts' (devices, or last_seen's for the period): not held twice
        counts[name] = count_parts(source, plan.freq, list(keys), start, plan.hi, plan.tz,
                                   devices=False)
    pa_ = period.attempts
    times = mine.attempts["time"]
    return {
        "activity": activity_parts(mine, activity_rows, freq=plan.freq, tz=plan.tz),
        "first_attempt": times.min() if len(times) else None,
        "last_attempt": times.max() if len(times) else None,
        "previous": _previous_part(mine, plan),
        "counts": counts,
        "machines": machine_buckets(attempts, plan.lo, buckets),
        "failed": _trimmed(pa_[pa_["failed"].to_numpy(bool)]),
        "errors": _trimmed(errors),
        "attempts": int(len(pa_)),
        # the distinct sites named (not a Python string per attempt)
        "sites": pd.Series(np.asarray(pa_["site"].unique(), dtype=object).astype(str)),
    }


def _trimmed(rows: pd.DataFrame) -> pd.DataFrame:
    """Return the rows with the categories they use only.

    A slice keeps its frame's categories: the failed attempts of a task would carry the names
    of every machine of its days (measured: 5,211 names for 351 failed attempts), and the client
    receives every task's.
    """
    out = rows.reset_index(drop=True)
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].cat.remove_unused_categories()
    return out


def _previous_part(table: AttemptTable, plan: Plan) -> dict[str, Any] | None:
    """Return the attempts, failed attempts and failing devices of the previous period."""
    if plan.before is None or plan.lo is None:
        return None
    earlier = table.between(plan.before, plan.lo).attempts
    failed = earlier[earlier["failed"].to_numpy(bool)]
    return {"attempts": int(len(earlier)), "failed_attempts": int(len(failed)),
            "failing": pd.Series(failed["device"].astype(str).unique(), dtype=object)}


def _merge_previous(parts: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    failing = pd.concat([p["failing"] for p in parts], ignore_index=True)
    return {"attempts": sum(p["attempts"] for p in parts),
            "failed_attempts": sum(p["failed_attempts"] for p in parts),
            "failing": pd.Series(failing.unique(), dtype=object)}


def _edge(values: Sequence[Any], pick) -> Any:
    known = [v for v in values if v is not None and not pd.isna(v)]
    return pick(known) if known else None


def _merge_unreadable(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    examples = [e for p in parts for e in p["unreadable_code_examples"]]
    return {"unreadable_codes": sum(p["unreadable_codes"] for p in parts),
            "unreadable_code_examples": examples[:EXAMPLES]}


def merge_facts(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge the facts of disjoint partitions (associative: in any grouping).

    The :data:`ROWS` are concatenated when the parts hold them (the engine sends them to the
    client without merging them on a worker: :func:`compute_facts`).
    """
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    machines = {}
    if "machines" in parts[0]:  # bucket by bucket: merge_machines makes their final rows
        machines["machines"] = [pa.concat_tables(bucket)
                                for bucket in zip(*(p["machines"] for p in parts))]
    return {
        "activity": merge_activity_parts([p["activity"] for p in parts]),
        "first_attempt": _edge([p["first_attempt"] for p in parts], min),
        "last_attempt": _edge([p["last_attempt"] for p in parts], max),
        "previous": _merge_previous([p["previous"] for p in parts]),
        "counts": {name: merge_count_parts([p["counts"][name] for p in parts])
                   for name in parts[0]["counts"]},
        **machines,
        **{key: _cat_concat([p[key] for p in parts]) for key in ROWS if key in parts[0]},
        "attempts": sum(p["attempts"] for p in parts),
        "sites": pd.Series(pd.concat([p["sites"] for p in parts]).unique()),
        "events": sum(p["events"] for p in parts),
        "records": sum(p["records"] for p in parts),
        "kms_hosts": pd.Series(pd.concat([p["kms_hosts"] for p in parts]).unique()),
        "unreadable": _merge_unreadable([p["unreadable"] for p in parts]),
    }


@contextmanager
def dask_client(scheduler: Any = None, workers: int | None = None,
                memory_limit: str | int | None = None):
    """Yield a distributed client: to ``scheduler`` (an address or a Client), or to a local cluster.

    Without a scheduler a ``LocalCluster`` of worker processes is started (one per core, or
    ``workers``; each limited to ``memory_limit``, e.g. "2GB", default a share of the
    machine's memory) and closed when the block ends. Its workers start with
    :data:`~.dask_memory.WORKER_ENVIRON` (Arrow allocating from the C library, which gives freed
    memory back).

    Raises
    ------
    MissingDependencyError
        When dask or distributed is not installed.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise MissingDependencyError("distributed", "dask", "The Dask engine") from exc
    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler  # a Client the caller owns
        return
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    from ..telemetry._parallel import worker_count

    n = workers or worker_count()
    with worker_environ(), LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit or "auto", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


def day_rows(store: Path, days: Sequence[str]) -> list[int]:
    """Count the records of each of ``days`` in ``store`` (0 if it lacks one), from footers."""
    import pyarrow.parquet as pq

    from ..store._layout import day_dirs

    folders = day_dirs(store)
    return [sum(pq.read_metadata(f).num_rows for f in folders[d].glob("*.parquet"))
            if d in folders else 0 for d in days]


def _devices_of(store: Path, days: Sequence[str], sample: int = 7) -> int:
    """Estimate the machines of a fleet: the hosts that logged on ``sample`` days of ``days``.

    The days are spread over the range (measured: 7 days of 50 found 70,334 of 72,009 hosts in
    0.1 s; the busiest day alone 26,122).
    """
    import pyarrow.compute as pc

    from ..store._layout import day_dirs

    folders = day_dirs(store)
    picked = {days[int(i)] for i in np.linspace(0, len(days) - 1, min(sample, len(days)))}
    # read as dictionaries: each file's distinct names, not a string per record; one dataset,
    # read on all cores (a file at a time: 1.7-2.5 s for 315 files at 50 million records,
    # 1.0-1.4 s so)
    files = [str(f) for day in sorted(picked) if day in folders
             for f in sorted(folders[day].glob("*.parquet"))]
    if not files:
        return 0
    coded = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=[S.HOST]))
    column = ds.dataset(files, format=coded).to_table(columns=[S.HOST])[S.HOST]
    names = [chunk.dictionary for chunk in column.chunks]
    return int(pc.count_distinct(pa.concat_arrays(names)).as_py()) if names else 0


def day_groups(store: Path, days: Sequence[str], workers: int,
               task_records: int | None = None,
               rows: Sequence[int] | None = None) -> list[tuple[str, int]]:
    """Split ``days`` into runs of consecutive days, one Dask task each: ``(first day, days)``.

    A task costs about a second whatever its size (reading, grouping into attempts, counting),
    so days are grouped: about two tasks per worker (to balance the load), but no task holds
    more than ``task_records`` records (Parquet footers tell), which bounds a worker's memory.
    A day is never split: a day larger than that is one task of its own.

    Parameters
    ----------
    store : path
        The store.
    days : sequence of str
        Its days to read, in order ("2026-03-05").
    workers : int
        Workers of the cluster.
    task_records : int, optional
        Most records a task holds; default :data:`TASK_RECORDS` (the engine gives the size the
        workers' memory limit allows: :func:`~.dask_memory.task_records`).
    rows : sequence of int, optional
        Records of each day (:func:`day_rows`), when known already.

    Returns
    -------
    list of (str, int)
        The first day of each group and its number of days (gaps included).
    """
    if not days:
        return []
    rows = day_rows(store, days) if rows is None else list(rows)
    limit = TASK_RECORDS if task_records is None else task_records
    target = max(1, min(limit, -(-sum(rows) // (2 * workers))))
    groups: list[tuple[str, int]] = []
    first = held = 0
    for i in range(1, len(days) + 1):
        held += rows[i - 1]
        if i == len(days) or held + rows[i] > target:
            start = pd.Timestamp(days[first])
            span = (pd.Timestamp(days[i - 1]) - start).days + 1
            groups.append((days[first], span))
            first, held = i, 0
    return groups


def compute_facts(store: Path, days: list[str], plan: Plan, client: Any) -> dict[str, Any]:
    """Run a task per group of ``days`` (:func:`day_groups`) on ``client``'s cluster; merge there.

    Tasks hold at most what the smallest worker memory limit allows
    (:func:`~.dask_memory.task_records`); :func:`~.dask_memory.check_workers` raises an
    AnalysisError, before any task, for workers too small to run them, and warns
    (:class:`~.dask_memory.WorkerMemoryWarning`) when a day is larger than a task should be.

    Returns
    -------
    dict
        The merged facts, with ``profile_table``; only they travel to the client.
    """
    from distributed import as_completed

    path = str(Path(store).resolve())
    # read here, not on a worker: a worker too small for the tasks is paused and would never
    # run it (check_workers refuses such workers); beside asking the workers and reading the
    # footers (Arrow reads without Python's lock): 2 s of 3.5 before the first task at 50M
    with ThreadPoolExecutor(max_workers=1) as pool:
        estimate = pool.submit(_devices_of, Path(store), days)
        memory = worker_memory(client)
        rows = day_rows(Path(store), days)
        devices = estimate.result()
    largest = max(zip(days, rows), key=lambda day: day[1], default=None)
    trim_memory()  # what Arrow read is given back
    size = task_records(memory, TASK_RECORDS, devices)
    check_workers(memory, size, TASK_RECORDS, largest, devices)
    groups = day_groups(Path(store), days, max(1, len(memory)), task_records=size, rows=rows)
    buckets = machine_bucket_count(len(memory), sum(rows))
    submit = partial(client.submit, pure=True)
    # what takes a task's facts runs as soon as it can, before the next day's task: the facts
    # are freed, and merges do not all wait for the last task (given Dask's own order, at 50
    # million records they ran after the 45th of 60 tasks, a sixth of the run's time)
    then = partial(submit, priority=1)
    # the largest tasks first: one of the largest days last kept a worker busy alone at the
    # end (at 50 million records, 4 s of the busiest day's 2.4 million records)
    held = dict(zip(days, rows))
    sizes = [sum(held.get(str((pd.Timestamp(day) + pd.Timedelta(days=k)).date()), 0)
                 for k in range(span)) for day, span in groups]
    by_size = sorted(range(len(groups)), key=lambda i: -sizes[i])
    rank = {i: -r for r, i in enumerate(by_size)}
    days_ = [submit(partition_facts, path, day, i, plan, span, buckets, priority=rank[i])
             for i, (day, span) in enumerate(groups)]
    if not days_:
        return None
    # the attempts at the edges between tasks (and at the range's two ends), grouped from the
    # records of both sides: each record is read once, by the task of its day; the edges of
    # _COMBINE tasks at a time (a task per edge cost more than grouping the records)
    sides = [None, *days_, None]
    midnights = [[then(_edge_rows, task, side)
                  for task, side in ((before, "tail"), (after, "head")) if task is not None]
                 for before, after in zip(sides, sides[1:])]
    edges = [then(boundary_facts,
                  [part for midnight in midnights[at:at + _COMBINE] for part in midnight],
                  len(groups) + k, plan, buckets)
             for k, at in enumerate(range(0, len(midnights), _COMBINE))]
    tasks = [*days_, *edges]  # the failed attempts and errors come in the days' order
    # the small facts merged at once; each bucket of machines once (.dask_machines), in the
    # order the tasks run: each group is combined as soon as it can be
    final = then(merge_facts, [then(_others, task) for task in tasks])
    running = [*(days_[i] for i in by_size), *edges]
    machines = [then(merge_machines, [
        then(combine_machines, [then(_bucket, task, k) for task in running[at:at + _COMBINE]])
        for at in range(0, len(running), _COMBINE)]) for k in range(buckets)]
    sent = [*machines, *[then(_rows_of, task) for task in tasks]]
    pending = len(tasks)  # tasks whose failed attempts and errors are to come
    # only the results are held here: a task's facts are freed once what reads them ran
    del days_, sides, midnights, edges, tasks, running, machines
    order = {future.key: i for i, future in enumerate(sent)}
    rows = RowGatherer()
    joined = {}
    for received, done in enumerate(as_completed(sent), 1):  # as they come: workers free them
        part = done.result()
        done.release()
        for key, frame in (part.items() if isinstance(part, dict) else [("machines", part)]):
            rows.add(key, frame, order[done.key])
        pending -= isinstance(part, dict)
        del part, frame
        if not pending and not joined:  # joined while the workers merge the last machines
            joined = {key: rows.frame(key) for key in ROWS}
        if received % _TRIM_EVERY == 0:
            trim_memory()  # the messages are freed: their pages go back, not kept in holes
    del sent
    facts = final.result()
    facts.update(joined)  # every task's rows came before the loop ended
    return with_machines(facts, rows.frame("machines"), plan)


def _others(facts: dict[str, Any]) -> dict[str, Any]:
    """Return a task's facts but its rows and machines: what :func:`merge_facts` merges."""
    return {key: value for key, value in facts.items()
            if key not in (*ROWS, "machines", "edges")}


def _edge_rows(facts: dict[str, Any], side: str) -> pd.DataFrame:
    """Return the records of a task's ``side`` edge ("head" or "tail")."""
    return facts["edges"][side]


def _rows_of(facts: dict[str, Any]) -> dict[str, Any]:
    """Return a task's :data:`ROWS`, which go to the client as they are."""
    return {key: facts[key] for key in ROWS}


def _bucket(facts: dict[str, Any], k: int) -> pa.Table:
    """Return bucket ``k`` of a task's machine facts."""
    return facts["machines"][k]


def machine_bucket_count(workers: int, records: int) -> int:
    """Return how many buckets machine facts are cut into.

    Two per worker, or one per :data:`BUCKET_RECORDS` records read when that is more (a
    bucket's merge holds its share of every task's machines).
    """
    return max(2 * max(1, workers), -(-records // BUCKET_RECORDS))


def with_machines(facts: dict[str, Any], machines: pd.DataFrame, plan: Plan) -> dict[str, Any]:
    """Add what the client reads of the machines to ``facts``.

    ``devices`` (every machine that made an attempt), ``last_seen`` (their last attempt in the
    period, for those that made one), ``profile_table`` (their usual dimensions); the counts'
    machines named.
    """
    facts = dict(facts)
    if not len(machines.columns):  # no bucket came (none is empty of columns)
        machines = merge_machines([])
    seen = machines["last"].notna().to_numpy(bool)
    facts["devices"] = machines["device"]
    facts["last_seen"] = pd.DataFrame({"device": machines["device"][seen].reset_index(drop=True),
                                       "time": machines["last"][seen].reset_index(drop=True)})
    facts["profile_table"] = machines.drop(columns=["last"])
    period = facts["last_seen"]["device"]
    counts = dict(facts["counts"])
    for name, _, period_only in plan.requests:
        if counts[name].get("attempts"):
            counts[name] = {**counts[name],
                            "devices": period if period_only else facts["devices"]}
    facts["counts"] = counts
    return facts
