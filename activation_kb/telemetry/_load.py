"""``load_events``: read many exports into one canonical events frame; account for every record."""

from __future__ import annotations

import csv
import gc
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from .. import schema as S
from ..errors import SchemaError, TelemetryError
from ._build import Reject, Skipped, TimeParser, build_events
from ._formats import READERS, Format, FormatSpec, check_not_empty, resolve_format, sniff
from ._result import LoadResult
from ._source import Source, expand_paths

__all__ = ["load_events", "combine_parts"]

#: Raw records parsed together (bounded memory: the batch, not the file, is held as text).
BATCH = 50_000
#: Errors of damaged input that a reader may let through; they become TelemetryError.
_DATA_ERRORS = (OSError, EOFError, zlib.error, UnicodeError, struct.error, etree.LxmlError,
                pa.ArrowException, csv.Error)
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
    """Mark the "loading exports" stage, counted in bytes (:mod:`activation_kb.progress`)."""
    from ..progress import stage

    with stage("loading exports", total=total, unit="B") as current:
        yield current.advance


class _File:
    """Reads one file: batches raw records through the builder, counts, rejects."""

    def __init__(self, src: Source, fmt: Format, spec: FormatSpec, tz: str | None,
                 on_error: str, rejected: list[dict[str, Any]]) -> None:
        self.src, self.fmt, self.spec, self.on_error = src, fmt, spec, on_error
        self.source_format = spec.source_format or fmt.value
        self.times = TimeParser(spec.time_formats, tz if spec.local_times else None)
        self.rejected = rejected
        self.frames: list[pd.DataFrame] = []
        self.stats = {"path": src.name, "format": fmt.value, "records": 0, "loaded": 0,
                      "rejected": 0, "duplicates": 0, "skipped": 0}
        self._pending: list[tuple] = []

    @property
    def _last_reason(self) -> str:
        mine = [r for r in self.rejected[-1:] if r[S.SOURCE_FILE] == self.src.name]
        return mine[0]["reason"] if mine else ""

    def reject(self, item: Reject) -> None:
        if self.on_error == "raise":
            raise TelemetryError(f"{self.src.name}: record {item.record}: {item.reason}")
        self.rejected.append({S.SOURCE_FILE: self.src.name, S.SOURCE_RECORD: item.record,
                              S.SOURCE_FORMAT: self.source_format, "reason": item.reason,
                              S.RAW: item.raw})
        self.stats["rejected"] += 1

    def flush(self) -> None:
        if not self._pending:
            return
        frame, rejects = build_events(self._pending, self.src.name, self.source_format,
                                      self.times)
        self._pending = []
        for item in rejects:
            self.reject(item)
        if len(frame):
            self.frames.append(frame)

    def read(self) -> None:
        for item in self.spec.read(self.src):
            if isinstance(item, list):
                self.stats["records"] += len(item)
                self._pending.extend(item)
                if len(self._pending) >= BATCH:
                    self.flush()
            elif isinstance(item, Skipped):  # read, not an activation event: not a row
                self.stats["skipped"] += item.count
            elif isinstance(item, pd.DataFrame):
                self.flush()
                self.stats["records"] += len(item)
                self.frames.append(item)
            else:
                if self.on_error == "raise":
                    self.flush()  # an earlier bad record in the batch is named first
                self.stats["records"] += 1
                self.reject(item)
        self.flush()
        if self.src.problem and not self._last_reason.startswith("truncated"):
            self.stats["records"] += 1
            self.reject(Reject(self.stats["records"], f"truncated: {self.src.problem}; records "
                               "after the last one read are lost", ""))


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


