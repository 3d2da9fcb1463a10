"""From a tidy counts frame to (keys x buckets) matrices on a regular wall-clock grid.

The grid runs from the first to the last bucket of the frame in steps of the bucket size, in the
wall-clock time of the ``time`` column (its own time zone, or naive). A bucket absent from the
frame, or whose value is NaN, is missing (NaN), never zero, and keeps its place, so that the
hour-of-week slots do not shift. Several rows for one bucket and key are summed (the hour repeated
when daylight saving time ends, counts of one bucket from two exports): their number is reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import AnalysisError

_RESERVED = ("value", "failures", "attempts", "expected", "score", "flagged", "in_spike")
_MAX_CELLS = 50_000_000  # keys x buckets: beyond this the matrices no longer fit comfortably
_MONDAY = pd.Timestamp("1970-01-05")  # hour-of-week slots count from a Monday midnight
_DAY = pd.Timedelta(days=1)
_HOUR = pd.Timedelta(hours=1)


@dataclass(frozen=True)
class Columns:
    """Which columns of the counts frame hold the time, the value, the exposure and the keys."""

    time: str
    value: str
    exposure: str | None
    keys: list[str]


@dataclass(frozen=True)
class Season:
    """Seasonal slots of the grid: a profile unit (an hour, or the step) and its slots."""

    unit: np.ndarray  # (T,) index of each bucket's unit, from 0
    per_unit: int  # buckets per unit
    per_day: int  # units per day
    day_slot: np.ndarray  # (U,) slot of the day of each unit
    week_slot: np.ndarray  # (U,) slot of the week of each unit


@dataclass(frozen=True)
class Grid:
    """Counts of every key on a regular grid of buckets."""

    columns: Columns
    combos: pd.DataFrame  # one row per key (combination of key values)
    edges: pd.DatetimeIndex  # T + 1 bucket boundaries: bucket t is [edges[t], edges[t + 1])
    step: pd.Timedelta
    y: np.ndarray  # (k, T) counts, NaN where missing
    n: np.ndarray | None  # (k, T) exposure (attempts that did not fail this way), or None
    season: Season | None
    summed: int  # rows added to another row of the same bucket and key
    cells: tuple[np.ndarray, np.ndarray]  # (key row, bucket) of every record of the frame

    @property
    def starts(self) -> pd.DatetimeIndex:
        """Start of every bucket."""
        return self.edges[:-1]


def check_columns(
    counts: pd.DataFrame,
    time: str,
    value: str | None,
    exposure: str | None,
    keys: str | Sequence[str] | None,
) -> Columns:
    """Check the counts frame and name its columns.

    Raises
    ------
    AnalysisError
        For a missing, non-numeric or negative column, or times that are not times.
    """
    if not isinstance(counts, pd.DataFrame):
        raise AnalysisError(f"counts must be a pandas DataFrame, not {type(counts).__name__}")
    if time not in counts.columns:
        raise AnalysisError(f"counts lacks the time column {time!r}; pass time=... to name it")
    if value is None:
        value = "failures" if "failures" in counts.columns else "value"
    if exposure == "auto":
        exposure = "attempts" if "attempts" in counts.columns else None
    for col in [value] + ([exposure] if exposure else []):
        if col not in counts.columns:
            raise AnalysisError(
                f"counts lacks the column {col!r}; columns are {list(counts.columns)}"
            )
        if not pd.api.types.is_numeric_dtype(counts[col]) or pd.api.types.is_bool_dtype(
            counts[col]
        ):
            raise AnalysisError(f"column {col!r} must be numeric, not {counts[col].dtype}")
        if (counts[col].fillna(0) < 0).any():
            raise AnalysisError(f"column {col!r} holds negative numbers; counts must be >= 0")
        if np.isinf(counts[col].to_numpy(dtype=float)).any():
            raise AnalysisError(f"column {col!r} holds infinite numbers; counts must be finite")
    if keys is None:
        skip = {time, value, exposure, *_RESERVED}
        keys = [
            c for c in counts.columns
            if c not in skip and not pd.api.types.is_numeric_dtype(counts[c])
        ]
    else:
        keys = [keys] if isinstance(keys, str) else list(keys)
        missing = [k for k in keys if k not in counts.columns]
        if missing:
            raise AnalysisError(f"counts lacks key column(s) {missing}")
    if not pd.api.types.is_datetime64_any_dtype(counts[time]):
        raise AnalysisError(f"column {time!r} must hold times, not {counts[time].dtype}")
    if counts[time].isna().any():
        raise AnalysisError(f"column {time!r} holds missing times (NaT); every row needs a time")
    return Columns(time, value, exposure, keys)


def _wall(times: pd.Series) -> tuple[np.ndarray, object]:
    """Wall-clock times (naive datetime64[ns]) and the time zone they are in (None if naive)."""
    tz = getattr(times.dt, "tz", None)
    local = times.dt.tz_localize(None) if tz is not None else times
    return local.to_numpy(dtype="datetime64[ns]"), tz


def _step(walls: np.ndarray, time: str) -> tuple[pd.Timedelta, np.ndarray, bool]:
    """Return the bucket size, each distinct wall time's position, and whether it is regular.

    A regular grid has every gap a whole number of steps (the smallest gap). Calendar months or
    quarters (steps of 28 days or more that vary) keep their order without a time grid.
    """
    distinct = np.unique(walls)
    if len(distinct) < 2:
        return pd.Timedelta(hours=1), np.zeros(len(distinct), dtype=np.int64), True
    diffs = np.diff(distinct.astype(np.int64))
    step = int(diffs.min())
    if (diffs % step == 0).all():
        offsets = distinct.astype(np.int64) - distinct[0].astype(np.int64)
        return pd.Timedelta(step, "ns"), offsets // step, True
    if step >= pd.Timedelta(days=28).value:
        return pd.Timedelta(int(np.median(diffs)), "ns"), np.arange(len(distinct)), False
    odd = pd.Timedelta(int(diffs[diffs % step != 0][0]), "ns")
    raise AnalysisError(
        f"column {time!r} is not a regular series: buckets {pd.Timedelta(step, 'ns')} apart but "
        f"also {odd}; expected one bucket size (from a minute to a day, or weeks), as "
        "error_frequency(freq=...) produces"
    )


def _season(first_wall: np.datetime64, step: pd.Timedelta, buckets: int, regular: bool):
    """Seasonal slots: hours for steps under an hour, else the step, when it divides a day."""
    if not regular or step > _DAY:
        return None
    if step < _HOUR and _HOUR % step == pd.Timedelta(0):
        unit = _HOUR
    elif _DAY % step == pd.Timedelta(0):
        unit = step
    else:
        return None
    per_day = int(_DAY / unit)
    offset = (pd.Timestamp(first_wall) - _MONDAY).value
    absolute = (offset + step.value * np.arange(buckets, dtype=np.int64)) // unit.value
    first = absolute[0]
    units = np.arange(first, absolute[-1] + 1)
    return Season(absolute - first, int(unit / step), per_day, units % per_day,
                  units % (7 * per_day))


def _edges(walls, step, tz, buckets, first_wall, regular) -> pd.DatetimeIndex:
    """Bucket boundaries in the input's time zone (a repeated wall time: its first instant)."""
    if regular:
        start = pd.Timestamp(first_wall).value
        grid = pd.DatetimeIndex(start + step.value * np.arange(buckets + 1, dtype=np.int64))
    else:
        distinct = pd.DatetimeIndex(np.unique(walls))
        grid = distinct.append(pd.DatetimeIndex([distinct[-1] + step]))
    if tz is None:
        return grid
    local = grid.tz_localize(tz, ambiguous=np.ones(len(grid), bool), nonexistent="shift_forward")
    return local


