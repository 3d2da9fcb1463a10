"""Spike detection on regular count series: what rose (or fell), when it was known, how far.

Method
------
Everything used to judge bucket t of a key is learnt from that key's buckets **before t**, so a
run scheduled after every bucket would have said the same then as a later run says now.

*Grid.* The counts are laid on a regular grid of their bucket size (a minute to a day, or weeks),
in the wall-clock time of their ``time`` column. A bucket with no row (or a NaN value) is missing:
it is neither zero nor learnt from, and keeps its place in the hour-of-week slots. Several rows
of one bucket and key are summed (the hour repeated when daylight saving time ends; their number
is in ``attrs["summed_rows"]``).

*Baseline* (:mod:`._baseline`). The expected count of a bucket is learnt from the key's quiet
buckets of the ``history`` (28 days) before it: the mean level, shrunk to the usual count of its
slot of the day (hour of the day, pooling sub-hour buckets), then of its slot of the week
(empirical Bayes: gamma priors worth a few counts). When the counts carry the attempts of each
bucket, the expectation is scaled by how busy the bucket is (its attempts that did not fail this
way against the usual for its slot, learnt the same way, kept within 0.2 to 5), so a busy Monday
raises the expectation rather than an alarm. Each expectation carries its own uncertainty (one
over the counts behind it), so a young baseline or a slot never seen is trusted less.

*Tails* (:mod:`._tails`). The total of a window of buckets is scored by ``-log10`` of its
probability under a negative binomial whose variance ``phi * E + (c + v) * E**2`` has a cluster
size ``phi`` (failures come in clusters: a machine retries every 2 hours), a burst term ``c``
(busy series burst in proportion to their level) and the baseline's own uncertainty ``v``.
``phi`` and ``c`` are estimated per key and window size by moments over the quiet windows of
the ``history`` before the window. Windows run at several scales adapted to the step (one
bucket, then 15 minutes, 1, 3 and 6 hours, a day, up to a day or seven buckets: 3 and 7 days for
daily counts), so a burst, a slow rise of a few failures an hour and a silence of hours are all
found.

*Quiet buckets.* A bucket that ends a window scoring at least ``QUIET_SCORE`` (3, plus
``log10`` of the number of scales) in either direction, and carries its share of the window's
excess, is kept out of what later buckets learn from. Detection repeats (at most 6 passes) until
the set of such buckets stops changing; each pass only looks at the past, so the result does too.
This set does not depend on ``sensitivity``.

*Spikes* (:mod:`._detect`). A window is significant when its score reaches
``score_threshold(sensitivity) + log10(number of scales)`` and its excess (or deficit, going
down) reaches ``min_excess``; its buckets that carry half its mean excess are flagged. Flagged
buckets of one key and direction less than ``gap`` apart form one spike, ``detected`` at the end
of the first bucket whose significant window covered it. A spike's ``score`` is ``-log10`` of the
probability of its whole total. A higher ``sensitivity`` only lowers the threshold, so it finds a
superset of spikes. ``baseline_days`` says how much quiet past stood behind a spike's baseline;
``warming_up`` marks spikes judged with less than a week of it (or less than ``history``).
Severity grades the excess in units of ``min_excess``: low (< 5), medium (< 25), high (< 100),
critical (>= 100).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...errors import AnalysisError
from ._detect import QUIET_SCORE, Fit, Settings, Spike, find_spikes, fit
from ._grid import Grid, accumulate, build_grid, check_columns

__all__ = [
    "detect_spikes",
    "expected_counts",
    "score_threshold",
    "SEVERITIES",
    "SPIKE_COLUMNS",
    "DIRECTIONS",
    "QUIET_SCORE",
]

SEVERITIES = ("low", "medium", "high", "critical")
#: Directions a spike may go: ``detect_spikes(direction=...)`` takes one of these.
DIRECTIONS = ("up", "down", "both")
#: Columns of ``detect_spikes`` output after the key columns.
SPIKE_COLUMNS = (
    "start", "end", "detected", "peak", "direction", "observed", "expected", "excess", "ratio",
    "peak_observed", "peak_expected", "buckets", "score", "severity", "baseline_days",
    "warming_up",
)
_SEVERITY_STEPS = (5.0, 25.0, 100.0)
_GAP = pd.Timedelta(hours=12)
_WARM = pd.Timedelta(days=7)


def score_threshold(sensitivity: float) -> float:
    """Return the spike score (``-log10`` probability) that ``sensitivity`` requires.

    Parameters
    ----------
    sensitivity : float
        In (0, 1]; 0.5 requires one chance in a million, 1.0 one in a hundred.

    Returns
    -------
    float
        ``2 + 8 * (1 - sensitivity)``.

    Raises
    ------
    AnalysisError
        For a sensitivity that is not a number in (0, 1].
    """
    if (isinstance(sensitivity, bool) or not isinstance(sensitivity, (int, float))
            or not 0 < sensitivity <= 1):
        raise AnalysisError(
            f"sensitivity={sensitivity!r}; expected a number in (0, 1] (0.5 is the default; higher "
            "finds smaller rises)"
        )
    return 2.0 + 8.0 * (1.0 - float(sensitivity))


def _severity(excess: float, min_excess: float) -> str:
    units = abs(excess) / max(min_excess, 1e-9)
    for name, step in zip(SEVERITIES, _SEVERITY_STEPS):
        if units < step:
            return name
    return SEVERITIES[-1]


def _duration(value: object, name: str) -> pd.Timedelta:
    try:
        out = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise AnalysisError(f"{name}={value!r} is not a duration such as '28D' or '12h'") from None
    if out <= pd.Timedelta(0):
        raise AnalysisError(f"{name}={value!r} must be a positive duration such as '28D' or '12h'")
    return out


def _settings(grid: Grid, counts, history, gap, min_excess, fleet_size) -> Settings:
    """Turn the user's durations and thresholds into buckets and counts."""
    span = _duration(history, "history")
    gap_td = _GAP if gap == "auto" else _duration(gap, "gap")
    if min_excess == "auto":
        fleet = fleet_size if fleet_size is not None else counts.attrs.get("devices", 0)
        min_excess = max(3.0, math.ceil(0.001 * float(fleet or 0)))
    elif (isinstance(min_excess, bool) or not isinstance(min_excess, (int, float))
          or not min_excess >= 0):
        raise AnalysisError(f"min_excess={min_excess!r}; expected 'auto' or a number >= 0")
    step = grid.step
    day = pd.Timedelta(days=1)
    # judging starts once every slot of the cycle was seen twice: what recurs is then known
    first = 2 * (int(math.ceil(day / step)) if step < day else 7 if step == day else 3)
    return Settings(
        window=max(1, int(span / step)),
        days=int(span / pd.Timedelta(days=1)),
        per_day=pd.Timedelta(days=1) / step,
        gap=max(1, int(round(gap_td / step))),
        min_excess=float(min_excess),
        per_unit=grid.season.per_unit if grid.season is not None else 1,
        first=min(first, max(1, int(span / step))),
    )


