"""Load Windows activation event exports into one canonical events frame.

Public API: :func:`load_events`, :func:`write_events`, :class:`LoadResult`, :class:`Format`.
Formats are sniffed from the content first, then the suffix; see ``_READERS``.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .. import schema as S
from ..errors import SchemaError, TelemetryError
from ._canonical import read_canonical_csv, read_canonical_parquet
from ._evtx import iter_evtx_records
from ._records import build_row
from ._result import LoadResult
from ._write import write_events
from ._xml import iter_xml_records

__all__ = ["load_events", "write_events", "LoadResult", "Format"]


class Format(str, enum.Enum):
    """Input formats :func:`load_events` reads."""

    WEVTUTIL_XML = "wevtutil_xml"
    EVTX = "evtx"
    CANONICAL_CSV = "canonical_csv"
    CANONICAL_PARQUET = "canonical_parquet"


_RECORD_READERS = {Format.WEVTUTIL_XML: iter_xml_records, Format.EVTX: iter_evtx_records}
_FRAME_READERS = {Format.CANONICAL_CSV: read_canonical_csv,
                  Format.CANONICAL_PARQUET: read_canonical_parquet}
#: format -> reader (record readers yield records, frame readers return canonical frames).
_READERS: dict[Format, Any] = {**_RECORD_READERS, **_FRAME_READERS}
_ALIASES = {"xml": Format.WEVTUTIL_XML, "csv": Format.CANONICAL_CSV, "parquet": Format.CANONICAL_PARQUET}


def _sniff(path: Path) -> Format:
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"ElfFile\x00"):
        return Format.EVTX
    if head.startswith(b"PAR1"):
        return Format.CANONICAL_PARQUET
    if head.startswith(b"\x1f\x8b"):
        return Format.WEVTUTIL_XML
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<") or head.startswith((b"\xff\xfe<", b"\xfe\xff")):
        return Format.WEVTUTIL_XML
    if text.startswith(S.EVENT_TIME.encode()) or text.startswith(b'"' + S.EVENT_TIME.encode()):
        return Format.CANONICAL_CSV
    by_suffix = {".evtx": Format.EVTX, ".xml": Format.WEVTUTIL_XML, ".parquet": Format.CANONICAL_PARQUET}
    fmt = by_suffix.get(path.suffix.lower())
    if fmt is None:
        raise TelemetryError(
            f"{path}: cannot tell the format (starts with {head[:16]!r}); expected wevtutil XML, "
            ".evtx, or a canonical CSV/Parquet from write_events; pass format= to choose")
    return fmt


def _format(path: Path, format: str | Format | None) -> Format:
    if format is None:
        return _sniff(path)
    if isinstance(format, Format):
        return format
    try:
        return _ALIASES.get(str(format).lower()) or Format(str(format).lower())
    except ValueError:
        raise TelemetryError(
            f"unknown format {format!r}; expected one of "
            f"{', '.join(f.value for f in Format)} (or xml, csv, parquet)") from None


def _rows_to_frame(rows, path, fmt, on_error, rejected, info) -> pd.DataFrame:
    """Build a canonical frame from row dicts; rows with an unreadable time are rejected."""
    if not rows:
        return S.empty_events()
    df = pd.DataFrame(rows, columns=list(S.EVENT_COLUMNS))
    times = pd.to_datetime(df[S.EVENT_TIME].astype("string").str.strip(), utc=True,
                           format="ISO8601", errors="coerce")
    bad = times.isna().to_numpy()
    if bad.any():
        first = int(df.loc[bad, S.SOURCE_RECORD].iloc[0])
        if on_error == "raise":
            raise TelemetryError(f"{path}: record {first}: TimeCreated/@SystemTime is not a time")
        for n, t in zip(df.loc[bad, S.SOURCE_RECORD], df.loc[bad, S.EVENT_TIME]):
            rejected.append({S.SOURCE_FILE: str(path), S.SOURCE_RECORD: int(n),
                             S.SOURCE_FORMAT: fmt.value, S.RAW: str(t),
                             "reason": f"TimeCreated/@SystemTime {t!r} is not a time"})
        info["rejected"] += int(bad.sum())
        df, times = df.loc[~bad], times[~bad]
    df[S.EVENT_TIME] = times
    try:
        return S.coerce_events(df)
    except SchemaError as exc:
        raise TelemetryError(f"{path}: records do not fit the events schema: {exc}") from exc


def _conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` itself when already canonical (fast path), else coerce it."""
    try:
        S.validate_events(frame)
        return frame
    except SchemaError:
        return S.coerce_events(frame)


