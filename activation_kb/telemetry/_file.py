"""Read one export file: tell its format, read its records in batches, account for each one.

:func:`read_file` is the per-file path of :func:`~activation_kb.telemetry.load_events`: a plain
function of plain arguments whose result (:class:`FileResult` or :class:`~._source.Skipped`)
pickles, so files can be read in worker processes and combined afterwards.

Every record read ends up in exactly one place: a batch of events, or the file's rejects (with
its number and reason). Rejects are kept column-wise in Arrow arrays and their raw text is cut
at :data:`~._build.RAW_LIMIT` characters, so a file of a million damaged records costs tens of
megabytes, not gigabytes.
"""

from __future__ import annotations

import csv
import gc
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from lxml import etree

from .. import schema as S
from ..errors import ActivationKBError, TelemetryError
from ._build import (
    CUT_MARK,
    RAW_LIMIT,
    Reject,
    Skipped,
    TimeParser,
    Unreadable,
    build_events,
    clip_raw,
)
from ._formats import (
    READERS,
    Format,
    FormatSpec,
    check_not_empty,
    detect,
    not_export_reason,
    sniff,
)
from ._source import SkippedFile, Source

__all__ = ["read_file", "open_reader", "reading", "Reader", "FileResult", "BATCH",
           "UNREADABLE_VALUE_DTYPES", "empty_unreadable_values", "gc_paused"]

#: Raw records parsed together (bounded memory: the batch, not the file, is held as text).
BATCH = 50_000
#: Errors of damaged input that a reader may let through; they become TelemetryError.
_DATA_ERRORS = (OSError, EOFError, zlib.error, UnicodeError, struct.error, etree.LxmlError,
                pa.ArrowException, csv.Error)
#: Formats read by third-party parsers, which raise many kinds of errors on damaged files.
_FOREIGN = (Format.EVTX,)
_STR = S.EVENT_DTYPES[S.HOST]
_REASON_LIMIT = 1000

#: Values present in loaded records but unreadable (``LoadResult.unreadable_values``).
UNREADABLE_VALUE_DTYPES: dict[str, object] = {
    S.SOURCE_FILE: _STR, S.SOURCE_RECORD: "Int64", S.SOURCE_FORMAT: _STR, "column": _STR,
    "value": _STR, "reason": _STR,
}


def empty_unreadable_values() -> pd.DataFrame:
    """Return an unreadable-values frame with no rows."""
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in UNREADABLE_VALUE_DTYPES.items()})


@contextmanager
def gc_paused() -> Iterator[None]:
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


def _text(value: str) -> str:
    """``value`` with any undecodable byte (a lone surrogate) as U+FFFD, ready for Arrow."""
    return value.encode("utf-8", "replace").decode("utf-8") if not value.isascii() else value


def _strings(values: list[Any]) -> pd.api.extensions.ExtensionArray:
    return pd.array(pa.array(values, pa.string()), dtype=_STR)


def _constant(value: str, n: int) -> pd.api.extensions.ExtensionArray:
    return pd.array(pa.repeat(pa.scalar(value, pa.string()), n), dtype=_STR)


class _Rejects:
    """A file's rejected records, held column-wise (Arrow chunks of 10,000), raw text capped."""

    def __init__(self) -> None:
        self.count = self.cut = 0
        self.last_reason = ""
        self._records: list[int] = []
        self._reasons: list[str] = []
        self._raws: list[str] = []
        self._chunks: list[pa.RecordBatch] = []

    def add(self, item: Reject) -> None:
        raw = item.raw or ""
        if len(raw) > RAW_LIMIT:
            raw = clip_raw(raw)
        if raw.endswith(CUT_MARK):
            self.cut += 1
        reason = item.reason
        if len(reason) > _REASON_LIMIT:
            reason = reason[:_REASON_LIMIT] + CUT_MARK
        self._records.append(int(item.record))
        self._reasons.append(_text(reason))
        self._raws.append(_text(raw))
        self.count += 1
        self.last_reason = reason
        if len(self._records) >= 10_000:
            self._flush()

    def _flush(self) -> None:
        if self._records:
            self._chunks.append(pa.record_batch(
                [pa.array(self._records, pa.int64()), pa.array(self._reasons, pa.string()),
                 pa.array(self._raws, pa.string())], names=["record", "reason", "raw"]))
            self._records, self._reasons, self._raws = [], [], []

    def frame(self, name: str, fmt: str) -> pd.DataFrame:
        self._flush()
        if not self._chunks:
            return S.empty_rejected()
        table = pa.Table.from_batches(self._chunks)
        self._chunks = []
        n = table.num_rows
        return pd.DataFrame({
            S.SOURCE_FILE: _constant(name, n),
            S.SOURCE_RECORD: pd.array(table["record"].to_numpy(), dtype="Int64"),
            S.SOURCE_FORMAT: _constant(fmt, n),
            "reason": pd.array(table["reason"], dtype=_STR),
            S.RAW: pd.array(table["raw"], dtype=_STR),
        })


