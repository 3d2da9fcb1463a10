"""``load_events``: read many exports into one canonical events frame; account for every record.

One file is read here (:func:`~._file.read_file`); several are read in groups, on all cores when
they are big enough (:mod:`._parallel`). Either way :func:`combine_parts` puts the files' rows
together, de-duplicates overlapping exports, sorts, and accounts per file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema as S
from ..errors import SchemaError, TelemetryError
from ._file import (
    _DATA_ERRORS,
    BATCH,
    empty_unreadable_values,
    gc_paused,
    read_file,
)
from ._formats import Format, resolve_format
from ._result import LoadResult
from ._scan import nothing_read, refuse_skipped, scan_exports
from ._source import SkippedFile

__all__ = ["load_events", "combine_parts", "BATCH", "_DATA_ERRORS"]

_KEY = [S.HOST, S.CHANNEL, S.RECORD_ID]
#: The ``stats`` key that marks a file found not to be an export (a placeholder keeping the
#: file indexes of a group aligned): its value is the reason.
NOT_EXPORT = "not_export"
_gc_paused = gc_paused


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """Mark the "loading exports" stage, counted in bytes (:mod:`activation_kb.progress`)."""
    from ..progress import stage

    with stage("loading exports", total=total, unit="B") as current:
        yield current.advance


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _duplicates(events: pd.DataFrame) -> np.ndarray:
    """Rows whose (host, channel, record_id) appeared in an earlier row."""
    rid = events[S.RECORD_ID]
    has = rid.notna().to_numpy()
    if not has.any():
        return np.zeros(len(events), bool)
    ids = rid.to_numpy(dtype="int64", na_value=-1)
    codes = [pd.factorize(events[c])[0].astype(np.int64) + 1 for c in (S.HOST, S.CHANNEL)]
    place = codes[0] * (int(codes[1].max(initial=0)) + 1) + codes[1]
    if ids.max(initial=0) < 2**31 and ids.min(initial=0) >= -1 and place.max(initial=0) < 2**31:
        key = pd.Series((place << 32) + ids)  # one int64 per (host, channel, record_id)
        dup = key.duplicated(keep="first").to_numpy()
    else:
        dup = events[_KEY].duplicated(keep="first").to_numpy()
    return dup & has


def _order(events: pd.DataFrame) -> np.ndarray | None:
    """Row order by event_time, then host (stable); None when the rows are in order already."""
    t = events[S.EVENT_TIME].to_numpy(dtype="datetime64[ns]").view("int64")
    step = np.diff(t)
    if not (step < 0).any():
        ties = np.flatnonzero(step == 0)
        if not len(ties):
            return None
        host = pa.array(events[S.HOST].array)
        if not pc.any(pc.less(host.take(pa.array(ties + 1)), host.take(pa.array(ties)))).as_py():
            return None
    host_rank = pd.factorize(events[S.HOST], sort=True)[0]
    return np.lexsort((host_rank, t))


def _take(holder: list[pd.DataFrame], rows: np.ndarray) -> pd.DataFrame:
    """``frame.take(rows)`` of the frame in ``holder``, one column at a time.

    The frame is taken out of ``holder`` and each old column is let go once copied, so peak
    memory is the frame plus one column, not two frames (the caller keeps no other reference).
    """
    events = holder.pop()
    columns = {c: events[c].array for c in events.columns}
    del events
    out: dict[str, Any] = {}
    pool = pa.default_memory_pool()
    for c in list(columns):
        values = columns.pop(c)
        if hasattr(values, "__arrow_array__") and isinstance(values.dtype, pd.StringDtype):
            # one contiguous copy first, the chunks let go, then the take: Arrow's take of a
            # chunked string column would hold the chunks, their concatenation and the result
            dtype = values.dtype
            arrow = pa.chunked_array(values.__arrow_array__())
            del values
            combined = arrow.combine_chunks()
            del arrow
            pool.release_unused()
            out[c] = pd.array(combined.take(rows), dtype=dtype)
            del combined
        else:
            out[c] = values.take(rows)
            del values
        pool.release_unused()  # hand the old column's pages back before the next copy
    return pd.DataFrame(out, copy=False)


def _conform(events: pd.DataFrame) -> pd.DataFrame:
    try:
        S.validate_events(events)
        return events
    except SchemaError:
        return S.coerce_events(events)


def _check_tz(tz: str | None) -> None:
    if tz is None:
        return
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise TelemetryError(f"unknown time zone {tz!r}; expected an IANA name such as "
                             "Europe/Paris, America/New_York or UTC") from None


def load_events(
    paths: str | Path | Iterable[str | Path],
    format: str | Format | None = None,
    tz: str | None = None,
    on_error: str = "quarantine",
    *,
    strict: bool = False,
    since: object = None,
    until: object = None,
) -> LoadResult:
    """Load Windows activation event exports into one canonical events frame.

    Parameters
    ----------
    paths : str, Path or iterable of them
        A file, a directory (every file below it), a glob pattern (``"exports/*.xml.gz"``) or a
        list of any of these: fleets collect one file per machine. Any file may be gzipped.
    format : str or Format, optional
        Read every file as this format (see :class:`Format`; aliases ``xml``, ``parquet``,
        ``jsonl``). By default each file's format is sniffed from its content, then its suffix.
    tz : str, optional
        IANA time zone of the local times in ``Get-WinEvent``/``Get-EventLog``/Event Viewer CSV
        exports (required for them). Other formats carry UTC and ignore it.
    on_error : {"quarantine", "raise"}
        ``"quarantine"`` keeps going and lists unusable records in ``result.rejected`` with
        file, record number and reason; ``"raise"`` raises at the first one.
    strict : bool
        Files that are not exports are normally skipped and listed in ``result.skipped_files``
        with the reason: hidden files and folders, folder metadata (``desktop.ini``,
        ``Thumbs.db``, ``.DS_Store``), Office lock files, and, when ``format`` is not given,
        files whose content is none of the formats and whose suffix is not an export's
        (``README.md``, ``notes.txt``, a ``.zip``). ``strict=True`` makes any of them an
        error. A ``.xml``, ``.csv``, ``.json`` (...) file that is not an export is always an
        error.
    since, until : str or timestamp, optional
        With an event store (``activation_kb.ingest``) as ``paths``: read only the events of
        ``[since, until)`` (naive times are UTC); only the days of that period are opened.

    Returns
    -------
    LoadResult
        ``events`` (canonical, sorted by event_time then host), ``rejected``,
        ``unreadable_values`` (values present in loaded records but unreadable, e.g. a result
        code that is not a 32-bit HRESULT), ``skipped_files``, ``files`` and the counts, with
        ``records == loaded + n_rejected + duplicates``. Records repeated in overlapping
        exports (same host, channel and record_id) are loaded once, from the first file given;
        the others are counted as duplicates of the file they came from. EVTX logs (and their
        evtx_dump JSON) hold every provider's records: those of other providers than Software
        Protection are counted in ``skipped`` and are not in ``records``. From an event store,
        ``events`` holds the stored events of the period (nothing to account: they were
        accounted for at ingest, see ``activation-kb events store``).

    Raises
    ------
    TelemetryError
        For a missing, empty, unrecognised or unreadable file or folder, an unsafe XML file, a
        missing ``tz`` for a local-time format, a bad ``format``/``tz``/``on_error``, paths
        holding no export at all, with ``strict=True`` a file that is not an export, and, with
        ``on_error="raise"``, the first unusable record (its file and number).

    Examples
    --------
    >>> result = load_events("exports/", tz="Europe/Paris")  # doctest: +SKIP
    >>> result.records == result.loaded + result.n_rejected + result.duplicates  # doctest: +SKIP
    True
    """
    if on_error not in ("quarantine", "raise"):
        raise TelemetryError(f"on_error={on_error!r}; expected 'quarantine' or 'raise'")
    from ..store._layout import is_store

    if isinstance(paths, (str, Path)) and is_store(paths):
        from ..store._read import read_store

        events = read_store(paths, since=since, until=until)
        return LoadResult(events=events, records=len(events), loaded=len(events))
    if since is not None or until is not None:
        raise TelemetryError("since/until select the days read from an event store "
                             f"(activation_kb.ingest); {paths} is not one: filter "
                             "result.events instead")
    forced = resolve_format(format) if format is not None else None
    _check_tz(tz)
    files, skipped = scan_exports(paths, forced, strict=strict)
    if len(files) > 1:  # many files: read in groups, on all cores when they are big enough
        result = _load_many(files, forced, tz, on_error, skipped)
    else:
        result = _load_each(files, forced, tz, on_error, skipped)
    if strict and result.skipped_files:  # a file changed since it was scanned
        raise refuse_skipped([SkippedFile(**s) for s in result.skipped_files])
    if not result.files and result.skipped_files:
        raise nothing_read([SkippedFile(**s) for s in result.skipped_files])
    return result


def _load_each(files: list[Path], forced: Format | None, tz: str | None, on_error: str,
               skipped: list[SkippedFile] | None = None) -> LoadResult:
    """Read files one after the other in this process (one file, or the reference in tests)."""
    stats: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    owners: list[np.ndarray] = []
    rejected: list[pd.DataFrame] = []
    unreadable: list[pd.DataFrame] = []
    raw_cut = 0
    with _progress(sum(_size(p) for p in files)) as tick, gc_paused():
        for path in files:
            counted = [0]

            def count(n: int, counted: list[int] = counted) -> None:
                counted[0] += n
                tick(n)

            got = read_file(path, forced, tz, on_error, count)
            tick(max(_size(path) - counted[0], 0))
            if isinstance(got, SkippedFile):
                stats.append(_placeholder(got))
                continue
            index = len(stats)
            stats.append(got.stats)
            frames.extend(got.frames)
            owners.extend(np.full(len(f), index, np.int64) for f in got.frames)
            rejected.append(got.rejected)
            unreadable.append(got.unreadable)
            raw_cut += got.raw_cut
            got.frames = []
    owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    return combine_parts(frames, owner, stats, rejected, unreadable=unreadable,
                         skipped_files=skipped, raw_cut=raw_cut)


def _placeholder(skipped: SkippedFile) -> dict[str, Any]:
    """Per-file counts of a file that is not an export (it keeps the files' indexes aligned)."""
    return {"path": skipped.path, "format": "", "records": 0, "loaded": 0, "rejected": 0,
            "duplicates": 0, "skipped": 0, NOT_EXPORT: skipped.reason}


def _load_many(files: list[Path], forced: Format | None, tz: str | None, on_error: str,
               skipped: list[SkippedFile] | None = None) -> LoadResult:
    """Read several files with :func:`._parallel.read_files` and account for them."""
    from ._parallel import PARALLEL_MIN_BYTES, read_files

    total = sum(_size(p) for p in files)
    with _progress(total) as tick:
        parts = read_files(files, forced, tz, on_error, tick=tick,
                           workers=None if total >= PARALLEL_MIN_BYTES else 1)
    frames = [p.frame for p in parts if len(p.frame)]
    owner = (np.concatenate([p.owner for p in parts if len(p.frame)]) if frames
             else np.zeros(0, np.int64))
    return combine_parts(frames, owner, [s for p in parts for s in p.stats],
                         [r for p in parts for r in p.rejected],
                         unreadable=[u for p in parts for u in p.unreadable],
                         skipped_files=skipped, raw_cut=sum(p.raw_cut for p in parts))


def _rejected_frame(rejected: list) -> pd.DataFrame:
    """Rejected records given as frames (or, from older callers, dicts) -> one frame."""
    parts = [r for r in rejected if isinstance(r, pd.DataFrame) and len(r)]
    rows = [r for r in rejected if isinstance(r, dict)]
    if rows:
        parts.append(pd.DataFrame(rows, columns=list(S.REJECTED_COLUMNS))
                     .astype(dict(S.REJECTED_DTYPES)))
    return pd.concat(parts, ignore_index=True) if parts else S.empty_rejected()


def combine_parts(frames: list[pd.DataFrame], owner: np.ndarray, stats: list[dict[str, Any]],
                  rejected: list, *, unreadable: Iterable[pd.DataFrame] = (),
                  skipped_files: Iterable[SkippedFile] | None = None,
                  raw_cut: int = 0) -> LoadResult:
    """Concatenate frames (``owner``: the file index of each row), de-duplicate, sort, account.

    Parameters
    ----------
    frames : list of pandas.DataFrame
        The files' events, in file order.
    owner : numpy.ndarray
        The index in ``stats`` of the file each row came from.
    stats : list of dict
        One dict per file (path, format, records, loaded, rejected, duplicates, skipped);
        ``loaded`` and ``duplicates`` are filled in here. An entry with a ``not_export`` reason
        stands for a file that is not an export: it goes to ``skipped_files``, not ``files``.
    rejected : list of pandas.DataFrame (or of dict)
        The files' rejected records. ``frames`` is emptied: the result holds the rows.
    unreadable : iterable of pandas.DataFrame
        The files' unreadable values.
    skipped_files : iterable of SkippedFile, optional
        Files found that are not exports (by name, before reading).
    raw_cut : int
        Rejected records whose raw text was cut.
    """
    if not frames:
        events = S.empty_events()
    elif len(frames) == 1:
        events = frames[0]
    else:
        events = pd.concat(frames, ignore_index=True)
    frames.clear()  # the concatenated frame is now the only holder of the events
    dup = _duplicates(events)
    if dup.any():
        for i, count in enumerate(np.bincount(owner[dup], minlength=len(stats))):
            stats[i]["duplicates"] = int(count)
        owner = owner[~dup]
        holder = [events]
        del events
        events = _take(holder, np.flatnonzero(~dup))
    for i, count in enumerate(np.bincount(owner, minlength=len(stats))):
        stats[i]["loaded"] = int(count)
    order = _order(events)
    if order is not None:
        holder = [events]
        del events
        events = _take(holder, order)
    events = _conform(events.reset_index(drop=True))
    rej = _rejected_frame(rejected)
    unreadable = [u for u in unreadable if len(u)]
    unr = pd.concat(unreadable, ignore_index=True) if unreadable else empty_unreadable_values()
    files = [s for s in stats if NOT_EXPORT not in s]
    skipped = [s.as_dict() for s in skipped_files or []]
    skipped += [{"path": s["path"], "reason": s[NOT_EXPORT]} for s in stats if NOT_EXPORT in s]
    return LoadResult(events=events, rejected=rej, records=sum(f["records"] for f in files),
                      loaded=len(events), duplicates=int(dup.sum()), files=files,
                      skipped=sum(f.get("skipped", 0) for f in files), skipped_files=skipped,
                      unreadable_values=unr, rejected_raw_cut=raw_cut)
