"""Read our own canonical CSV and Parquet files (fast, with pyarrow)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .. import schema as S

__all__ = ["read_canonical_csv", "read_canonical_parquet"]

_ARROW_TYPES = {
    S.EVENT_TIME: pa.timestamp("ns", tz="UTC"), S.CLIENT_TIME: pa.timestamp("ns"),
    S.EVENT_ID: pa.int32(), S.RECORD_ID: pa.int64(), S.RESULT_CODE: pa.uint32(),
    S.STATUS_FLAGS: pa.uint32(), S.KMS_PORT: pa.uint16(), S.IS_VM: pa.bool_(),
    S.IS_SUCCESS: pa.bool_(), S.LICENSE_STATUS: pa.int8(), S.MINUTES_TO_EXPIRY: pa.int32(),
    S.MIN_COUNT: pa.int16(), S.KMS_COUNT: pa.int16(), S.ACTIVATION_INTERVAL_MIN: pa.int32(),
    S.RENEWAL_INTERVAL_MIN: pa.int32(), S.SOURCE_RECORD: pa.int64(),
}


_STR = pd.StringDtype("pyarrow")


def _mapper(t: pa.DataType):
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _STR
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return pd.ArrowDtype(t)
    return None


def _to_frame(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas(types_mapper=_mapper)
    out = {}
    for col in df.columns:
        s = df[col]
        dtype = S.EVENT_DTYPES.get(col)
        if dtype is None:
            out[col] = s
            continue
        if col in (S.EVENT_TIME, S.CLIENT_TIME):
            out[col] = s.astype(dtype)
        elif isinstance(dtype, pd.CategoricalDtype):
            if not isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype("string").astype("category")
            out[col] = s.cat.set_categories(dtype.categories).astype(dtype)
        else:
            out[col] = s.astype(dtype)
    return pd.DataFrame(out)


def read_canonical_csv(path: Path) -> pd.DataFrame:
    """Read a canonical CSV written by :func:`write_events`."""
    with open(path, "rb") as fh:
        header = fh.readline().decode("utf-8-sig").strip().split(",")
    types = {c: _ARROW_TYPES.get(c, pa.string()) for c in header}
    for c in header:
        if isinstance(S.EVENT_DTYPES.get(c), pd.CategoricalDtype):
            types[c] = pa.dictionary(pa.int32(), pa.string())
    table = pacsv.read_csv(
        path, convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False,
            true_values=["True", "true"], false_values=["False", "false"]))
    if S.SITE in table.column_names:
        i = table.column_names.index(S.SITE)
        table = table.set_column(i, S.SITE, pa.compute.fill_null(table[S.SITE], ""))
    return _to_frame(table)


def read_canonical_parquet(path: Path) -> pd.DataFrame:
    """Read a canonical Parquet file."""
    return pd.read_parquet(path)
