"""Read many export files on all cores, with the per-file overhead cut.

A fleet's exports usually arrive as one small file per machine (thousands of 50 kB files on a
share). Reading them one by one costs far more than their records: each file paid for a whole
column-wise build (:func:`~._build.build_events`, tens of milliseconds whatever its size). Here:

* files are read in **groups** by worker processes (:mod:`concurrent.futures`, one process per
  core; a group per task, so a task carries hundreds of files, not one);
* inside a group, the raw records of the small files of one format are **built together** in
  batches of :data:`~._load.BATCH` records; each record keeps its own file name and number;
* a group returns one frame and the owner (file index) of each row, so that
  :func:`~._load.combine_parts` accounts per file exactly as the sequential loader does;
* each file is opened and read by the per-file reader (:class:`~._file.Reader`): a file that is
  not an export keeps its place as a placeholder (so file indexes stay aligned) and is listed as
  skipped; rejects, unreadable values and errors are those of reading it alone.

Results are identical to reading the files one by one (same rows in the same order, the same
rejected records with the same reasons, the same per-file counts); ``tests/telemetry`` checks it.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema as S
from ._build import Reject, Skipped, TimeParser, Unreadable, build_events

__all__ = ["Part", "read_files", "worker_count", "PARALLEL_MIN_BYTES", "SMALL_FILE"]

#: Below this total size, files are read in this process (starting workers costs ~1 s).
PARALLEL_MIN_BYTES = 16 << 20
#: Files up to this size have their records built together with other files' records.
SMALL_FILE = 4 << 20
_STR = S.EVENT_DTYPES[S.HOST]


@dataclass
class Part:
    """Rows read from a group of files: one frame, and the file index of each row.

    ``stats`` holds one dict per file of the group (a file that is not an export has a
    placeholder with a ``not_export`` reason); ``rejected`` and ``unreadable`` one frame per
    file read; ``raw_cut`` counts the rejected records whose raw text was cut.
    """

    frame: pd.DataFrame
    owner: np.ndarray
    stats: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[pd.DataFrame] = field(default_factory=list)
    unreadable: list[pd.DataFrame] = field(default_factory=list)
    raw_cut: int = 0


def worker_count() -> int:
    """Return the number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _Pending:
    """Raw records of several small files of one format, built in one batch."""

    def __init__(self, source_format: str, times: TimeParser) -> None:
        self.source_format, self.times = source_format, times
        self.rows: list[tuple] = []
        self.files: list[int] = []     # file index of each row
        self.records: list[int] = []   # the row's own record number in its file


def _build(pending: _Pending, names: list[str], pieces: list, built_rejects: dict[int, list],
           readers: list) -> None:
    """Build a batch of several files' records; hand rows, rejects, unreadable values back."""
    if not pending.rows:
        return
    files = np.asarray(pending.files, np.int64)
    records = np.asarray(pending.records, np.int64)
    frame, rejects, unreadable = build_events(pending.rows, "", pending.source_format,
                                              pending.times)
    for item in rejects:  # the record field holds the row's position in the batch
        i = item.record
        built_rejects.setdefault(int(files[i]), []).append(
            Reject(int(records[i]), item.reason, item.raw))
    for item in unreadable:
        i = item.record
        readers[int(files[i])].unreadable.append(
            Unreadable(int(records[i]), item.column, item.value, item.reason))
    if len(frame):
        position = frame[S.SOURCE_RECORD].to_numpy(dtype=np.int64)
        owner = files[position]
        frame[S.SOURCE_RECORD] = pd.arrays.IntegerArray(records[position],
                                                        np.zeros(len(frame), bool))
        local = np.unique(owner)
        table = pa.array([names[i] for i in local], pa.string())
        frame[S.SOURCE_FILE] = pd.array(table.take(pa.array(np.searchsorted(local, owner))),
                                        dtype=_STR)
        pieces.append((frame, owner))
    pending.rows, pending.files, pending.records = [], [], []


