"""Fitting: windows at several time scales and the passes that keep unusual buckets out.

:func:`fit` learns the baseline (:mod:`._baseline`) from all present buckets, scores the windows
of every scale ending at each bucket (:mod:`._tails`), marks the buckets that ended a window
scoring ``QUIET_SCORE`` or more (and carried its excess) as unusual, and learns again without
them, until the unusual buckets stop changing (at most ``_PASSES`` passes). Each pass only looks
at the past of every bucket, and so does the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._baseline import Baseline, busy_ratio, expect, window_relvar
from ._grid import Grid
from ._tails import Dispersion, estimate, tail_score

__all__ = ["QUIET_SCORE", "Fit", "Scale", "Settings", "fit", "scale_sizes", "window_sums"]

_LADDER = tuple(pd.Timedelta(d) for d in ("15min", "1h", "3h", "6h", "1D", "3D", "7D"))
_PASSES = 4
#: score (-log10 probability, before the correction for several scales) at which a bucket is
#: kept out of the baseline, whatever the sensitivity (so that the baseline does not depend on it)
QUIET_SCORE = 3.0
_SHARE = 0.5  # an unusual bucket carries half the mean excess of the window it ends


@dataclass(frozen=True)
class Settings:
    """What detection needs besides the counts, in buckets."""

    window: int  # history, in buckets
    days: int  # history, in whole days
    per_day: float  # buckets per day
    gap: int  # flagged buckets of one key closer than this form one spike
    min_excess: float
    per_unit: int  # buckets per profile unit (an hour for sub-hour steps)
    judged_from: int  # first bucket judged: the cycle (a day, a week of days) seen twice


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
    usable[:, : settings.judged_from // 2 + size - 1] = False  # after the cycle was seen once
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
        found[:, : settings.judged_from] = False  # no judgement while warming up: all is learnt
        if np.array_equal(found, unusual):
            break
        unusual = found
    return Fit(y, present, mean, base, scales, done)
