"""Spike detection on regular count series: what rose, when, and how far above normal.

Method
------
For each key (a category, a code, a code at a site ...) the expected count of every bucket is the
usual count of its hour of the week, learnt from the **past** ``history`` (28 days) of buckets that
are not part of a spike, and shrunk level by level (empirical Bayes, a prior worth 3 failures per
level) from the key's overall mean to the mean of the same hour of the day, then of the same hour
of the week. When the counts carry the attempts of each bucket, that expectation is scaled by how
busy the bucket is: its attempts that did not fail this way, against the usual attempts of its
hour of the week (learnt the same way, the ratio kept within 0.2 to 5). So an unusually busy day
(a Monday after a holiday) raises the expectation rather than an alarm, while the retries of
failing machines (every 2 hours) do not raise their own. This follows daily and weekly
seasonality and slow trends, needs no model fitting, and keeps ongoing incidents out of their own
baseline. Where the past is shorter than ``history`` (the start of a series), the same profile
learnt from all quiet buckets of the series fills in, in proportion to the missing history.

Counts are compared with their expectation by the upper tail of a quasi-Poisson distribution
(variance = dispersion index x mean: failures come in clusters, as a failing machine retries every
2 hours) whose index is estimated per key from quiet buckets (1, Poisson, at least), at four time
scales (one bucket, and sums over about 3, 6 and 24 hours) so that a slow rise of a few failures an
hour is found as well as a burst. Flagged buckets of one key less than ``gap`` apart
form one spike, trimmed so that it starts and ends on buckets that are unusual by themselves
(probability under 5 %). A spike is reported when both hold:

* its **score**, ``-log10`` of the probability of at least its observed total under the baseline,
  reaches ``2 + 8 * (1 - sensitivity)`` (6, one in a million, at the default sensitivity 0.5);
* its **excess** (observed - expected) reaches ``min_excess``: by default 3 failures, or one per
  thousand devices of the fleet when that is more. So 3 failures where none are expected is
  noted in a fleet of 500 but not in a fleet of 50,000, while 300 is noted in both.

Detection repeats, each pass excluding the spikes of the previous one from the baseline and from
the dispersion estimate, until the spikes stop changing (at most 6 passes). The first pass, which
knows no spike yet, learns its baseline from counts capped at twice the median of their hour of
the week plus two (a rise in one week is cut, a rise every Monday is kept) and estimates
dispersion without the 10 % most extreme windows of each key.
Severity grades the excess in units of ``min_excess``: low (< 5), medium (< 25), high (< 100),
critical (>= 100).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from ..errors import AnalysisError

__all__ = ["detect_spikes", "expected_counts", "SEVERITIES", "score_threshold"]

SEVERITIES = ("low", "medium", "high", "critical")
_SEVERITY_STEPS = (5.0, 25.0, 100.0)
_PRIOR = 3.0  # pseudo-failures per shrinkage level
_INDEX_MAX = 100.0
_PASSES = 6
_TRIM = 0.1
_EDGE = -math.log10(0.05)  # a spike starts and ends on buckets unusual at 5 %
_SCALES_H = (1.0, 3.0, 6.0, 24.0)
_MAX_SCORE = 300.0
_RESERVED = ("value", "failures", "attempts", "expected", "score", "flagged")


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
    """
    if not isinstance(sensitivity, (int, float)) or not 0 < sensitivity <= 1:
        raise AnalysisError(
            f"sensitivity={sensitivity!r}; expected a number in (0, 1] (0.5 is the default; higher "
            "finds smaller rises)"
        )
    return 2.0 + 8.0 * (1.0 - float(sensitivity))