@dataclass
class FileResult:
    """What reading one file gave: its events (in batches), rejects and unreadable values.

    Attributes
    ----------
    stats : dict
        ``path``, ``format``, ``records``, ``loaded``, ``rejected``, ``duplicates`` (loaded and
        duplicates are set when files are combined: before that, loaded counts every event).
    frames : list of pandas.DataFrame
        Canonical events, batch by batch, in file order.
    rejected : pandas.DataFrame
        Rejected records (``REJECTED_COLUMNS``).
    unreadable : pandas.DataFrame
        Values present in loaded records but unreadable (:data:`UNREADABLE_VALUE_DTYPES`).
    raw_cut : int
        Rejected records whose raw text was cut at ``RAW_LIMIT`` characters.
    """

    stats: dict[str, Any]
    frames: list[pd.DataFrame] = field(default_factory=list)
    rejected: pd.DataFrame = field(default_factory=S.empty_rejected)
    unreadable: pd.DataFrame = field(default_factory=empty_unreadable_values)
    raw_cut: int = 0


class Reader:
    """Reads one file: batches raw records through the builder, counts, rejects.

    ``stats`` holds the file's counts (path, format, records, loaded, rejected, duplicates,
    skipped); ``frames`` its events; ``rejects`` and ``unreadable`` what could not be loaded or
    read. :mod:`._parallel` drives several readers at once through the same methods.
    """

    def __init__(self, src: Source, fmt: Format, spec: FormatSpec, tz: str | None,
                 on_error: str) -> None:
        self.src, self.fmt, self.spec, self.on_error = src, fmt, spec, on_error
        self.source_format = spec.source_format or fmt.value
        self.times = TimeParser(spec.time_formats, tz if spec.local_times else None)
        self.rejects = _Rejects()
        self.unreadable: list[Unreadable] = []
        self.frames: list[pd.DataFrame] = []
        self.stats: dict[str, Any] = {"path": src.name, "format": fmt.value, "records": 0,
                                      "loaded": 0, "rejected": 0, "duplicates": 0, "skipped": 0}
        self._pending: list[tuple] = []

    def reject(self, item: Reject) -> None:
        if self.on_error == "raise":
            raise TelemetryError(f"{self.src.name}: record {item.record}: {item.reason}")
        self.rejects.add(item)
        self.stats["rejected"] = self.rejects.count

    def flush(self) -> None:
        if not self._pending:
            return
        frame, rejects, unreadable = build_events(self._pending, self.src.name,
                                                  self.source_format, self.times)
        self._pending = []
        for item in rejects:
            self.reject(item)
        self.unreadable.extend(unreadable)
        if len(frame):
            self.frames.append(frame)
        pa.default_memory_pool().release_unused()  # the batch's scratch memory, back to the OS

    def read(self) -> None:
        """Read every record of the file (errors of damaged input become TelemetryError)."""
        with reading(self):
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
        self.finish()

    def finish(self) -> None:
        """Reject the lost end of a damaged gzip file as one truncated record."""
        if self.src.problem and not self.rejects.last_reason.startswith("truncated"):
            self.stats["records"] += 1
            self.reject(Reject(self.stats["records"], f"truncated: {self.src.problem}; records "
                               "after the last one read are lost", ""))

    def result(self) -> FileResult:
        self.stats["loaded"] = sum(len(f) for f in self.frames)
        return FileResult(self.stats, self.frames, self.rejected_frame(),
                          self.unreadable_frame(), self.rejects.cut)

    def rejected_frame(self) -> pd.DataFrame:
        """Return the file's rejected records (``REJECTED_COLUMNS``)."""
        return self.rejects.frame(self.src.name, self.source_format)

    def unreadable_frame(self) -> pd.DataFrame:
        """Return the values present in the file's loaded records but unreadable."""
        items = self.unreadable
        if not items:
            return empty_unreadable_values()
        n = len(items)
        return pd.DataFrame({
            S.SOURCE_FILE: _constant(self.src.name, n),
            S.SOURCE_RECORD: pd.array(np.array([u.record for u in items], np.int64),
                                      dtype="Int64"),
            S.SOURCE_FORMAT: _constant(self.source_format, n),
            "column": _strings([u.column for u in items]),
            "value": _strings([u.value for u in items]),
            "reason": _strings([u.reason for u in items]),
        })