def _is_sorted(events: pd.DataFrame) -> bool:
    """Tell whether rows are already ordered by event_time, then host."""
    t = events[S.EVENT_TIME].to_numpy(dtype="datetime64[ns]").view("int64")
    step = np.diff(t)
    if (step < 0).any():
        return False
    ties = np.flatnonzero(step == 0)
    if not len(ties):
        return True
    host = pa.array(events[S.HOST].array)
    return not pc.any(pc.less(host.take(pa.array(ties + 1)), host.take(pa.array(ties)))).as_py()


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
    since: object = None,
    until: object = None,
) -> LoadResult:
    """Load Windows activation event exports into one canonical events frame.

    Parameters
    ----------
    paths : str, Path or iterable of them
        A file, a directory (every file below it, hidden files skipped), a glob pattern
        (``"exports/*.xml.gz"``) or a list of any of these: fleets collect one file per machine.
        Any file may be gzipped.
    format : str or Format, optional
        Read every file as this format (see :class:`Format`; aliases ``xml``, ``parquet``,
        ``jsonl``). By default each file's format is sniffed from its content, then its suffix.
    tz : str, optional
        IANA time zone of the local times in ``Get-WinEvent``/``Get-EventLog``/Event Viewer CSV
        exports (required for them). Other formats carry UTC and ignore it.
    since, until : str or timestamp, optional
        With an event store (``activation_kb.ingest``) as ``paths``: read only the events of
        ``[since, until)`` (naive times are UTC); only the days of that period are opened.
    on_error : {"quarantine", "raise"}
        ``"quarantine"`` keeps going and lists unusable records in ``result.rejected`` with
        file, record number and reason; ``"raise"`` raises at the first one.

    Returns
    -------
    LoadResult
        ``events`` (canonical, sorted by event_time then host), ``rejected``, ``files`` and the
        counts, with ``records == loaded + n_rejected + duplicates``. Records repeated in
        overlapping exports (same host, channel and record_id) are loaded once, from the first
        file given; the others are counted as duplicates of the file they came from. EVTX logs
        (and their evtx_dump JSON) hold every provider's records: those of other providers
        than Software Protection are counted in ``skipped`` and are not in ``records``.
        From an event store, ``events`` holds the stored events of the period (nothing to
        account: they were accounted for at ingest, see ``activation-kb events store``).

    Raises
    ------
    TelemetryError
        For a missing, empty, unrecognised or unreadable file, an unsafe XML file, a missing
        ``tz`` for a local-time format, a bad ``format``/``tz``/``on_error``, and, with
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
    files = expand_paths(paths)
    if len(files) > 1:  # many files: read in groups, on all cores when they are big enough
        return _load_many(files, forced, tz, on_error)
    return _load_each(files, forced, tz, on_error)


def _load_each(files: list[Path], forced: Format | None, tz: str | None,
               on_error: str) -> LoadResult:
    """Read files one after the other in this process (one file, or the reference in tests)."""
    rejected: list[dict[str, Any]] = []
    readers: list[_File] = []
    with _progress(sum(p.stat().st_size for p in files)) as tick, _gc_paused():
        for path in files:
            counted = [0]

            def count(n: int, counted: list[int] = counted) -> None:
                counted[0] += n
                tick(n)

            src = Source(path, count)
            fmt = forced or sniff(src)
            spec = READERS[fmt]
            check_not_empty(src, expected=spec.label)
            if spec.local_times and tz is None:
                raise TelemetryError(
                    f"{src.name}: {spec.label} writes local times without an offset; pass "
                    "tz= (CLI: --tz) with the time zone of the machine that exported it, "
                    "e.g. tz='Europe/Paris'")
            reader = _File(src, fmt, spec, tz, on_error, rejected)
            try:
                reader.read()
            except _DATA_ERRORS as exc:
                raise TelemetryError(f"{src.name}: not readable as {spec.label} "
                                     f"({type(exc).__name__}: {exc})") from exc
            tick(max(path.stat().st_size - counted[0], 0))
            readers.append(reader)
    return _combine(readers, rejected)


def _load_many(files: list[Path], forced: Format | None, tz: str | None,
               on_error: str) -> LoadResult:
    """Read several files with :func:`._parallel.read_files` and account for them."""
    from ._parallel import PARALLEL_MIN_BYTES, read_files

    total = sum(p.stat().st_size for p in files)
    with _progress(total) as tick:
        parts = read_files(files, forced, tz, on_error, tick=tick,
                           workers=None if total >= PARALLEL_MIN_BYTES else 1)
    frames = [p.frame for p in parts if len(p.frame)]
    owner = (np.concatenate([p.owner for p in parts if len(p.frame)]) if frames
             else np.zeros(0, np.int64))
    return combine_parts(frames, owner, [s for p in parts for s in p.stats],
                         [r for p in parts for r in p.rejected])


def _combine(readers: list[_File], rejected: list[dict[str, Any]]) -> LoadResult:
    """Concatenate, de-duplicate, sort, and account per file."""
    frames = [f for r in readers for f in r.frames]
    owner = np.concatenate([np.full(len(f), i, np.int32) for i, r in enumerate(readers)
                            for f in r.frames]) if frames else np.zeros(0, np.int32)
    return combine_parts(frames, owner, [r.stats for r in readers], rejected)


def combine_parts(frames: list[pd.DataFrame], owner: np.ndarray, stats: list[dict[str, Any]],
                  rejected: list[dict[str, Any]]) -> LoadResult:
    """Concatenate frames (``owner``: the file index of each row), de-duplicate, sort, account.

    ``stats`` holds one dict per file (path, format, records, loaded, rejected, duplicates);
    ``loaded`` and ``duplicates`` are filled in here.
    """
    if not frames:
        events = S.empty_events()
    elif len(frames) == 1:
        events = frames[0]
    else:
        events = pd.concat(frames, ignore_index=True)
    dup = _duplicates(events)
    if dup.any():
        for i, count in enumerate(np.bincount(owner[dup], minlength=len(stats))):
            stats[i]["duplicates"] = int(count)
        events, owner = events.loc[~dup], owner[~dup]
    for i, count in enumerate(np.bincount(owner, minlength=len(stats))):
        stats[i]["loaded"] = int(count)
    if not _is_sorted(events):
        events = events.sort_values([S.EVENT_TIME, S.HOST], kind="stable")
    events = _conform(events.reset_index(drop=True))
    rej = (pd.DataFrame(rejected, columns=list(S.REJECTED_COLUMNS))
           .astype(dict(S.REJECTED_DTYPES)) if rejected else S.empty_rejected())
    return LoadResult(events=events, rejected=rej, records=sum(f["records"] for f in stats),
                      loaded=len(events), duplicates=int(dup.sum()), files=stats,
                      skipped=sum(f.get("skipped", 0) for f in stats))