def _progress(items: list[Path]):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return items
    return tqdm(items, desc="loading", unit="file", disable=not sys.stderr.isatty())


def load_events(
    paths: str | Path | Iterable[str | Path], format: str | Format | None = None,
    tz: str | None = None, on_error: str = "quarantine",
) -> LoadResult:
    """Load event exports into one canonical events frame.

    Parameters
    ----------
    paths : path or iterable of paths
        Files to read (wevtutil XML/RenderedXml, optionally gzipped; .evtx; canonical CSV/Parquet).
    format : str or Format, optional
        Force a format; by default it is sniffed from the content, then the suffix.
    tz : str, optional
        Time zone of local times; the supported formats all carry UTC, so it is accepted and unused.
    on_error : {"quarantine", "raise"}
        "quarantine" collects unusable records in ``result.rejected``; "raise" raises
        :class:`TelemetryError` naming the file and record.

    Returns
    -------
    LoadResult
        ``records == loaded + len(rejected) + duplicates``; duplicates share host, channel and
        record_id with an earlier record (first file wins). Rows are sorted by event_time, host.
    """
    if on_error not in ("quarantine", "raise"):
        raise TelemetryError(f"on_error={on_error!r}; expected 'quarantine' or 'raise'")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    frames: list[pd.DataFrame] = []
    rejected: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    for path in _progress(paths):
        if not path.is_file():
            raise TelemetryError(f"{path}: no such file; expected an event export to read")
        fmt = _format(path, format)
        info = {"path": str(path), "format": fmt.value, "records": 0, "loaded": 0, "rejected": 0,
                "duplicates": 0}
        if fmt in _FRAME_READERS:
            try:
                frame = _conform(_FRAME_READERS[fmt](path))
            except Exception as exc:
                raise TelemetryError(f"{path}: not a readable {fmt.value} file: {exc}") from exc
            info["records"] = len(frame)
            frame[S.SOURCE_FILE] = frame[S.SOURCE_FILE].fillna(str(path))
            frame[S.SOURCE_FORMAT] = frame[S.SOURCE_FORMAT].fillna(fmt.value)
        else:
            rows = []
            for n, fields, reason, raw in _RECORD_READERS[fmt](path):
                info["records"] += 1
                if fields is not None:
                    try:
                        row = build_row(**fields)
                    except (ValueError, TypeError, OverflowError) as exc:
                        fields, reason = None, f"unusable record: {exc}"
                if fields is None:
                    if on_error == "raise":
                        raise TelemetryError(f"{path}: record {n}: {reason}")
                    rejected.append({S.SOURCE_FILE: str(path), S.SOURCE_RECORD: n,
                                     S.SOURCE_FORMAT: fmt.value, "reason": reason, S.RAW: raw})
                    info["rejected"] += 1
                    continue
                row[S.SOURCE_FORMAT] = fmt.value
                row[S.SOURCE_FILE] = str(path)
                row[S.SOURCE_RECORD] = n
                rows.append(row)
            frame = _rows_to_frame(rows, path, fmt, on_error, rejected, info)
        frame["_file"] = len(files)
        frames.append(frame)
        files.append(info)
    events = pd.concat(frames, ignore_index=True) if frames else S.empty_events()
    if "_file" not in events.columns:
        events["_file"] = pd.Series([], dtype="int64")
    keyed = events[S.RECORD_ID].notna()
    dup = keyed & events.duplicated([S.HOST, S.CHANNEL, S.RECORD_ID], keep="first")
    for i, count in events.loc[dup, "_file"].value_counts().items():
        files[int(i)]["duplicates"] = int(count)
    events = events.loc[~dup]
    for i, count in events["_file"].value_counts().items():
        files[int(i)]["loaded"] = int(count)
    events = events.drop(columns="_file").sort_values(
        [S.EVENT_TIME, S.HOST], kind="stable").reset_index(drop=True)
    events = _conform(events)
    rej = pd.DataFrame(rejected, columns=list(S.REJECTED_COLUMNS)).astype(dict(S.REJECTED_DTYPES)) \
        if rejected else S.empty_rejected()
    return LoadResult(events=events, rejected=rej, records=sum(f["records"] for f in files),
                      loaded=len(events), duplicates=int(dup.sum()), files=files)