@contextmanager
def reading(reader: Reader) -> Iterator[None]:
    """Turn the errors of a damaged or unreadable file into one TelemetryError naming it."""
    name, label = reader.src.name, reader.spec.label
    try:
        yield
    except ActivationKBError:
        raise
    except PermissionError as exc:
        raise TelemetryError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    except _DATA_ERRORS as exc:
        raise TelemetryError(f"{name}: not readable as {label} ({type(exc).__name__}: {exc})") \
            from exc
    except Exception as exc:
        if reader.fmt not in _FOREIGN:
            raise
        raise TelemetryError(f"{name}: not readable as {label} ({type(exc).__name__}: {exc})") \
            from exc


def _format_of(src: Source, forced: Format | None) -> Format | SkippedFile:
    """Return the file's format (forced, else sniffed), or why it is skipped (not an export)."""
    if forced is not None:
        return forced
    head = src.head()
    found = detect(src, head) if head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe") else None
    if found is not None:
        return found
    why = not_export_reason(src, head)
    if why is None:
        sniff(src)  # raises the error that names the file and the formats read
    return SkippedFile(src.name, why)


def open_reader(path: str | Path, format: Format | None = None, tz: str | None = None,
                on_error: str = "quarantine", tick: Callable[[int], None] | None = None,
                ) -> Reader | SkippedFile:
    """Tell a file's format and check it can be read; return its reader (nothing read yet).

    Returns :class:`~._source.SkippedFile` when, without ``format``, the file is not an export.
    """
    src = Source(Path(path), tick or _no_tick)
    fmt = _format_of(src, format)
    if isinstance(fmt, SkippedFile):
        return fmt
    spec = READERS[fmt]
    check_not_empty(src, expected=spec.label)
    if spec.local_times and tz is None:
        raise TelemetryError(
            f"{src.name}: {spec.label} writes local times without an offset; pass tz= (CLI: "
            "--tz) with the time zone of the machine that exported it, e.g. tz='Europe/Paris'")
    return Reader(src, fmt, spec, tz, on_error)


def _no_tick(n: int) -> None:
    """Progress callback that shows nothing."""


def read_file(path: str | Path, format: Format | None = None, tz: str | None = None,
              on_error: str = "quarantine", tick: Callable[[int], None] | None = None,
              ) -> FileResult | SkippedFile:
    """Read one export file into canonical events, rejects and unreadable values.

    Parameters
    ----------
    path : str or Path
        The file (plain or gzipped).
    format : Format, optional
        Read it as this format; by default its content (then its suffix) tells.
    tz : str, optional
        Time zone of local times (see :func:`~activation_kb.telemetry.load_events`).
    on_error : {"quarantine", "raise"}
        What to do with an unusable record.
    tick : callable, optional
        Called with the number of bytes read, for a progress bar.

    Returns
    -------
    FileResult or SkippedFile
        ``SkippedFile`` when, without ``format``, the file is not an export (a README, notes,
        an archive): its content is none of the formats and its suffix is not an export's.

    Raises
    ------
    TelemetryError
        For an unreadable, empty, unrecognised or damaged file, naming it.
    """
    reader = open_reader(path, format, tz, on_error, tick)
    if isinstance(reader, SkippedFile):
        return reader
    reader.read()
    return reader.result()
