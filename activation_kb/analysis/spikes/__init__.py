"""Spike detection on regular count series: what rose (or fell), when it was known, how far.

Method
------
Everything used to judge bucket t of a key is learnt from that key's buckets **before t** (and,
for the dispersion prior, the other keys' buckets before t): a run scheduled after every bucket
would have said then what a later run says now about the same buckets.

*Grid* (:mod:`._grid`). The counts are laid on a regular grid of their bucket size (any step
from a minute to a day, or weeks; calendar months keep their order), in the wall-clock time of
their ``time`` column. A bucket with no row, or a NaN count, is missing: neither zero nor learnt
from, and it keeps its place, so the hour-of-week slots do not shift. Rows repeating a bucket and
key are summed (the hour repeated when daylight saving time ends, one bucket split over two
exports); their number is in ``attrs["summed_rows"]``.

*Baseline* (:mod:`._baseline`). Three levels are learnt from the key's quiet buckets (present and
not unusual, below) and shrunk each to the one above (empirical Bayes, gamma priors): the mean
over the ``history`` (28 days) before t; the usual count of t's slot of the day (its hour; a
sub-hour step pools the buckets of each hour) over the ``history`` days before t's day, with a
prior worth 1 count; the usual count of its slot of the week over the whole weeks before t's week,
with a prior worth 3 counts. A slot also learns from unusual buckets whose slot a day (a week)
earlier was unusual too: what recurs is a pattern, so a new peak hour or a new level is learnt
once seen twice. When the counts carry the attempts of each bucket, the expectation is scaled by
how busy the bucket is (its attempts that did not fail this way against the usual for its slot,
learnt the same way, within 0.2 to 5): a busy Monday raises the expectation, not an alarm. Each
expectation carries its relative variance (one over the counts behind it), so a young baseline
widens the tails.

*Tails* (:mod:`._tails`). The total ``O`` of a window of buckets is compared with its expectation
``E`` under a negative binomial of variance ``phi * E + (c + v) * E**2``: ``phi`` counts failures
in clusters (a machine retries every 2 hours), ``c`` lets busy series burst in proportion to their
level, ``v`` is the baseline's uncertainty. The score is ``-log10`` of the probability of a total
at least that far in the direction asked; beyond one chance in 10**300 the Chernoff bound keeps
ordering the largest spikes (scores are not capped). ``phi`` and ``c`` are estimated per key and
window size by two moment equations over the quiet windows of the ``history`` before t, leaving
out the last day (an incident does not widen its own tails), each squared deviation counting at
most 16 times ``E + E**2`` (and always up to 10 counts); their prior is a few pseudo-windows of
the estimate pooled over all keys, itself drawn towards the next smaller window size, so a key
failing for the first time gets the clustering of the others. Windows run at scales adapted to
the step: one bucket, then 15 minutes, 1, 3 and 6 hours, a day, 3 and 7 days, those of at least
two buckets up to a day or seven buckets (5-minute counts: 1, 3, 12, 36, 72 and 288 buckets;
hourly: 1, 3, 6 and 24; daily: 1, 3 and 7). A burst, a slow rise of a few failures an hour and a
silence of hours are all found.

*Unusual buckets* (:mod:`._fit`). A bucket that ends a window scoring ``QUIET_SCORE`` (3) plus
``log10`` of the number of scales in either direction, and carries half the window's mean excess,
is left out of what later buckets learn from (the level, the dispersion, and the slots unless it
recurs). The baseline is learnt again without them until they stop changing (at most 4 passes);
each pass only looks at the past, so the result does too. They do not depend on ``sensitivity``.

*Warm-up.* Nothing is judged before the cycle has been seen twice (two days for steps under a
day, two weeks of daily buckets, six longer buckets), and the dispersion learns from windows
after its first cycle. ``baseline_days`` says how many days of quiet past stood behind a spike's
baseline; ``warming_up`` marks the spikes judged with less than a week of it (a week is what the
weekly profile needs, so a ``history`` shorter than a week leaves every spike warming up).

*Spikes* (:mod:`._runs`). A window is significant when its score reaches
``score_threshold(sensitivity) + log10(number of scales)`` and its excess (its deficit, going
down) reaches ``min_excess``. It flags the stretch that holds its excess: the rise a CUSUM would
find, each bucket counting for its excess less half its standard deviation and half the
window's mean excess. Flagged buckets of a key and direction less than ``gap`` apart, or flagged
by windows that end within it, form one spike. It is ``detected`` at the end of the earliest
significant window holding one of its buckets; its ``score`` is that of its most significant
window; ``observed`` and ``expected`` total its present buckets. A higher ``sensitivity`` only
lowers the threshold, and more data only adds windows: spikes then grow or merge, never vanish.
Severity grades the excess in units of ``min_excess``: low (< 5), medium (< 25), high (< 100),
critical (>= 100).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...params import DIRECTIONS, check_choice, check_duration, check_number, check_sensitivity
from ._fit import QUIET_SCORE, Fit, Settings, fit
from ._grid import Grid, accumulate, build_grid, check_columns
from ._runs import Spike, find_spikes

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
    SensitivityError
        For a sensitivity that is not a number in (0, 1].
    """
    return 2.0 + 8.0 * (1.0 - check_sensitivity(sensitivity))


