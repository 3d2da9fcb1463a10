"""``load_events``: read many exports into one canonical events frame; account for every record."""

from __future__ import annotations

import gc
import sys
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
from ._file import FileResult, empty_unreadable, read_file
from ._formats import Format, allowed_formats, resolve_format
from ._result import LoadResult
from ._source import Skipped, expand_paths

__all__ = ["load_events"]

_KEY = [S.HOST, S.CHANNEL, S.RECORD_ID]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while records are read.

    A batch holds tens of thousands of freshly made tuples; without the pause, CPython scans them
    again and again (about a tenth of the load time). Nothing read here forms reference cycles.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """Show a byte-count progress bar on stderr, only when stderr is a terminal."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="loading events",
               disable=not sys.stderr.isatty(), leave=False, file=sys.stderr)
    try:
        yield bar.update
    finally:
        bar.close()


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


def _refuse_skipped(skipped: list[Skipped]) -> None:
    """``strict=True``: files that are not exports are an error."""
    shown = "; ".join(f"{s.path} ({s.reason})" for s in skipped[:5])
    more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    raise TelemetryError(f"{len(skipped)} file(s) are not event exports (strict): {shown}{more}; "
                         "move them out of the export folder or load without strict")


def _nothing_read(skipped: list[Skipped]) -> TelemetryError:
    """Return the error for paths where every file found was skipped (none is an export)."""
    expected = ("expected an event export: wevtutil XML, EVTX, evtx_dump JSON lines, "
                "Get-WinEvent/Get-EventLog/Event Viewer CSV, Log Analytics Event/WindowsEvent "
                f"CSV or JSON, or a canonical CSV/Parquet; pass format= (--format) to choose one "
                f"of {allowed_formats()}")
    if len(skipped) == 1:
        return TelemetryError(f"{skipped[0].path}: {skipped[0].reason}; {expected}")
    shown = "; ".join(f"{s.path} ({s.reason})" for s in skipped[:5])
    return TelemetryError(f"none of the {len(skipped)} files is an event export: {shown}"
                          + ("; ..." if len(skipped) > 5 else "") + f"; {expected}")


def load_events(
    paths: str | Path | Iterable[str | Path],
    format: str | Format | None = None,
    tz: str | None = None,
    on_error: str = "quarantine",
    strict: bool = False,
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
        Files that are not exports are normally skipped and listed in ``result.skipped`` with
        the reason: hidden files and folders, folder metadata (``desktop.ini``, ``Thumbs.db``,
        ``.DS_Store``), Office lock files, and, when ``format`` is not given, files whose
        content is none of the formats and whose suffix is not an export's (``README.md``,
        ``notes.txt``, a ``.zip``). ``strict=True`` makes any of them an error. A ``.xml``,
        ``.csv``, ``.json`` (...) file that is not an export is always an error.

    Returns
    -------
    LoadResult
        ``events`` (canonical, sorted by event_time then host), ``rejected``, ``unreadable``
        (values present in loaded records but unreadable, e.g. a result code that is not a
        32-bit HRESULT), ``skipped``, ``files`` and the counts, with ``records == loaded +
        n_rejected + duplicates``. Records repeated in overlapping exports (same host, channel
        and record_id) are loaded once, from the first file given; the others are counted as
        duplicates of the file they came from.

    Raises
    ------
    TelemetryError
        For a missing, empty, unrecognised or unreadable file or folder, an unsafe XML file, a
        missing ``tz`` for a local-time format, a bad ``format``/``tz``/``on_error``, paths
        holding no export at all, with ``strict=True`` a file that is not an export, and, with
        ``on_error="raise"``, the first unusable record (its file and number).
    MissingDependencyError
        For an ``.evtx`` file when the EVTX reader is not installed.

    Examples
    --------
    >>> result = load_events("exports/", tz="Europe/Paris")  # doctest: +SKIP
    >>> result.records == result.loaded + result.n_rejected + result.duplicates  # doctest: +SKIP
    True
    """
    if on_error not in ("quarantine", "raise"):
        raise TelemetryError(f"on_error={on_error!r}; expected 'quarantine' or 'raise'")
    forced = resolve_format(format) if format is not None else None
    _check_tz(tz)
    skipped: list[Skipped] = []
    files = expand_paths(paths, skipped)
    if strict and skipped:
        _refuse_skipped(skipped)
    results: list[FileResult] = []
    with _progress(sum(_size(p) for p in files)) as tick, _gc_paused():
        for path in files:
            counted = [0]

            def count(n: int, counted: list[int] = counted) -> None:
                counted[0] += n
                tick(n)

            got = read_file(path, forced, tz, on_error, count)
            tick(max(_size(path) - counted[0], 0))
            if isinstance(got, Skipped):
                skipped.append(got)
                if strict:
                    _refuse_skipped([got])
            else:
                results.append(got)
    if not results and skipped:
        raise _nothing_read(skipped)
    return combine(results, skipped)


def combine(results: list[FileResult], skipped: list[Skipped] | None = None) -> LoadResult:
    """Concatenate files read apart, de-duplicate, sort, and account per file.

    Parameters
    ----------
    results : list of FileResult
        What :func:`~._file.read_file` returned for each file, in the order given (duplicates
        are kept from the first file).
    skipped : list of Skipped, optional
        Files that were not exports.
    """
    frames = [f for r in results for f in r.frames]
    owner = np.concatenate([np.full(len(f), i, np.int32) for i, r in enumerate(results)
                            for f in r.frames]) if frames else np.zeros(0, np.int32)
    for r in results:
        r.frames = []  # the concatenated frame is now the only holder of the events
    if not frames:
        events = S.empty_events()
    elif len(frames) == 1:
        events = frames[0]
    else:
        events = pd.concat(frames, ignore_index=True)
    del frames
    dup = _duplicates(events)
    for r in results:
        r.stats["duplicates"] = 0
    if dup.any():
        for i, count in enumerate(np.bincount(owner[dup], minlength=len(results))):
            results[i].stats["duplicates"] = int(count)
        owner = owner[~dup]
        holder = [events]
        del events
        events = _take(holder, np.flatnonzero(~dup))
    for i, count in enumerate(np.bincount(owner, minlength=len(results))):
        results[i].stats["loaded"] = int(count)
    order = _order(events)
    if order is not None:
        holder = [events]
        del events
        events = _take(holder, order)
    events = _conform(events.reset_index(drop=True))
    rejected = [r.rejected for r in results if len(r.rejected)]
    rej = pd.concat(rejected, ignore_index=True) if rejected else S.empty_rejected()
    unreadable = [r.unreadable for r in results if len(r.unreadable)]
    unr = pd.concat(unreadable, ignore_index=True) if unreadable else empty_unreadable()
    files = [r.stats for r in results]
    return LoadResult(events=events, rejected=rej, records=sum(f["records"] for f in files),
                      loaded=len(events), duplicates=int(dup.sum()), files=files,
                      skipped=[s.as_dict() for s in skipped or []], unreadable=unr,
                      rejected_raw_cut=sum(r.raw_cut for r in results))