def _check_direction(direction: object) -> str:
    if direction not in DIRECTIONS:
        raise AnalysisError(f"direction={direction!r}; expected one of {', '.join(DIRECTIONS)}")
    return str(direction)


def _run(counts, sensitivity, direction, time, value, exposure, keys, history, min_excess, gap,
         fleet_size) -> tuple[Grid, Settings, Fit, list[Spike]]:
    """Check the arguments, fit the baseline and find the spikes."""
    threshold = score_threshold(sensitivity)
    direction = _check_direction(direction)
    columns = check_columns(counts, time, value, exposure, keys)
    grid = build_grid(counts, columns)
    settings = _settings(grid, counts, history, gap, min_excess, fleet_size)
    fitted = fit(grid, settings)
    return grid, settings, fitted, find_spikes(fitted, threshold, settings, direction)


def _rows(grid: Grid, settings: Settings, fitted: Fit, spikes: list[Spike], history) -> list:
    """One dict per spike, in the columns of :data:`SPIKE_COLUMNS`."""
    edges = grid.edges
    warm = min(_WARM, _duration(history, "history")) / pd.Timedelta(days=1)
    rows = []
    for sp in spikes:
        row = {key: grid.combos.iloc[sp.key][key] for key in grid.columns.keys}
        excess = sp.observed - sp.expected
        days = float(fitted.baseline.days[sp.key, sp.start])
        row.update(
            start=edges[sp.start], end=edges[sp.stop], detected=edges[sp.alarm + 1],
            peak=edges[sp.peak], direction=sp.direction, observed=sp.observed,
            expected=sp.expected, excess=excess, ratio=sp.observed / max(sp.expected, 1e-9),
            peak_observed=float(fitted.y[sp.key, sp.peak]),
            peak_expected=float(fitted.mean[sp.key, sp.peak]),
            buckets=int(sp.stop - sp.start), score=round(sp.score, 2),
            severity=_severity(excess, settings.min_excess), baseline_days=round(days, 2),
            warming_up=days < warm,
        )
        rows.append(row)
    return rows


