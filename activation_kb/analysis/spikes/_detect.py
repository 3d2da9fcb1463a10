"""Windows at several time scales, the passes that keep unusual buckets out of the baseline, and
the spikes: runs of flagged buckets with the time each was first known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from ._baseline import Baseline, busy_ratio, expect, window_relvar
from ._grid import Grid
from ._tails import Dispersion, estimate, tail_score

_LADDER = tuple(pd.Timedelta(d) for d in ("15min", "1h", "3h", "6h", "1D", "3D", "7D"))
_PASSES = 4
#: score (-log10 probability, before the correction for several scales) at which a bucket is
#: kept out of the baseline, whatever the sensitivity (so that the baseline does not depend on it)
QUIET_SCORE = 3.0
_SHARE = 0.5  # an unusual bucket carries half the mean excess of the window it ends
_SLACK = 0.5  # standard deviations a bucket must exceed to extend a stretch
_BLOCK = 4_000_000  # cells of (keys x buckets x window) worked on at once


@dataclass(frozen=True)
class Settings:
    """What detection needs besides the counts, in buckets."""

    window: int  # history, in buckets
    days: int  # history, in whole days
    per_day: float  # buckets per day
    gap: int  # flagged buckets of one key closer than this form one spike
    min_excess: float
    per_unit: int  # buckets per profile unit (an hour for sub-hour steps)
    first: int  # first bucket judged: after a day (a week of days, three longer buckets)


@dataclass(frozen=True)
class Scale:
    """Totals and scores of the windows of one size, each ending at its bucket."""

    size: int
    obs: np.ndarray
    exp: np.ndarray
    present: np.ndarray  # buckets with a value in the window
    up: np.ndarray  # -log10 P(total >= obs)
    down: np.ndarray  # -log10 P(total <= obs)
    dispersion: Dispersion


@dataclass(frozen=True)
class Fit:
    """The baseline after the last pass, and the scores of every scale under it."""

    y: np.ndarray  # (k, T) counts, 0 where missing
    present: np.ndarray
    mean: np.ndarray  # (k, T) expected counts, NaN while nothing is known
    baseline: Baseline
    scales: list[Scale]
    passes: int


@dataclass(frozen=True)
class Spike:
    """One spike: a key's run of flagged buckets ``[start, stop)`` and its totals."""

    key: int
    start: int
    stop: int
    alarm: int  # bucket at whose end the spike was first known
    peak: int
    direction: str  # "up" or "down"
    observed: float
    expected: float
    score: float


def scale_sizes(step: pd.Timedelta, buckets: int) -> list[int]:
    """Window sizes in buckets: one bucket, then 15 minutes to a week, up to a day or 7 steps."""
    top = max(pd.Timedelta(days=1), 7 * step)
    sizes = [1] + [int(round(d / step)) for d in _LADDER if d <= top and d / step >= 2]
    return sorted({s for s in sizes if s <= max(buckets, 1)})


def window_sums(x: np.ndarray, size: int) -> np.ndarray:
    """Sum of ``x`` over the ``size`` buckets ending at each bucket (fewer at the start)."""
    if size == 1:
        return x
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
    idx = np.arange(x.shape[1]) + 1
    return c[:, idx] - c[:, np.maximum(idx - size, 0)]


