"""Spikes: the stretches that significant windows flag, joined into one run per event.

A window is significant when its score reaches the threshold of the sensitivity (plus ``log10``
of the number of scales) and its excess (or deficit, going down) reaches ``min_excess``. It flags
the stretch that holds its excess: the rise a CUSUM would find, each bucket counting for its
excess less half its standard deviation and half the window's mean excess. Flagged buckets of a
key less than ``gap`` apart, or flagged by windows that end within it, form one spike, first known
at the end of the earliest significant window holding one of them. A lower threshold, or more
data, only adds windows, so only adds flags: spikes grow or merge, never vanish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from ._fit import Fit, Scale, Settings

__all__ = ["Spike", "find_spikes", "runs"]

_SLACK = 0.5  # standard deviations a bucket must exceed to extend a stretch
_DRIFT = 0.5  # ... and this share of the mean excess of the window that flags it
_BLOCK = 4_000_000  # cells of (keys x buckets x window) worked on at once


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


@dataclass(frozen=True)
class _Flags:
    """Buckets flagged in one direction, and what the significant windows holding them say."""

    flagged: np.ndarray  # (k, T) bool
    alarm: np.ndarray  # (k, T) bucket at whose end the first significant window holding it ended
    reach: np.ndarray  # (k, T) ... the last one (a bucket belongs with the buckets up to there)
    best: np.ndarray  # (k, T) best score of a significant window holding it


def _hits(sc: Scale, threshold: float, settings: Settings, sign: int):
    """Significant windows of one scale (none before the warm-up ends) and their scores."""
    score = sc.up if sign > 0 else sc.down
    with np.errstate(invalid="ignore"):
        excess = sign * (sc.obs - sc.exp)
        hit = (score >= threshold) & (excess >= settings.min_excess) & (excess > 0)
    hit[:, : settings.judged_from + sc.size - 1] = False  # windows wholly after the warm-up
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
    of scales and its excess reaches ``min_excess``; none starts before ``settings.judged_from``
    (the cycle seen twice). It flags the stretch of :func:`_segments`. More windows (a lower
    threshold, or more data) can only flag more buckets.
    """
    k, t = fit_.y.shape
    extra = math.log10(len(fit_.scales))
    flagged = np.zeros((k, t), dtype=bool)
    alarm, reach, best = np.full((k, t), np.inf), np.full((k, t), -np.inf), np.zeros((k, t))
    own_sums = np.concatenate([np.zeros((k, 1)), np.cumsum(_slack(fit_, sign), axis=1)], axis=1)
    position = np.broadcast_to(np.arange(t, dtype=float), (k, t))
    for sc in fit_.scales:
        hit, score = _hits(sc, threshold + extra, settings, sign)
        if not hit.any():
            continue
        drift = np.where(hit, _DRIFT * sign * (sc.obs - sc.exp) / np.maximum(sc.present, 1), 0.0)
        mine = fit_.present & _covered(*_segments(own_sums, sc.size, drift), hit)
        flagged |= mine
        alarm = np.minimum(alarm, np.where(mine, _forward(
            minimum_filter1d, np.where(hit, position, np.inf), sc.size, np.inf), np.inf))
        reach = np.maximum(reach, np.where(mine, _forward(
            maximum_filter1d, np.where(hit, position, -np.inf), sc.size, -np.inf), -np.inf))
        best = np.maximum(best, np.where(mine, _forward(
            maximum_filter1d, np.where(hit, score, 0.0), sc.size, 0.0), 0.0))
    return _Flags(flagged, alarm, reach, best)


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
    return Spike(k, a, b, int(flags.alarm[k, a:b].min()), a + int(np.argmax(own)),
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