def _empty(counts: pd.DataFrame, keys: list[str], time: str) -> pd.DataFrame:
    out = pd.DataFrame({k: counts[k].iloc[:0] for k in keys})
    dtype = counts[time].dtype if time in counts else "datetime64[ns, UTC]"
    for column in SPIKE_COLUMNS:
        if column in ("start", "end", "detected", "peak"):
            out[column] = pd.Series(dtype=dtype)
        elif column in ("direction", "severity"):
            out[column] = pd.Series(dtype=object)
        elif column == "buckets":
            out[column] = pd.Series(dtype=int)
        elif column == "warming_up":
            out[column] = pd.Series(dtype=bool)
        else:
            out[column] = pd.Series(dtype=float)
    return out


def detect_spikes(
    counts: pd.DataFrame,
    sensitivity: float = 0.5,
    *,
    direction: str = "up",
    time: str = "time",
    value: str | None = None,
    exposure: str | None = "auto",
    keys: str | Sequence[str] | None = None,
    history: str = "28D",
    min_excess: float | str = "auto",
    gap: str = "auto",
    fleet_size: int | None = None,
) -> pd.DataFrame:
    """Find rises (or falls) in regular count series: one row per spike, largest first.

    The method is described in the module docstring (:mod:`activation_kb.analysis.spikes`):
    causal seasonal baseline, negative-binomial tails at several time scales.

    Parameters
    ----------
    counts : pandas.DataFrame
        One row per bucket per key: a ``time`` column, key columns and a count column, such as
        :func:`~activation_kb.error_frequency` returns, or your own counts. Buckets of any
        regular size from a minute to a day (or weeks). A bucket without a row, or with a NaN
        count, is missing (not 0); rows repeating a bucket and key are summed.
    sensitivity : float
        In (0, 1]. A window is significant with a score (``-log10`` probability under the
        baseline) of at least ``2 + 8 * (1 - sensitivity)`` (6 at the default 0.5, 2 at 1.0),
        plus ``log10`` of the number of time scales. Higher finds a superset of spikes.
    direction : {"up", "down", "both"}
        Rises (default), falls (a count dropping towards nothing: a host that went silent), or
        both; each spike says its ``direction``.
    time : str
        Name of the bucket column (tz-aware or naive times; the grid is its wall clock).
    value : str, optional
        Count column; default ``failures`` when present (the output of ``error_frequency`` for
        any measure), else ``value``.
    exposure : str or None
        Column of attempts per bucket that scales the expectation; "auto" takes ``attempts``
        when present; None treats every bucket alike.
    keys : str or list of str, optional
        Key columns; default every non-numeric column other than ``time``.
    history : str
        How far back the baseline looks ("28D").
    min_excess : float or "auto"
        Smallest excess (observed - expected, or expected - observed going down) worth
        reporting; "auto" is 3, or one per thousand devices when the fleet is larger
        (``fleet_size``, else ``counts.attrs["devices"]``).
    gap : str
        Flagged buckets of one key closer than this form one spike; "auto" is 12 hours (at
        least one bucket).
    fleet_size : int, optional
        Number of devices, for the automatic ``min_excess``.

    Returns
    -------
    pandas.DataFrame
        The key columns, then :data:`SPIKE_COLUMNS`: ``start``, ``end`` (exclusive),
        ``detected`` (end of the first bucket at which a window ending there was significant:
        when a run scheduled after every bucket would first have raised it), ``peak`` (bucket
        furthest from its expectation), ``direction`` ("up" or "down"), ``observed``,
        ``expected``, ``excess`` (negative going down), ``ratio`` (observed / expected),
        ``peak_observed``, ``peak_expected``, ``buckets``, ``score``, ``severity``,
        ``baseline_days`` (days of quiet past behind the baseline at the start) and
        ``warming_up`` (less than a week of it, or less than ``history``). Largest absolute
        excess first. ``attrs`` hold ``sensitivity``, ``threshold``, ``min_excess``,
        ``direction`` and ``summed_rows``.

    Raises
    ------
    AnalysisError
        For a frame without the named columns, negative or non-numeric counts, times that are
        not a regular series, a sensitivity outside (0, 1] or an unknown direction.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2026-01-05", periods=24 * 14, freq="h", tz="UTC")
    >>> counts = pd.DataFrame({"time": t, "value": 0.0})
    >>> counts.loc[200:203, "value"] = 40
    >>> detect_spikes(counts)[["start", "detected", "observed"]]
                          start                  detected  observed
    0 2026-01-13 08:00:00+00:00 2026-01-13 09:00:00+00:00     160.0
    """
    threshold = score_threshold(sensitivity)
    if isinstance(counts, pd.DataFrame) and counts.empty:
        columns = check_columns(counts, time, value, exposure, keys)
        _check_direction(direction)
        out = _empty(counts, columns.keys, time)
        out.attrs.update(sensitivity=sensitivity, threshold=threshold, min_excess=None,
                         direction=direction, summed_rows=0)
        return out
    grid, settings, fitted, spikes = _run(counts, sensitivity, direction, time, value, exposure,
                                          keys, history, min_excess, gap, fleet_size)
    rows = _rows(grid, settings, fitted, spikes, history)
    out = pd.DataFrame(rows, columns=[*grid.columns.keys, *SPIKE_COLUMNS])
    if out.empty:
        out = _empty(counts, grid.columns.keys, time)
    order = out["excess"].abs().to_numpy() if len(out) else np.zeros(0)
    out = out.iloc[np.lexsort((out["start"].to_numpy(), -order))] if len(out) else out
    out.attrs.update(sensitivity=sensitivity, threshold=threshold,
                     min_excess=settings.min_excess, direction=direction,
                     summed_rows=grid.summed)
    return out.reset_index(drop=True)


