"""Read our own canonical CSV and Parquet files (as written by ``write_events``) with pyarrow.

CSV is streamed in blocks: only the rows kept are held, as Arrow batches, and turned into the
events frame once at the end (strings stay Arrow-backed, so they are not copied), so peak memory
follows the events kept, not the file. Two paths:

* fast: pyarrow's streaming reader with every column typed up front; rows lacking
  ``event_time``, ``host`` or ``event_id``, and category values outside the schema's vocabulary,
  are rejected batch by batch with their record numbers;
* robust, taken from the start when the fast path meets anything it cannot take row by row (a
  value that does not fit its column, a time out of range, invalid UTF-8, a row with the wrong
  number of fields): Python's ``csv`` module over the decoded text, each undecodable byte kept as
  a lone surrogate; every row is checked on its own and rejected with its record number, its
  line and the column at fault, and the rows around it load.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .. import schema as S
from ..errors import SchemaError, TelemetryError
from ._build import Reject, clip_raw, shown
from ._fields import TIME_RANGE, parse_times
from ._source import Source, undecodable
from ._tabular import check_unique

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
#: Bytes per block of the streaming reader; rows per frame made (and per batch of the robust
#: path).
_BLOCK = 1 << 20
_ROWS = 65_536


class _Fallback(Exception):
    """The fast path met something it cannot take row by row: read again, robustly."""


def _categorical(column: str) -> bool:
    return isinstance(S.EVENT_DTYPES.get(column), pd.CategoricalDtype)


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow table -> pandas with the canonical dtypes (strings stay arrow-backed)."""
    df = table.to_pandas(types_mapper=_PANDAS.get, ignore_metadata=True, self_destruct=True,
                         split_blocks=True)
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


def _problems(batch: pa.RecordBatch | pa.Table) -> dict[int, str]:
    """Rows (index -> reason) lacking a required value or with a category outside the schema."""
    reasons: dict[int, str] = {}
    for column in REQUIRED:
        if column in batch.schema.names and batch[column].null_count:
            for i in np.flatnonzero(batch[column].is_null().to_numpy(zero_copy_only=False)):
                reasons.setdefault(int(i), f"column {column} is empty (required)")
    for column in batch.schema.names:
        dtype = S.EVENT_DTYPES.get(column)
        if not isinstance(dtype, pd.CategoricalDtype):
            continue
        allowed = pa.array([str(c) for c in dtype.categories])
        values = batch[column]
        chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
        if all(pa.types.is_dictionary(c.type) and pc.all(pc.is_in(c.dictionary, allowed)).as_py()
               is not False for c in chunks):
            continue  # every value used or not, is a category: nothing to look at row by row
        if pa.types.is_dictionary(values.type):
            values = values.cast(pa.string())
        bad = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, allowed)))
        for i in np.flatnonzero(bad.to_numpy(zero_copy_only=False)):
            reasons.setdefault(int(i), f"column {column}: {shown(values[int(i)].as_py())} is "
                               "not one of its categories")
    return reasons


def _keep(batch: pa.RecordBatch, reasons: dict[int, str]) -> pa.RecordBatch:
    if not reasons:
        return batch
    mask = np.ones(batch.num_rows, bool)
    mask[list(reasons)] = False
    return batch.filter(pa.array(mask))