def _severity(excess: float, min_excess: float) -> str:
    units = abs(excess) / max(min_excess, 1e-9)
    for name, step in zip(SEVERITIES, _SEVERITY_STEPS):
        if units < step:
            return name
    return SEVERITIES[-1]


def _settings(grid: Grid, counts, history, gap, min_excess, fleet_size) -> Settings:
    """Turn the user's durations and thresholds into buckets and counts."""
    span = check_duration(history, "history")
    gap_td = _GAP if gap == "auto" else check_duration(gap, "gap")
    if min_excess == "auto":
        fleet = fleet_size if fleet_size is not None else counts.attrs.get("devices", 0)
        min_excess = max(3.0, math.ceil(0.001 * float(fleet or 0)))
    else:
        min_excess = check_number(min_excess, "min_excess", minimum=0)
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
        judged_from=min(first, max(1, int(span / step))),
    )


def _check_direction(direction: object) -> str:
    return check_choice(direction, "direction", DIRECTIONS)


@dataclass(frozen=True)
class _Request:
    """The arguments of :func:`detect_spikes` and :func:`expected_counts`, as given."""

    sensitivity: float
    direction: str
    time: str
    value: str | None
    exposure: str | None
    keys: str | Sequence[str] | None
    history: str
    min_excess: float | str
    gap: str
    fleet_size: int | None


@dataclass(frozen=True)
class _Result:
    """What one detection run produced."""

    grid: Grid
    settings: Settings
    fitted: Fit
    spikes: list[Spike]


def _run(counts: pd.DataFrame, request: _Request) -> _Result:
    """Check the arguments, fit the baseline and find the spikes."""
    threshold = score_threshold(request.sensitivity)
    direction = _check_direction(request.direction)
    columns = check_columns(counts, request.time, request.value, request.exposure, request.keys)
    grid = build_grid(counts, columns)
    settings = _settings(grid, counts, request.history, request.gap, request.min_excess,
                         request.fleet_size)
    fitted = fit(grid, settings)
    return _Result(grid, settings, fitted, find_spikes(fitted, threshold, settings, direction))


def _rows(result: _Result) -> list[dict]:
    """One dict per spike, in the columns of :data:`SPIKE_COLUMNS`."""
    grid, settings, fitted = result.grid, result.settings, result.fitted
    spikes = result.spikes
    edges = grid.edges
    warm = _WARM / pd.Timedelta(days=1)  # the weekly profile needs a week, whatever `history`
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
        ``warming_up`` (less than a week of it, whatever ``history``). Largest absolute
        excess first. ``attrs`` hold ``sensitivity``, ``threshold``, ``min_excess``,
        ``direction`` and ``summed_rows``.

    Raises
    ------
    AnalysisError
        For a frame without the named columns, negative or non-numeric counts, or times that
        are not a regular series.
    ParameterError
        For a bad parameter: its subclass names the kind (``SensitivityError`` for a
        sensitivity outside (0, 1], ``ChoiceError`` for an unknown direction,
        ``DurationError`` for a history or gap that is not a duration, ``NumberError`` for a
        negative ``min_excess``).

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
    request = _Request(sensitivity, direction, time, value, exposure, keys, history, min_excess,
                       gap, fleet_size)
    threshold = score_threshold(sensitivity)
    if isinstance(counts, pd.DataFrame) and counts.empty:
        columns = check_columns(counts, time, value, exposure, keys)
        _check_direction(direction)
        out = _empty(counts, columns.keys, time)
        out.attrs.update(sensitivity=sensitivity, threshold=threshold, min_excess=None,
                         direction=direction, summed_rows=0)
        return out
    result = _run(counts, request)
    keys_ = result.grid.columns.keys
    out = pd.DataFrame(_rows(result), columns=[*keys_, *SPIKE_COLUMNS])
    if out.empty:
        out = _empty(counts, keys_, time)
    else:  # largest absolute excess first
        order = np.lexsort((out["start"].to_numpy(), -out["excess"].abs().to_numpy()))
        out = out.iloc[order]
    out.attrs.update(sensitivity=sensitivity, threshold=threshold,
                     min_excess=result.settings.min_excess, direction=direction,
                     summed_rows=result.grid.summed)
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
    result = _run(counts, _Request(sensitivity, direction, time, value, exposure, keys, history,
                                   min_excess, gap, fleet_size))
    return _expected_frame(counts, result, time, direction)


def _expected_frame(counts: pd.DataFrame, result: _Result, time: str,
                    direction: str) -> pd.DataFrame:
    """Every bucket of every key: its counts, expectation, score and spike membership."""
    grid, fitted, spikes = result.grid, result.fitted, result.spikes
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