def expected_counts(
    counts: pd.DataFrame,
    sensitivity: float = 0.5,
    *,
    direction: str = "up",
    time: str = "time",
    value: str | None = None,
    exposure: str | None = "auto",
    keys: str | Sequence[str] | None = None,
    history: str = "28D",
    min_excess: float | str = "auto",
    gap: str = "auto",
    fleet_size: int | None = None,
) -> pd.DataFrame:
    """Return every bucket of every key with the baseline behind :func:`detect_spikes`.

    Parameters are those of :func:`detect_spikes`.

    Returns
    -------
    pandas.DataFrame
        One row per bucket of the grid per key (missing buckets included, their counts NaN):
        ``time``, the keys, the numeric columns of ``counts`` (summed per bucket),
        ``expected`` (the baseline count, learnt from before the bucket; NaN while nothing is
        known), ``score`` (the most unusual window ending at the bucket, in ``direction``),
        ``in_spike`` (the bucket belongs to a reported spike) and ``baseline_days``.

    Raises
    ------
    AnalysisError
        As :func:`detect_spikes`.
    """
    score_threshold(sensitivity)
    if isinstance(counts, pd.DataFrame) and counts.empty:
        check_columns(counts, time, value, exposure, keys)
        _check_direction(direction)
        return counts.assign(expected=pd.Series(dtype=float), score=pd.Series(dtype=float),
                             in_spike=pd.Series(dtype=bool),
                             baseline_days=pd.Series(dtype=float))
    grid, _, fitted, spikes = _run(counts, sensitivity, direction, time, value, exposure, keys,
                                   history, min_excess, gap, fleet_size)
    k, t = fitted.y.shape
    in_spike = np.zeros((k, t), dtype=bool)
    for sp in spikes:
        in_spike[sp.key, sp.start : sp.stop] = True
    frame = grid.combos.loc[np.repeat(np.arange(k), t)].reset_index(drop=True)
    frame = frame[grid.columns.keys] if grid.columns.keys else pd.DataFrame(index=range(k * t))
    frame.insert(0, time, np.tile(grid.starts, k))
    rows, cols = grid.cells
    numeric = [c for c in counts.columns if c not in (time, *grid.columns.keys)
               and pd.api.types.is_numeric_dtype(counts[c])
               and c not in ("expected", "score", "in_spike", "baseline_days")]
    for column in numeric:
        frame[column] = accumulate(rows, cols, counts[column], k, t)[0].ravel()
    scores = [sc.up if direction == "up" else sc.down if direction == "down"
              else np.maximum(sc.up, sc.down) for sc in fitted.scales]
    frame["expected"] = fitted.mean.ravel()
    frame["score"] = np.max(scores, axis=0).ravel()
    frame["in_spike"] = in_spike.ravel()
    frame["baseline_days"] = fitted.baseline.days.ravel()
    return frame
