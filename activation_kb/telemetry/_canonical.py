"""Read our own canonical CSV and Parquet files (as written by ``write_events``) with pyarrow.

The fast path reads the CSV with every column typed up front (multi-threaded pyarrow) and hands
the columns to pandas without copying strings. When a value does not fit its column, the file
is read again as text and each bad row is rejected with its record number, the column and the
value; rows without ``event_time``, ``host`` or ``event_id`` and category values outside the
schema's vocabulary are rejected too.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .. import schema as S
from ..errors import SchemaError, TelemetryError
from ._build import Reject
from ._source import Source

__all__ = ["read_canonical_csv", "read_canonical_parquet", "REQUIRED"]

REQUIRED = (S.EVENT_TIME, S.HOST, S.EVENT_ID)
_ARROW_TYPES = {
    S.EVENT_TIME: pa.timestamp("ns", tz="UTC"), S.CLIENT_TIME: pa.timestamp("ns"),
    S.EVENT_ID: pa.int32(), S.RECORD_ID: pa.int64(), S.RESULT_CODE: pa.uint32(),
    S.STATUS_FLAGS: pa.uint32(), S.KMS_PORT: pa.uint16(), S.IS_VM: pa.bool_(),
    S.IS_SUCCESS: pa.bool_(), S.LICENSE_STATUS: pa.int8(), S.MINUTES_TO_EXPIRY: pa.int32(),
    S.MIN_COUNT: pa.int16(), S.KMS_COUNT: pa.int16(), S.ACTIVATION_INTERVAL_MIN: pa.int32(),
    S.RENEWAL_INTERVAL_MIN: pa.int32(), S.SOURCE_RECORD: pa.int64(),
}
_STR = S.EVENT_DTYPES[S.HOST]
_PANDAS = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
           pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
           pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(),
           pa.bool_(): pd.BooleanDtype(), pa.string(): _STR, pa.large_string(): _STR}
_EXPECT = "a canonical events CSV written by write_events (header event_time,host,...)"
_TRUE, _FALSE = ["True", "true", "TRUE", "1"], ["False", "false", "FALSE", "0"]


def _categorical(column: str) -> bool:
    return isinstance(S.EVENT_DTYPES.get(column), pd.CategoricalDtype)


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow table -> pandas with the canonical dtypes (strings stay arrow-backed)."""
    df = table.to_pandas(types_mapper=_PANDAS.get, ignore_metadata=True)
    for column in df.columns:
        dtype = S.EVENT_DTYPES.get(column)
        if dtype is None or df[column].dtype == dtype:
            continue
        if isinstance(dtype, pd.CategoricalDtype):
            s = df[column]
            if not isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype("category")
            df[column] = s.cat.set_categories(dtype.categories).astype(dtype)
        else:
            df[column] = df[column].astype(dtype)
    return df


def _problems(table: pa.Table, frame: pd.DataFrame) -> np.ndarray:
    """Rows whose required columns are empty or whose categories are outside the vocabulary."""
    bad = np.zeros(len(frame), bool)
    for column in REQUIRED:
        bad |= frame[column].isna().to_numpy()
    for column in frame.columns:
        if _categorical(column):
            before = table[column].is_null().to_numpy(zero_copy_only=False)
            bad |= frame[column].isna().to_numpy() & ~before
    return bad


def _from_text(values: pa.ChunkedArray, column: str) -> tuple[pd.Series, np.ndarray]:
    """Convert a column read as text; return (values, where a non-empty value did not convert)."""
    dtype = S.EVENT_DTYPES.get(column)
    s = pd.Series(values, dtype=_STR)
    s = s.where(s != "")
    target = _ARROW_TYPES.get(column)
    if column == S.EVENT_TIME:
        out = pd.to_datetime(s, format="ISO8601", errors="coerce", utc=True).astype(dtype)
    elif column == S.CLIENT_TIME:
        out = pd.to_datetime(s, format="ISO8601", errors="coerce", utc=True)
        out = out.dt.tz_localize(None).astype(dtype)
    elif target is not None and pa.types.is_boolean(target):
        out = s.map(dict.fromkeys(_TRUE, True) | dict.fromkeys(_FALSE, False)).astype(dtype)
    elif target is not None:
        info = np.iinfo(target.to_pandas_dtype())
        num = pd.to_numeric(s.where(s.str.fullmatch(r"-?\d{1,20}", na=False)), errors="coerce")
        out = num.where((num >= info.min) & (num <= info.max)).astype(dtype)
    elif isinstance(dtype, pd.CategoricalDtype):
        out = pd.Series(pd.Categorical(s.where(s.isin(list(dtype.categories))), dtype=dtype))
    else:
        return s, np.zeros(len(s), bool)
    return out, (s.notna() & out.isna()).to_numpy()


def _numbers(rows: int, invalid: list[pacsv.InvalidRow]) -> np.ndarray:
    """Record numbers of the rows kept by pyarrow (those of skipped rows left out)."""
    skipped = [r.number - 1 for r in invalid if r.number is not None]
    numbers = np.arange(1, rows + len(skipped) + 1)
    return np.delete(numbers, np.array(skipped, dtype=np.int64) - 1) if skipped else numbers