def _scale(y, present, mean, base: Baseline, quiet, totals: tuple, settings: Settings,
           prior: Dispersion | None) -> Scale:
    """Totals, dispersion (learnt from past quiet windows, winsorized) and scores."""
    size, obs, count = totals
    relvar = window_relvar(base, size, settings.per_unit)
    known = present & np.isfinite(mean)
    exp = window_sums(np.where(known, mean, 0.0), size)
    scored = (window_sums(known.astype(float), size) == count) & (count >= max(1, size / 2))
    lag = max(int(round(settings.per_day)), 0)
    usable = scored.copy()
    usable[:, : settings.first // 2 + size - 1] = False  # once the baseline saw its cycle once
    usable &= window_sums(quiet.astype(float), size) >= count - 0.5  # what the mean left out
    disp = estimate(obs, np.where(scored, exp, 0.0), relvar, usable, settings.window, lag, size,
                    prior)
    exp = np.where(scored, exp, np.nan)
    inv_size = disp.c + relvar
    up = tail_score(obs, exp, disp.phi, inv_size, up=True)
    down = tail_score(obs, exp, disp.phi, inv_size, up=False)
    return Scale(size, obs, exp, count, up, down, disp)


def _unusual(fit_scales: list[Scale], y, mean, present) -> np.ndarray:
    """Buckets that, when they came, ended a significant window and carried its excess."""
    extra = math.log10(len(fit_scales))
    out = np.zeros(y.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for sc in fit_scales:
            mean_excess = (sc.obs - sc.exp) / np.maximum(sc.present, 1)
            own = y - mean
            up = (sc.up >= QUIET_SCORE + extra) & (own >= _SHARE * mean_excess)
            down = (sc.down >= QUIET_SCORE + extra) & (own <= _SHARE * mean_excess)
            out |= up | down
    return out & present


def fit(grid: Grid, settings: Settings) -> Fit:
    """Learn the baseline causally, keeping out buckets found unusual, until that settles."""
    present = ~np.isnan(grid.y)
    y = np.nan_to_num(grid.y)
    busy = np.ones_like(y)
    if grid.n is not None:
        busy = busy_ratio(grid.n, grid.season, settings.window, settings.days, settings.per_day)
    sizes = scale_sizes(grid.step, y.shape[1])
    totals = [(s, window_sums(y, s), window_sums(present.astype(float), s)) for s in sizes]
    unusual = np.zeros_like(present)
    for done in range(1, _PASSES + 1):
        base = expect(y / busy, present, unusual, grid.season, settings.window, settings.days,
                      settings.per_day)
        mean = base.mean * busy
        scales, prior = [], None
        for total in totals:
            scales.append(_scale(y, present, mean, base, present & ~unusual, total, settings,
                                 prior))
            prior = scales[-1].dispersion
        found = _unusual(scales, y, mean, present)
        found[:, : settings.first] = False  # no judgement while warming up: all is learnt
        if np.array_equal(found, unusual):
            break
        unusual = found
    return Fit(y, present, mean, base, scales, done)


@dataclass(frozen=True)
class _Flags:
    """Buckets flagged in one direction, and what the significant windows holding them say."""

    flagged: np.ndarray  # (k, T) bool
    first: np.ndarray  # (k, T) bucket at whose end the first significant window holding it ended
    reach: np.ndarray  # (k, T) ... the last one (a bucket belongs with the buckets up to there)
    best: np.ndarray  # (k, T) best score of a significant window holding it


def _hits(sc: Scale, threshold: float, settings: Settings, sign: int):
    """Significant windows of one scale (none before the warm-up ends) and their scores."""
    score = sc.up if sign > 0 else sc.down
    with np.errstate(invalid="ignore"):
        excess = sign * (sc.obs - sc.exp)
        hit = (score >= threshold) & (excess >= settings.min_excess) & (excess > 0)
    hit[:, : settings.first + sc.size - 1] = False  # windows wholly after the warm-up
    return hit, score


def _segments(own_sums: np.ndarray, size: int, drift: np.ndarray) -> tuple:
    """For the window of ``size`` ending at each bucket, the stretch that holds its excess.

    ``own_sums[:, j]`` is the running sum of the buckets' own excess (less their slack) before
    bucket j, and ``drift`` half the mean excess of each window. Within a window, buckets count
    for their excess less that drift: the stretch ends where their running sum first peaks and
    starts after its last low point before that, the rise a CUSUM would find, without the noise
    and the milder excess around it.
    """
    k, t = own_sums.shape[0], own_sums.shape[1] - 1
    position = np.arange(t)
    if size == 1:
        return np.broadcast_to(position, (k, t)), np.broadcast_to(position, (k, t))
    ahead = np.concatenate([np.full((k, size - 1), np.nan), own_sums[:, 1:]], axis=1)
    before = np.concatenate([np.full((k, size - 1), np.nan), own_sums[:, :t]], axis=1)
    top, low = np.empty((k, t), dtype=np.int64), np.empty((k, t), dtype=np.int64)
    steps = np.arange(size)
    block = max(1, _BLOCK // max(k * size, 1))
    for lo in range(0, t, block):
        hi = min(t, lo + block)
        slope = drift[:, lo:hi, None] * steps  # the drift accumulated along each window
        ends = np.lib.stride_tricks.sliding_window_view(ahead[:, lo : hi + size - 1], size,
                                                        axis=1) - slope
        last_peak = np.argmax(np.nan_to_num(ends, nan=-np.inf), axis=2)  # its first peak
        starts = np.lib.stride_tricks.sliding_window_view(before[:, lo : hi + size - 1], size,
                                                          axis=1) - slope
        starts = np.where(steps <= last_peak[:, :, None], np.nan_to_num(starts, nan=np.inf),
                          np.inf)
        top[:, lo:hi] = last_peak
        low[:, lo:hi] = size - 1 - np.argmin(starts[:, :, ::-1], axis=2)
    offset = position - (size - 1)
    return offset + low, offset + top


def _covered(onset: np.ndarray, end: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """Buckets inside the stretch [onset, end] of at least one significant window."""
    k, t = hit.shape
    rows, cols = np.nonzero(hit)
    marks = np.zeros((k, t + 1))
    np.add.at(marks, (rows, np.clip(onset[rows, cols], 0, t)), 1.0)
    np.add.at(marks, (rows, np.clip(end[rows, cols] + 1, 0, t)), -1.0)
    return np.cumsum(marks, axis=1)[:, :t] > 0.5


def _slack(fit_: Fit, sign: int) -> np.ndarray:
    """Each bucket's own excess less half its standard deviation (a CUSUM's reference value).

    Summed, it rises only through buckets clearly beyond their expectation, so a stretch does
    not run on through the noise around an anomaly.
    """
    mean = np.nan_to_num(fit_.mean)
    single = fit_.scales[0]
    var = single.dispersion.phi * mean + (single.dispersion.c + fit_.baseline.relvar) * mean**2
    own = sign * (fit_.y - mean) - _SLACK * np.sqrt(np.nan_to_num(var))
    return np.where(fit_.present & np.isfinite(fit_.mean), own, 0.0)


def _flags(fit_: Fit, threshold: float, settings: Settings, sign: int) -> _Flags:
    """Flag the buckets of the stretch that holds the excess of every significant window.

    A window is significant when its score reaches ``threshold`` plus ``log10`` of the number
    of scales and its excess reaches ``min_excess``; none ends before ``settings.first`` (the
    cycle seen twice). It flags the stretch of :func:`_segments`. More windows (a lower
    threshold, or more data) can only flag more buckets.
    """
    k, t = fit_.y.shape
    extra = math.log10(len(fit_.scales))
    flagged = np.zeros((k, t), dtype=bool)
    first, reach, best = np.full((k, t), np.inf), np.full((k, t), -np.inf), np.zeros((k, t))
    own_sums = np.concatenate([np.zeros((k, 1)), np.cumsum(_slack(fit_, sign), axis=1)], axis=1)
    position = np.broadcast_to(np.arange(t, dtype=float), (k, t))
    for sc in fit_.scales:
        hit, score = _hits(sc, threshold + extra, settings, sign)
        if not hit.any():
            continue
        drift = np.where(hit, _SHARE * sign * (sc.obs - sc.exp) / np.maximum(sc.present, 1), 0.0)
        mine = fit_.present & _covered(*_segments(own_sums, sc.size, drift), hit)
        flagged |= mine
        first = np.minimum(first, np.where(mine, _forward(
            minimum_filter1d, np.where(hit, position, np.inf), sc.size, np.inf), np.inf))
        reach = np.maximum(reach, np.where(mine, _forward(
            maximum_filter1d, np.where(hit, position, -np.inf), sc.size, -np.inf), -np.inf))
        best = np.maximum(best, np.where(mine, _forward(
            maximum_filter1d, np.where(hit, score, 0.0), sc.size, 0.0), 0.0))
    return _Flags(flagged, first, reach, best)


def _forward(operation, x: np.ndarray, size: int, fill: float) -> np.ndarray:
    """``operation`` (a scipy.ndimage 1-d filter) over the ``size`` buckets from each bucket on."""
    return operation(x, size, axis=1, origin=-(size // 2), mode="constant", cval=fill)


def runs(flags: np.ndarray, reach: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Index ranges [start, stop) of flagged buckets, one per event.

    A flagged bucket belongs with every bucket up to ``reach`` (the end of the significant window
    that flagged it); runs less than ``gap`` buckets apart are one.
    """
    idx = np.flatnonzero(flags)
    if idx.size == 0:
        return []
    ends = np.maximum.accumulate(np.maximum(reach[idx], idx))
    breaks = np.flatnonzero(idx[1:] > ends[:-1] + gap + 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    stops = np.r_[idx[breaks], idx[-1]] + 1
    return list(zip(starts.tolist(), stops.tolist()))


def _spike(fit_: Fit, flags: _Flags, k: int, a: int, b: int, sign: int) -> Spike:
    """Totals of the run [a, b) of key k, when it was first known and its best score."""
    present = fit_.present[k, a:b]
    mean = np.nan_to_num(fit_.mean[k, a:b])
    obs = float(fit_.y[k, a:b][present].sum())
    exp = float(mean[present].sum())
    own = np.where(present, sign * (fit_.y[k, a:b] - mean), -np.inf)
    return Spike(k, a, b, int(flags.first[k, a:b].min()), a + int(np.argmax(own)),
                 "up" if sign > 0 else "down", obs, exp, float(flags.best[k, a:b].max()))


def find_spikes(
    fit_: Fit, threshold: float, settings: Settings, direction: str
) -> list[Spike]:
    """Spikes of every key in the directions asked ("up", "down" or "both")."""
    out = []
    signs = {"up": (1,), "down": (-1,), "both": (1, -1)}[direction]
    for sign in signs:
        flags = _flags(fit_, threshold, settings, sign)
        for k in np.flatnonzero(flags.flagged.any(axis=1)):
            for a, b in runs(flags.flagged[k], flags.reach[k], settings.gap):
                out.append(_spike(fit_, flags, int(k), a, b, sign))
    return out