def _tail_score(observed: np.ndarray, mean: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``-log10 P(Y >= observed)`` for quasi-Poisson counts with dispersion ``index``.

    Counts whose variance is ``index * mean`` (failures come in clusters: a machine retries) are
    scored as a Poisson count of clusters: ``P(Poisson(mean / index) >= observed / index)``, the
    regularized lower incomplete gamma function, continuous in the observed count.
    """
    observed = np.asarray(observed, dtype=float)
    index = np.broadcast_to(np.asarray(index, dtype=float), observed.shape)
    lam = np.maximum(np.asarray(mean, dtype=float), 1e-12) / index
    x = observed / index
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = special.gammainc(np.maximum(x, 1e-12), lam)
        out = -np.log10(tail)
    out[observed <= 0] = 0.0
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=_MAX_SCORE), 0.0, _MAX_SCORE)


def _trailing(x: np.ndarray, lag: int, count: int) -> np.ndarray:
    """Sum of ``x[:, t - lag*m]`` for m = 1..count, for every column t (zeros before the start)."""
    k, t = x.shape
    out = np.zeros_like(x)
    if lag < 1 or count < 1:
        return out
    if lag == 1:
        c = np.concatenate([np.zeros((k, 1)), np.cumsum(x, axis=1)], axis=1)
        idx = np.arange(t)
        return c[:, idx] - c[:, np.maximum(idx - count, 0)]
    for m in range(1, count + 1):
        if m * lag >= t:
            break
        out[:, m * lag :] += x[:, : t - m * lag]
    return out


class _Baseline:
    """Expected counts for a (keys x buckets) matrix, learnt from quiet past buckets."""

    def __init__(self, step: pd.Timedelta, history: pd.Timedelta) -> None:
        self.w = max(1, int(round(history / step)))
        day = pd.Timedelta(days=1)
        if step <= day and (day / step) == round(day / step):
            self.p_day = int(round(day / step))
            self.p_week = 7 * self.p_day
        else:
            self.p_day = self.p_week = 0

    def fit(self, y: np.ndarray, n: np.ndarray, quiet: np.ndarray) -> np.ndarray:
        """Return the expected ``y`` per bucket for exposure ``n``, from the quiet buckets."""
        yq, nq = y * quiet, n * quiet
        total = (yq.sum(axis=1, keepdims=True) + 0.5) / np.maximum(
            nq.sum(axis=1, keepdims=True), 1e-9
        )
        past = (_trailing(yq, 1, self.w) + _PRIOR) / (_trailing(nq, 1, self.w) + _PRIOR / total)
        whole = np.broadcast_to(total, y.shape)
        for lag in (self.p_day, self.p_week):
            if lag and lag < y.shape[1]:
                whole = (_slot_sums(yq, lag) + _PRIOR) / (_slot_sums(nq, lag) + _PRIOR / whole)
            if lag and lag < self.w:
                count = self.w // lag
                past = (_trailing(yq, lag, count) + _PRIOR) / (
                    _trailing(nq, lag, count) + _PRIOR / past
                )
        # the past takes over as it grows: at the start the whole series' profile stands in
        grown = np.minimum(np.arange(y.shape[1]) / self.w, 1.0)
        return (grown * past + (1 - grown) * whole) * n


def _slot_median(x: np.ndarray, period: int) -> np.ndarray:
    """For every bucket, the lower median of ``x`` over its slot (position mod period)."""
    k, t = x.shape
    if not period or period >= t:
        lower = np.quantile(x, 0.5, axis=1, keepdims=True, method="lower")
        return np.broadcast_to(lower, x.shape)
    rows = -(-t // period)
    padded = np.full((k, rows * period), np.nan)
    padded[:, :t] = x
    # the lower median: with two weeks, [0, 40] is "usually 0", not 20
    per_slot = np.nanquantile(padded.reshape(k, rows, period), 0.5, axis=1, method="lower")
    return np.tile(per_slot, (1, rows))[:, :t]


def _slot_sums(x: np.ndarray, period: int) -> np.ndarray:
    """For every bucket, sum ``x`` over all buckets of its slot (position mod period)."""
    k, t = x.shape
    rows = -(-t // period)
    padded = np.zeros((k, rows * period))
    padded[:, :t] = x
    per_slot = padded.reshape(k, rows, period).sum(axis=1)
    return np.tile(per_slot, (1, rows))[:, :t]


def _scales(step: pd.Timedelta, buckets: int) -> list[int]:
    sizes = {max(1, int(round(pd.Timedelta(hours=h) / step))) for h in _SCALES_H}
    return sorted(s for s in sizes if s <= max(1, buckets))


def _window_sums(x: np.ndarray, size: int) -> np.ndarray:
    """Sum of ``x`` over the window of ``size`` buckets that ends at each bucket."""
    if size == 1:
        return x
    shifted = np.concatenate([x[:, 1:], np.zeros((x.shape[0], 1))], axis=1)
    return _trailing(shifted, 1, size)


def _dispersion(obs: np.ndarray, exp: np.ndarray, quiet: np.ndarray, trim: float) -> np.ndarray:
    """Per-key dispersion index of window sums (``Var = index * mean``), from quiet windows.

    Ratio estimator ``sum((O - E)**2) / sum(E)``, at least 1 (Poisson). It absorbs the clustering
    of failures (a failing machine retries every 2 hours, so its failures come together) and the
    correlation between neighbouring buckets, which is why it is estimated at every time scale.
    ``trim`` leaves out that share of the quiet windows with the largest excess (O - E) / sqrt(E),
    so that an incident not yet excluded from the baseline does not hide itself.
    """
    use = quiet.copy()
    if trim > 0:
        z = np.where(quiet, (obs - exp) / np.sqrt(np.maximum(exp, 1e-9)), -np.inf)
        cut = np.nanquantile(np.where(quiet, z, np.nan), 1 - trim, axis=1, method="higher")
        use &= z < np.nan_to_num(cut, nan=np.inf)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        index = (((obs - exp) ** 2) * use).sum(axis=1) / (exp * use).sum(axis=1)
    return np.clip(np.nan_to_num(index, nan=1.0), 1.0, _INDEX_MAX)


def _flag(y, mean, quiet, thr: float, scales: list[int], trim: float):
    """Per bucket: best score over the windows that contain it, the flags, and phi per scale."""
    k, t = y.shape
    best = np.zeros((k, t))
    flagged = np.zeros((k, t), dtype=bool)
    alarm = np.zeros((k, t), dtype=bool)  # a window ending at this bucket is significant
    phis = {}
    extra = math.log10(len(scales))
    for size in scales:
        obs, exp = _window_sums(y, size), _window_sums(mean, size)
        calm = _window_sums(quiet.astype(float), size) >= size - 0.5
        calm[:, : size - 1] = False
        phis[size] = index = _dispersion(obs, exp, calm, trim)
        score = _tail_score(obs, exp, index[:, None])
        if size == 1:
            single = score
        best = np.maximum(best, score)
        excess = obs - exp
        hit = (score >= thr + extra) & (excess >= 1)
        alarm |= hit
        if size == 1:
            flagged |= hit
            continue
        # a significant window flags its buckets that carry at least half its mean excess
        mean_excess = np.where(hit, excess / size, 0.0)
        strongest = np.zeros((k, t))  # largest mean excess of a significant window holding it
        for lag in range(size):
            strongest[:, : t - lag] = np.maximum(strongest[:, : t - lag], mean_excess[:, lag:])
        flagged |= (strongest > 0) & (y - mean >= np.maximum(0.5 * strongest, 0.5))
    return best, flagged, alarm, phis, single


def _runs(flags: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Index ranges [start, stop) of flagged buckets, merging runs less than ``gap`` apart."""
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > gap + 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    stops = np.r_[idx[breaks], idx[-1]] + 1
    return list(zip(starts.tolist(), stops.tolist()))


def _severity(excess: float, min_excess: float) -> str:
    units = excess / max(min_excess, 1e-9)
    for name, step in zip(SEVERITIES, _SEVERITY_STEPS):
        if units < step:
            return name
    return SEVERITIES[-1]


def _prepare(
    counts: pd.DataFrame, time: str, value: str | None, exposure: str | None, keys
) -> tuple[pd.DataFrame, list[str], str, str | None]:
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
        if not pd.api.types.is_numeric_dtype(counts[col]):
            raise AnalysisError(f"column {col!r} must be numeric, not {counts[col].dtype}")
        if (counts[col].fillna(0) < 0).any():
            raise AnalysisError(f"column {col!r} holds negative numbers; counts must be >= 0")
    if keys is None:
        skip = {time, value, exposure, *_RESERVED}
        keys = [c for c in counts.columns if c not in skip and not pd.api.types.is_numeric_dtype(
            counts[c])]
    else:
        keys = [keys] if isinstance(keys, str) else list(keys)
        missing = [k for k in keys if k not in counts.columns]
        if missing:
            raise AnalysisError(f"counts lacks key column(s) {missing}")
    times = counts[time]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        if not pd.api.types.is_datetime64_any_dtype(times):
            raise AnalysisError(f"column {time!r} must hold times, not {times.dtype}")
    if counts.duplicated([time, *keys]).any():
        raise AnalysisError(
            f"counts has several rows for one {time!r} and key ({', '.join(keys) or 'no keys'}); "
            "expected one value per bucket per key"
        )
    return counts, keys, value, exposure


def _matrix(counts, time, value, exposure, keys):
    grid = pd.DatetimeIndex(counts[time].drop_duplicates().sort_values())
    if keys:
        combos = counts[keys].drop_duplicates().reset_index(drop=True)
        key_index = pd.MultiIndex.from_frame(combos)
        idx = pd.MultiIndex.from_frame(counts[keys])
        row = key_index.get_indexer(idx)
    else:
        combos = pd.DataFrame(index=[0])
        row = np.zeros(len(counts), dtype=np.int64)
    col = grid.get_indexer(counts[time])
    y = np.zeros((len(combos), len(grid)))
    y[row, col] = counts[value].fillna(0).to_numpy(dtype=float)
    n = None
    if exposure:
        n = np.zeros_like(y)
        n[row, col] = counts[exposure].fillna(0).to_numpy(dtype=float)
        if (n >= y).all():  # the exposure counts the failures too: scale by the other attempts
            n = n - y
    return grid, combos, y, n


def _step(grid: pd.DatetimeIndex) -> pd.Timedelta:
    if len(grid) < 2:
        return pd.Timedelta(hours=1)
    diffs = np.diff(grid.as_unit("ns").asi8)
    return pd.Timedelta(int(np.median(diffs)), "ns")


def _fit(counts, sensitivity, time, value, exposure, keys, history, min_excess, gap, fleet_size):
    thr = score_threshold(sensitivity)
    counts, keys, value, exposure = _prepare(counts, time, value, exposure, keys)
    grid, combos, y, n = _matrix(counts, time, value, exposure, keys)
    step = _step(grid)
    try:
        history_td = pd.Timedelta(history)
        gap_td = pd.Timedelta(hours=12) if gap == "auto" else pd.Timedelta(gap)
    except (ValueError, TypeError) as exc:
        raise AnalysisError(
            f"history and gap must be durations such as '28D' or '12h': {exc}"
        ) from None
    if min_excess == "auto":
        fleet = fleet_size if fleet_size is not None else counts.attrs.get("devices", 0)
        min_excess = max(3.0, math.ceil(0.001 * float(fleet or 0)))
    elif not isinstance(min_excess, (int, float)) or min_excess < 0:
        raise AnalysisError(f"min_excess={min_excess!r}; expected 'auto' or a number >= 0")
    gap_b = max(1, int(round(gap_td / step)))
    base = _Baseline(step, history_td)
    scales = _scales(step, y.shape[1])
    quiet = np.ones_like(y, dtype=bool)
    spikes: list[dict] = []
    ones = np.ones_like(y)
    busy = np.ones_like(y)
    if n is not None:  # how busy each bucket is compared with the usual for its hour of the week
        busy = np.clip((n + 1.0) / (base.fit(n, ones, ones.astype(bool)) + 1.0), 0.2, 5.0)
    # the first pass, which knows no spike yet, learns from counts capped near the usual value of
    # their hour of the week: a rise in one week is cut down, a rise every Monday is kept
    capped = np.minimum(y, 2.0 * _slot_median(y, base.p_week) + 2.0)
    for attempt in range(_PASSES):
        mean = base.fit((capped if attempt == 0 else y) / busy, ones, quiet) * busy
        score, flagged, alarm, phis, single = _flag(
            y, mean, quiet, thr, scales, _TRIM if attempt == 0 else 0.0
        )
        spikes = []
        calm = np.ones_like(y, dtype=bool)
        for k in range(y.shape[0]):
            for a, b in _runs(flagged[k], gap_b):
                while b - a > 1 and single[k, a] < _EDGE:  # edges must be unusual themselves
                    a += 1
                while b - a > 1 and single[k, b - 1] < _EDGE:
                    b -= 1
                obs, exp = y[k, a:b].sum(), mean[k, a:b].sum()
                scale = min(scales, key=lambda size: abs(math.log(size / (b - a))))
                s = float(_tail_score(np.array([obs]), np.array([exp]), phis[scale][k])[0])
                if s < thr or obs - exp < min_excess:
                    continue
                rang = np.flatnonzero(alarm[k, a:])
                first = a + int(rang[0]) if rang.size else b - 1
                spikes.append(
                    {"k": k, "a": a, "b": b, "obs": obs, "exp": exp, "score": s, "alarm": first}
                )
                calm[k, max(a - 1, 0) : b + 1] = False
        if attempt and (calm == quiet).all():
            break
        quiet = calm  # spikes leave the baseline; repeat until the set of spikes is stable
    return grid, combos, keys, y, mean, score, flagged, spikes, step, float(min_excess)


def detect_spikes(
    counts: pd.DataFrame,
    sensitivity: float = 0.5,
    *,
    time: str = "time",
    value: str | None = None,
    exposure: str | None = "auto",
    keys: str | Sequence[str] | None = None,
    history: str = "28D",
    min_excess: float | str = "auto",
    gap: str = "auto",
    fleet_size: int | None = None,
) -> pd.DataFrame:
    """Find rises in regular count series: one row per spike, largest excess first.

    The method is described in the module docstring (:mod:`activation_kb.analysis.spikes`).

    Parameters
    ----------
    counts : pandas.DataFrame
        One row per bucket per key: a ``time`` column, key columns and a count column, such as
        :func:`~activation_kb.error_frequency` returns, or your own counts. Missing buckets of a
        key count as 0.
    sensitivity : float
        In (0, 1]. A spike needs a score (``-log10`` probability under the baseline) of at least
        ``2 + 8 * (1 - sensitivity)``: 6 at the default 0.5, 2 at 1.0.
    time : str
        Name of the bucket column.
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
        Smallest excess (observed - expected) worth reporting; "auto" is 3, or one per thousand
        devices when the fleet is larger (``fleet_size``, else ``counts.attrs["devices"]``).
    gap : str
        Flagged buckets of one key closer than this form one spike; "auto" is 12 hours.
    fleet_size : int, optional
        Number of devices, for the automatic ``min_excess``.

    Returns
    -------
    pandas.DataFrame
        The key columns, ``start``, ``end`` (exclusive), ``detected`` (end of the first bucket
        at which a window ending there was significant: when a run scheduled after every bucket
        would first have raised it), ``peak`` (bucket of largest excess),
        ``observed``, ``expected``, ``excess``, ``ratio`` (observed / expected),
        ``peak_observed``, ``peak_expected``, ``buckets``, ``score`` and ``severity``.

    Raises
    ------
    AnalysisError
        For a frame without the named columns, negative or non-numeric counts, several rows for
        one bucket and key, or a sensitivity outside (0, 1].

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2026-01-05", periods=24 * 14, freq="h", tz="UTC")
    >>> counts = pd.DataFrame({"time": t, "value": 0.0})
    >>> counts.loc[200:203, "value"] = 40
    >>> detect_spikes(counts)[["start", "observed"]]
                          start  observed
    0 2026-01-13 08:00:00+00:00     160.0
    """
    if counts.empty:
        _, keys, _, _ = _prepare(counts, time, value, exposure, keys)
        thr = score_threshold(sensitivity)
        empty = pd.DataFrame({k: counts[k].iloc[:0] for k in keys})
        for column in ("start", "end", "detected", "peak"):
            empty[column] = counts[time].iloc[:0]
        for column in ("observed", "expected", "excess", "ratio", "peak_observed",
                       "peak_expected", "score"):
            empty[column] = pd.Series(dtype=float)
        empty["buckets"] = pd.Series(dtype=int)
        empty["severity"] = pd.Series(dtype=object)
        empty.attrs.update(sensitivity=sensitivity, min_excess=None, threshold=thr)
        return empty
    grid, combos, keys, y, mean, _, _, spikes, step, min_ex = _fit(
        counts, sensitivity, time, value, exposure, keys, history, min_excess, gap, fleet_size
    )
    rows = []
    for sp in spikes:
        k, a, b = sp["k"], sp["a"], sp["b"]
        excess = y[k, a:b] - mean[k, a:b]
        peak = a + int(np.argmax(excess))
        row = {key: combos.iloc[k][key] for key in keys}
        row.update(
            start=grid[a],
            end=grid[b - 1] + step,
            detected=grid[sp["alarm"]] + step,
            peak=grid[peak],
            observed=float(sp["obs"]),
            expected=float(sp["exp"]),
            excess=float(sp["obs"] - sp["exp"]),
            ratio=float(sp["obs"] / max(sp["exp"], 1e-9)),
            peak_observed=float(y[k, peak]),
            peak_expected=float(mean[k, peak]),
            buckets=int(b - a),
            score=round(sp["score"], 2),
            severity=_severity(sp["obs"] - sp["exp"], min_ex),
        )
        rows.append(row)
    columns = [*keys, "start", "end", "detected", "peak", "observed", "expected", "excess", "ratio",
               "peak_observed", "peak_expected", "buckets", "score", "severity"]
    out = pd.DataFrame(rows, columns=columns)
    if out.empty:
        for c in ("start", "end", "detected", "peak"):
            out[c] = pd.Series(dtype=grid.dtype if len(grid) else "datetime64[ns, UTC]")
    out = out.sort_values(["excess", "start"], ascending=[False, True], kind="stable")
    out.attrs.update(
        sensitivity=sensitivity, min_excess=min_ex, threshold=score_threshold(sensitivity)
    )
    return out.reset_index(drop=True)


def expected_counts(
    counts: pd.DataFrame,
    sensitivity: float = 0.5,
    *,
    time: str = "time",
    value: str | None = None,
    exposure: str | None = "auto",
    keys: str | Sequence[str] | None = None,
    history: str = "28D",
    min_excess: float | str = "auto",
    gap: str = "auto",
    fleet_size: int | None = None,
) -> pd.DataFrame:
    """Return ``counts`` with the baseline behind :func:`detect_spikes`, bucket by bucket.

    Parameters are those of :func:`detect_spikes`.

    Returns
    -------
    pandas.DataFrame
        ``counts`` (every bucket of every key) with ``expected`` (the baseline count),
        ``score`` (best ``-log10`` probability of a window holding the bucket) and ``in_spike``
        (the bucket belongs to a reported spike).
    """
    if counts.empty:
        _prepare(counts, time, value, exposure, keys)
        score_threshold(sensitivity)
        return counts.assign(expected=pd.Series(dtype=float), score=pd.Series(dtype=float),
                             in_spike=pd.Series(dtype=bool))
    grid, combos, keys, y, mean, score, _, spikes, _, _ = _fit(
        counts, sensitivity, time, value, exposure, keys, history, min_excess, gap, fleet_size
    )
    in_spike = np.zeros_like(y, dtype=bool)
    for sp in spikes:
        in_spike[sp["k"], sp["a"] : sp["b"]] = True
    frame = combos.loc[np.repeat(np.arange(len(combos)), len(grid))].reset_index(drop=True)
    frame = frame[keys] if keys else pd.DataFrame(index=range(len(combos) * len(grid)))
    frame.insert(0, time, np.tile(grid, len(combos)))
    frame["expected"] = mean.ravel()
    frame["score"] = score.ravel()
    frame["in_spike"] = in_spike.ravel()
    out = counts.drop(columns=[c for c in ("expected", "score", "in_spike") if c in counts.columns])
    return frame.merge(out, on=[time, *keys], how="left").fillna(
        {c: 0 for c in out.columns if c not in (time, *keys)}
    )