def _header(src: Source) -> list[str]:
    head = src.head(1 << 16).decode("utf-8-sig", "replace")
    line = head.splitlines()[0] if head else ""
    header = [h.strip().strip('"') for h in next(csv.reader([line]), [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise TelemetryError(f"{src.name}: no column {', '.join(missing)}; expected {_EXPECT}")
    check_unique(header, src, _EXPECT)
    return header


def _fast(src: Source, header: list[str]) -> Iterator[tuple[pa.RecordBatch, dict[int, str]]]:
    """Stream typed batches with pyarrow; raise :class:`_Fallback` on anything it cannot take."""
    types = {c: pa.dictionary(pa.int32(), pa.string()) if _categorical(c)
             else _ARROW_TYPES.get(c, pa.string()) for c in header}
    stream = pa.input_stream(str(src.path), compression="gzip" if src.is_gzip else None)
    try:
        reader = pacsv.open_csv(
            stream, read_options=pacsv.ReadOptions(block_size=_BLOCK),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False,
                true_values=_TRUE, false_values=_FALSE))
        if reader.schema.names != header:
            raise _Fallback
        for batch in reader:
            yield batch, _problems(batch)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError) as exc:
        raise _Fallback from exc
    finally:
        stream.close()


def _from_text(values: pa.Array, column: str) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Convert one text column; return (values, where a value did not fit, where out of range)."""
    dtype = S.EVENT_DTYPES.get(column)
    s = pd.Series(values, dtype=_STR)
    s = s.where(s != "")
    target = _ARROW_TYPES.get(column)
    outside = np.zeros(len(s), bool)
    if column in (S.EVENT_TIME, S.CLIENT_TIME):
        out, outside = parse_times(s)
        if column == S.CLIENT_TIME:
            out = out.dt.tz_localize(None)
    elif target is not None and pa.types.is_boolean(target):
        out = s.map(dict.fromkeys(_TRUE, True) | dict.fromkeys(_FALSE, False)).astype(dtype)
    elif target is not None:
        info = np.iinfo(target.to_pandas_dtype())
        num = pd.to_numeric(s.where(s.str.fullmatch(r"-?\d{1,20}", na=False)), errors="coerce")
        out = num.where((num >= info.min) & (num <= info.max)).astype(dtype)
    elif isinstance(dtype, pd.CategoricalDtype):
        out = s.where(s.isin([str(c) for c in dtype.categories]))
    else:
        return values, np.zeros(len(s), bool), outside
    failed = (s.notna() & out.isna()).to_numpy() & ~outside
    arrow = pa.array(out, type=target) if target is not None else pa.array(out, pa.string())
    return arrow, failed, outside


def _robust(src: Source, header: list[str],
            ) -> Iterator[tuple[pa.RecordBatch, dict[int, str], dict[int, str]]]:
    """Read row by row with the csv module; yield batches of text converted column by column.

    Each batch comes with its rejected rows (index -> reason) and their raw text.
    """
    lo, hi = (t.date().isoformat() for t in TIME_RANGE)
    with src.open_text() as fh:
        reader = csv.reader(fh)
        next(reader, None)
        record = 0
        while True:
            rows: list[list[str]] = []
            numbers: list[int] = []
            reasons: dict[int, str] = {}
            raws: dict[int, str] = {}
            for fields in reader:
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                record += 1
                if len(fields) != len(header) or any(undecodable(f) for f in fields):
                    raws[len(rows)] = clip_raw(",".join(f[:600] for f in fields[:40]))
                if len(fields) != len(header):
                    reasons[len(rows)] = (f"line {reader.line_num}: {len(fields)} fields, "
                                          f"expected {len(header)}")
                    fields = [""] * len(header)
                elif any(undecodable(f) for f in fields):
                    bad = next(h for h, f in zip(header, fields) if undecodable(f))
                    reasons[len(rows)] = (f"line {reader.line_num}: column {bad}: bytes that "
                                          "are not valid UTF-8 text")
                    fields = [""] * len(header)
                rows.append(fields)
                numbers.append(record)
                if len(rows) >= _ROWS:
                    break
            if not rows:
                return
            columns, names = [], []
            texts = list(zip(*rows))
            for i, column in enumerate(header):
                values, failed, outside = _from_text(pa.array(texts[i], pa.string()), column)
                for j in np.flatnonzero(failed | outside):
                    why = (f"outside the range of event times ({lo} to {hi})" if outside[j] else
                           f"does not fit its type {S.EVENT_DTYPES.get(column)}")
                    if int(j) not in reasons:
                        reasons[int(j)] = f"column {column}: {shown(texts[i][j])} {why}"
                        raws[int(j)] = clip_raw(",".join(f[:600] for f in rows[j][:40]))
                columns.append(values)
                names.append(column)
            batch = pa.record_batch(columns, names=names)
            for column in REQUIRED:
                for j in np.flatnonzero(batch[column].is_null().to_numpy(zero_copy_only=False)):
                    reasons.setdefault(int(j), f"column {column} is empty (required)")
            yield batch.append_column("_record", pa.array(numbers, pa.int64())), reasons, raws
            del rows, texts


class _Frames:
    """Kept rows of the blocks read, turned into a canonical frame every ``_ROWS`` rows.

    Only the rows kept are held, once: as Arrow until a group is full, then as its frame.
    """

    def __init__(self, src: Source) -> None:
        self.src = src
        self.frames: list[pd.DataFrame] = []
        self._group: list[pa.RecordBatch] = []
        self._rows = 0

    def add(self, batch: pa.RecordBatch, reasons: dict[int, str]) -> None:
        batch = _keep(batch, reasons)
        if batch.num_rows:
            self._group.append(batch)
            self._rows += batch.num_rows
        if self._rows >= _ROWS:
            self.close()

    def close(self) -> list[pd.DataFrame]:
        if self._group:
            table = pa.Table.from_batches(self._group)
            self._group, self._rows = [], 0
            numbers = table["_record"].to_numpy()
            table = table.drop_columns(["_record"])
            self.frames.append(_finish(_to_frame(table), self.src, "canonical_csv", numbers))
        return self.frames


def read_canonical_csv(src: Source) -> Iterator[pd.DataFrame | Reject]:
    """Yield the rejects, then the canonical frames, of a CSV written by ``write_events``.

    Blocks become frames as they are read (every ``_ROWS`` rows), so only the rows kept are
    held, once.
    """
    header = _header(src)
    frames = _Frames(src)
    rejects: list[Reject] = []
    try:
        base = 0
        for batch, reasons in _fast(src, header):
            numbers = np.arange(base + 1, base + batch.num_rows + 1)
            base += batch.num_rows
            rejects.extend(Reject(int(numbers[i]), why, "") for i, why in sorted(reasons.items()))
            frames.add(batch.append_column("_record", pa.array(numbers, pa.int64())), reasons)
        src.tick(src.path.stat().st_size)
    except _Fallback:
        frames, rejects = _Frames(src), []
        src.problem = None
        for batch, reasons, raws in _robust(src, header):
            numbers = batch["_record"].to_numpy()
            rejects.extend(Reject(int(numbers[i]), why, raws.get(i, ""))
                           for i, why in sorted(reasons.items()))
            frames.add(batch, reasons)
    yield from rejects
    yield from frames.close()


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


def _parquet_times(table: pa.Table) -> tuple[pa.Table, dict[int, str]]:
    """Blank the times a nanosecond column cannot hold (a Parquet in us or ms may have them)."""
    reasons: dict[int, str] = {}
    lo, hi = TIME_RANGE
    for column in (S.EVENT_TIME, S.CLIENT_TIME):
        if column not in table.column_names:
            continue
        values = table[column]
        if not pa.types.is_timestamp(values.type) or values.type.unit == "ns":
            continue
        bounds = [pa.scalar(t.tz_localize(values.type.tz) if values.type.tz else t,
                            type=values.type) for t in (lo, hi)]
        outside = pc.fill_null(pc.or_(pc.less(values, bounds[0]), pc.greater(values, bounds[1])),
                               False)
        for i in np.flatnonzero(outside.to_numpy(zero_copy_only=False)):
            reasons.setdefault(int(i), f"column {column}: {values[int(i)]} is outside the range "
                               f"of event times ({lo.date()} to {hi.date()})")
        table = table.set_column(table.column_names.index(column), column,
                                 pc.if_else(outside, pa.scalar(None, values.type), values))
    return table, reasons


def _parquet_batches(src: Source) -> Iterator[pa.Table]:
    """Yield the Parquet file's rows, ``_ROWS`` at a time (a gzipped one is decompressed first)."""
    expect = "a canonical events Parquet written by write_events"
    try:
        if src.is_gzip:
            with src.open_binary() as fh:
                parquet = pq.ParquetFile(pa.BufferReader(fh.read()))
        else:
            parquet = pq.ParquetFile(src.path)
            src.tick(src.path.stat().st_size)
        names = parquet.schema_arrow.names
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise TelemetryError(f"{src.name}: no column {', '.join(missing)}; expected {expect}")
        check_unique(names, src, expect)
        for batch in parquet.iter_batches(batch_size=_ROWS):
            yield pa.Table.from_batches([batch])
    except (pa.ArrowException, OSError) as exc:
        raise TelemetryError(f"{src.name}: not a readable Parquet file ({exc}); expected "
                             f"{expect}") from exc


def read_canonical_parquet(src: Source) -> Iterator[pd.DataFrame | Reject]:
    """Yield the rejects (rows lacking required values) and frames of a canonical Parquet.

    Read ``_ROWS`` rows at a time, each group turned into its frame at once.
    """
    base = 0
    for table in _parquet_batches(src):
        table, reasons = _parquet_times(table)
        for i, why in _problems(table).items():
            reasons.setdefault(i, why)
        start, base = base, base + table.num_rows
        numbers = np.arange(start + 1, base + 1)
        if reasons:
            table = _keep(table, reasons)
            numbers = np.delete(numbers, sorted(reasons))
        for i, why in sorted(reasons.items()):
            yield Reject(start + i + 1, why, "")
        if not table.num_rows:
            continue
        try:
            frame = _to_frame(table)
        except (TypeError, ValueError, pa.ArrowException) as exc:
            raise TelemetryError(f"{src.name}: a column does not fit the events schema ({exc})") \
                from exc
        yield _finish(frame, src, "canonical_parquet", numbers)