def read_group(paths: list[str], first: int, forced, tz: str | None, on_error: str) -> Part:
    """Read files ``first, first + 1, ...`` of a load; build small files' records together.

    Raises
    ------
    TelemetryError
        As the sequential loader would, for the first unusable file of the group.
    """
    from ._file import BATCH, gc_paused, open_reader, reading
    from ._source import SkippedFile

    names = [str(Path(p)) for p in paths]
    pieces: list[tuple[pd.DataFrame, np.ndarray]] = []  # (rows, file index of each row)
    built_rejects: dict[int, list] = {}
    readers: list[Any] = []
    small: list[bool] = []
    pending: dict[str, _Pending] = {}
    with gc_paused():
        for i, path in enumerate(paths):
            reader = open_reader(Path(path), forced, tz, on_error)
            readers.append(reader)
            if isinstance(reader, SkippedFile):  # not an export: a placeholder keeps its place
                small.append(False)
                continue
            # a file whose date format is chosen from its own times (local-time CSV: US or
            # day-first) is built alone: another file's choice must not parse its times
            is_small = (on_error == "quarantine" and Path(path).stat().st_size <= SMALL_FILE
                        and len(reader.times.formats) == 1)
            small.append(is_small)
            if not is_small:
                reader.read()
                pieces.extend((f, np.full(len(f), i, np.int64)) for f in reader.frames)
                reader.frames = []
                continue
            batch = pending.setdefault(reader.source_format,
                                       _Pending(reader.source_format, reader.times))
            with reading(reader):
                _read_small(reader, i, batch, pieces)
            if len(batch.rows) >= BATCH:
                _build(batch, names, pieces, built_rejects, readers)
        for batch in pending.values():
            _build(batch, names, pieces, built_rejects, readers)
    stats: list[dict[str, Any]] = []
    rejected: list[pd.DataFrame] = []
    unreadable: list[pd.DataFrame] = []
    raw_cut = 0
    for i, reader in enumerate(readers):
        if isinstance(reader, SkippedFile):
            from ._load import _placeholder

            stats.append(_placeholder(reader))
            continue
        if small[i]:
            for item in sorted(built_rejects.get(i, []), key=lambda r: r.record):
                reader.reject(item)
            reader.finish()
            reader.unreadable.sort(key=lambda u: u.record)
        stats.append(reader.stats)
        rejected.append(reader.rejected_frame())
        unreadable.append(reader.unreadable_frame())
        raw_cut += reader.rejects.cut
    pieces = [(f, o) for f, o in pieces if len(f)]
    if not pieces:
        return Part(S.empty_events(), np.zeros(0, np.int64), stats, rejected, unreadable,
                    raw_cut)
    frame = pieces[0][0] if len(pieces) == 1 else pd.concat([f for f, _ in pieces],
                                                            ignore_index=True)
    owner = np.concatenate([o for _, o in pieces])
    if (np.diff(owner) < 0).any():  # formats built in separate batches: back to file order
        order = np.argsort(owner, kind="stable")
        frame, owner = frame.take(order), owner[order]
    return Part(frame.reset_index(drop=True), owner + first, stats, rejected, unreadable, raw_cut)


def _read_small(reader, index: int, batch: _Pending, pieces: list) -> None:
    """Read a small file; its raw records join ``batch``, its frames and rejects its reader."""
    for item in reader.spec.read(reader.src):
        if isinstance(item, list):
            reader.stats["records"] += len(item)
            base = len(batch.rows)
            batch.rows.extend((base + k, *row[1:]) for k, row in enumerate(item))
            batch.files.extend([index] * len(item))
            batch.records.extend(row[0] for row in item)
        elif isinstance(item, Skipped):  # read, not an activation event: not a row
            reader.stats["skipped"] += item.count
        elif isinstance(item, pd.DataFrame):
            reader.stats["records"] += len(item)
            pieces.append((item, np.full(len(item), index, np.int64)))
        else:
            reader.stats["records"] += 1
            reader.reject(item)


def _groups(files: list[Path], workers: int) -> list[tuple[int, list[str]]]:
    """Split files into about four groups per worker of similar total size, in order."""
    sizes = np.array([p.stat().st_size for p in files], dtype=np.int64)
    target = max(int(sizes.sum() // (workers * 4)), 1)
    groups: list[tuple[int, list[str]]] = []
    start, acc = 0, 0
    for i, size in enumerate(sizes):
        acc += int(size)
        if acc >= target or i == len(files) - 1:
            groups.append((start, [str(p) for p in files[start:i + 1]]))
            start, acc = i + 1, 0
    return groups


def _pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes forked from this one (they share its imported readers).

    Fork, where the system has it: forkserver and spawn import the caller's ``__main__`` again
    in each worker, which runs a script without a ``__main__`` guard twice. The workers only
    parse files; they start no threads of their own before reading.
    """
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def read_files(files: list[Path], forced, tz: str | None, on_error: str,
               workers: int | None = None,
               tick: Callable[[int], None] = lambda n: None) -> Iterable[Part]:
    """Read ``files`` in groups, on ``workers`` processes (default: every core).

    Parameters
    ----------
    files : list of Path
        The files, in the order their rows and counts are reported.
    forced : Format or None
        Read every file as this format; None sniffs each.
    tz, on_error :
        As :func:`~activation_kb.load_events`.
    workers : int, optional
        Processes; 1 reads in this process.
    tick : callable
        Called with the bytes of each group read (progress bar).

    Returns
    -------
    list of Part
        In file order.

    Raises
    ------
    TelemetryError
        For the first unusable file, in file order.
    """
    workers = worker_count() if workers is None else max(1, int(workers))
    groups = _groups(files, workers)
    sizes = [sum(Path(p).stat().st_size for p in g) for _, g in groups]
    if workers == 1 or len(groups) == 1:
        parts = []
        for (first, group), size in zip(groups, sizes):
            parts.append(read_group(group, first, forced, tz, on_error))
            tick(size)
        return parts
    with warnings.catch_warnings(), _pool(min(workers, len(groups))) as pool:
        # Python 3.12+ warns about fork in a process with threads (pyarrow's idle pool)
        warnings.simplefilter("ignore", DeprecationWarning)
        futures: list[Future] = [pool.submit(read_group, g, first, forced, tz, on_error)
                                 for first, g in groups]
        parts = []
        try:
            for future, size in zip(futures, sizes):
                parts.append(future.result())
                tick(size)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return parts