def build_grid(counts: pd.DataFrame, columns: Columns) -> Grid:
    """Lay the counts of every key on one regular grid (missing buckets NaN, repeats summed).

    Raises
    ------
    AnalysisError
        For times that are not on a regular grid, or a grid too large to hold.
    """
    time, keys = columns.time, columns.keys
    walls, tz = _wall(counts[time])
    step, positions, regular = _step(walls, time)
    distinct = np.unique(walls)
    col = positions[np.searchsorted(distinct, walls)]
    buckets = int(col.max()) + 1
    if keys:
        codes, combos = _key_codes(counts, keys)
    else:
        combos, codes = pd.DataFrame(index=[0]), np.zeros(len(counts), dtype=np.int64)
    if len(combos) * buckets > _MAX_CELLS:
        raise AnalysisError(
            f"{len(combos)} keys x {buckets} buckets of {step} is too large a grid; use a larger "
            "bucket size, fewer keys, or a shorter period"
        )
    y, summed = accumulate(codes, col, counts[columns.value], len(combos), buckets)
    n = None
    if columns.exposure:
        n, _ = accumulate(codes, col, counts[columns.exposure], len(combos), buckets)
        if np.all((n >= y) | np.isnan(n) | np.isnan(y)):
            n = n - y  # the exposure counts the failures too: scale by the other attempts
    edges = _edges(walls, step, tz, buckets, distinct[0], regular)
    season = _season(distinct[0], step, buckets, regular)
    _warn_sparse(y)
    return Grid(columns, combos, edges, step, y, n, season, summed, (codes, col))


def _key_codes(counts: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Row of every record in the key table, and the key table (first-seen order)."""
    frame = counts[keys]
    combos = frame.drop_duplicates().reset_index(drop=True)
    index = pd.MultiIndex.from_frame(combos)
    return index.get_indexer(pd.MultiIndex.from_frame(frame)), combos


def accumulate(rows, cols, values: pd.Series, k: int, t: int) -> tuple[np.ndarray, int]:
    """Sum values per (row, col), NaN where no value was given; and how many rows were added."""
    v = values.to_numpy(dtype=float)
    ok = ~np.isnan(v)
    total = np.zeros((k, t))
    seen = np.zeros((k, t), dtype=np.int64)
    np.add.at(total, (rows[ok], cols[ok]), v[ok])
    np.add.at(seen, (rows[ok], cols[ok]), 1)
    total[seen == 0] = np.nan
    return total, int(ok.sum() - (seen > 0).sum())


def _warn_sparse(y: np.ndarray) -> None:
    """Warn when absent buckets look like zeros that were left out."""
    present = ~np.isnan(y)
    if y.size >= 20 and present.mean() < 0.5 and not (y[present] == 0).any():
        warnings.warn(
            f"{1 - present.mean():.0%} of the buckets are absent and none of the others is 0: "
            "absent buckets are treated as missing, not as 0. If they mean 0, fill them in "
            "(error_frequency does)",
            stacklevel=4,
        )