def _read_as_text(stream, header: list[str],
                  ) -> tuple[pd.DataFrame, np.ndarray, list[Reject], list[pacsv.InvalidRow]]:
    """Slow path: read every column as text, convert each, reject the rows that do not fit."""
    invalid: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    table = pacsv.read_csv(stream(), read_options=pacsv.ReadOptions(use_threads=False),
                           parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                                            invalid_row_handler=on_invalid),
                           convert_options=pacsv.ConvertOptions(
                               column_types={c: pa.string() for c in header}))
    numbers = _numbers(table.num_rows, invalid)
    columns: dict[str, pd.Series] = {}
    reasons: dict[int, str] = {}
    for column in header:
        columns[column], failed = _from_text(table[column], column)
        for i in np.flatnonzero(failed):
            reasons.setdefault(i, f"column {column}: {table[column][i].as_py()!r} does not fit "
                               f"its type {S.EVENT_DTYPES.get(column)}")
    frame = pd.DataFrame(columns)
    for column in REQUIRED:
        for i in np.flatnonzero(frame[column].isna().to_numpy()):
            reasons.setdefault(i, f"column {column} is empty (required)")
    keep = np.ones(len(frame), bool)
    keep[list(reasons)] = False
    rejects = [Reject(int(numbers[i]), why, "") for i, why in sorted(reasons.items())]
    return frame[keep].reset_index(drop=True), numbers[keep], rejects, invalid


def read_canonical_csv(src: Source) -> Iterator[pd.DataFrame | Reject]:
    """Yield the canonical frame of a CSV written by ``write_events``, then its rejects."""
    head = src.head(1 << 16).decode("utf-8-sig", "replace")
    header = head.splitlines()[0].split(",") if head else []
    header = [h.strip().strip('"') for h in header]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise TelemetryError(f"{src.name}: no column {', '.join(missing)}; expected {_EXPECT}")
    compression = "gzip" if src.is_gzip else None

    def stream():
        return pa.input_stream(str(src.path), compression=compression)

    types = {c: pa.dictionary(pa.int32(), pa.string()) if _categorical(c)
             else _ARROW_TYPES.get(c, pa.string()) for c in header}
    invalid: list[pacsv.InvalidRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    def read(use_threads: bool = True) -> pa.Table:
        return pacsv.read_csv(stream(), read_options=pacsv.ReadOptions(use_threads=use_threads),
                              parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                                               invalid_row_handler=on_invalid),
                              convert_options=pacsv.ConvertOptions(
                                  column_types=types, strings_can_be_null=True,
                                  quoted_strings_can_be_null=False,
                                  true_values=_TRUE, false_values=_FALSE))

    try:
        table = read()
        if invalid and any(r.number is None for r in invalid):
            invalid.clear()
            table = read(use_threads=False)
        frame = _to_frame(table)
        bad = _problems(table, frame)
    except pa.ArrowInvalid:  # a value does not fit its column: take the slow path
        frame, bad = None, None
    rejects: list[Reject] = []
    if frame is None or bad.any():
        frame, numbers, rejects, invalid = _read_as_text(stream, header)
    else:
        numbers = _numbers(len(frame), invalid)
    src.tick(src.path.stat().st_size)
    for row in invalid:
        yield Reject(row.number - 1 if row.number is not None else 0,
                     f"{row.actual_columns} fields, expected {row.expected_columns}",
                     row.text[:2000])
    yield from rejects
    yield _finish(frame, src, "canonical_csv", numbers)


def _finish(frame: pd.DataFrame, src: Source, fmt: str, numbers: np.ndarray) -> pd.DataFrame:
    """Fill provenance columns where the file left them empty; bring to the canonical schema."""
    try:
        S.validate_events(frame)
    except SchemaError:  # columns missing or not in canonical order: bring them there
        try:
            frame = S.coerce_events(frame)
        except SchemaError as exc:
            raise TelemetryError(f"{src.name}: {exc}") from exc
    if frame[S.SOURCE_FILE].isna().all():
        frame[S.SOURCE_FILE] = pd.array(pa.repeat(src.name, len(frame)), dtype=_STR)
    if frame[S.SOURCE_FORMAT].isna().all():
        frame[S.SOURCE_FORMAT] = frame[S.SOURCE_FORMAT].fillna(fmt)
    if frame[S.SOURCE_RECORD].isna().all():
        frame[S.SOURCE_RECORD] = pd.array(numbers, dtype="Int64")
    if frame[S.SITE].hasnans:
        frame[S.SITE] = frame[S.SITE].fillna("")
    return frame


def read_canonical_parquet(src: Source) -> Iterator[pd.DataFrame | Reject]:
    """Yield the rejects (rows lacking required values), then the frame of a canonical Parquet."""
    try:
        if src.is_gzip:
            with src.open_binary() as fh:
                table = pq.read_table(pa.BufferReader(fh.read()))
        else:
            table = pq.read_table(src.path)
            src.tick(src.path.stat().st_size)
    except (pa.ArrowException, OSError) as exc:
        raise TelemetryError(f"{src.name}: not a readable Parquet file ({exc}); expected "
                             "a canonical events Parquet written by write_events") from exc
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise TelemetryError(f"{src.name}: no column {', '.join(missing)}; expected a canonical "
                             "events Parquet written by write_events")
    try:
        frame = _to_frame(table)
    except (TypeError, ValueError) as exc:
        raise TelemetryError(f"{src.name}: a column does not fit the events schema ({exc})") \
            from exc
    bad = _problems(table, frame)
    numbers = np.arange(1, len(frame) + 1)
    for i in np.flatnonzero(bad):
        empty = [c for c in REQUIRED if pd.isna(frame[c].iloc[i])]
        why = (f"column {empty[0]} is empty (required)" if empty
               else "a category value is outside the events schema's vocabulary")
        yield Reject(int(numbers[i]), why, "")
    yield _finish(frame[~bad].reset_index(drop=True), src, "canonical_parquet", numbers[~bad])
