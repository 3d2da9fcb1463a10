"""The causal seasonal baseline: what each bucket is expected to hold, learnt from before it.

For bucket t of a key, three levels are learnt from the key's quiet buckets before t (buckets not
missing and not unusual when they came), each shrunk towards the one above it (empirical Bayes
with a gamma prior worth a few counts):

1. the level: the mean over the ``history`` (28 days) before t;
2. the slot of the day (the hour, or the step when it is an hour or more), over the ``history``
   days before t's day;
3. the slot of the week, over the whole weeks of the ``history`` before t's week.

Every level also yields its relative variance (how uncertain it is: one over its counts, plus
the parent's uncertainty in proportion to the prior's weight), so that a young baseline, or a slot
never seen, is trusted less; the tails of :mod:`._tails` widen accordingly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._grid import Season

_LEVEL_PRIOR = 0.5  # counts added to the level (Jeffreys): a silent past is "under one count"
_DAY_PRIOR = 1.0  # counts of prior weight of the level on a slot of the day
_WEEK_PRIOR = 3.0  # counts of prior weight of the slot of the day on a slot of the week
_BUSY_RANGE = (0.2, 5.0)
_RECENT_PRIOR = 5.0  # counts of prior weight on the recent level factor being 1
_RECENT_RANGE = (1 / 3, 3.0)  # the recent level moves the seasonal expectation at most this far
_RECENT_DAYS = 0.0  # over how many days the recent level is measured


@dataclass(frozen=True)
class Baseline:
    """Expected counts per bucket, how uncertain they are, and the past behind them."""

    mean: np.ndarray  # (k, T) expected count; NaN where nothing is known yet
    relvar: np.ndarray  # (k, T) relative variance of ``mean`` (uncertainty of the estimate)
    shared: np.ndarray  # (k, T) its part shared by neighbouring buckets (level, unseen slots)
    days: np.ndarray  # (k, T) days of quiet past behind the level


def trailing(x: np.ndarray, lag: int, count: int) -> np.ndarray:
    """Sum of ``x[:, t - lag * m]`` for m = 1..count at every column t (0 before the start)."""
    k, t = x.shape
    if lag < 1 or count < 1:
        return np.zeros_like(x)
    rows = -(-t // lag) + 1
    padded = np.zeros((k, rows * lag), dtype=float)
    padded[:, lag : lag + t] = x  # row r holds the buckets [(r - 1) * lag, r * lag)
    c = np.cumsum(padded.reshape(k, rows, lag), axis=1)
    behind = np.zeros_like(c)
    if count < rows:
        behind[:, count:] = c[:, :-count]
    return (c - behind).reshape(k, rows * lag)[:, :t]


def _per_unit(x: np.ndarray, unit: np.ndarray, units: int) -> np.ndarray:
    """Sum the buckets of every profile unit (an hour for sub-hour steps)."""
    if len(unit) == units:
        return x
    out = np.zeros((x.shape[0], units))
    np.add.at(out.T, unit, x.T)
    return out


def _shrink(sy, sn, parent, relvar, shared, prior):
    """Gamma-Poisson posterior of a slot's rate with ``prior`` counts centred on ``parent``.

    Its relative variance is that of a weighted mean of the parent and of the slot's own counts
    (one over their number): a slot never seen is as uncertain as its parent, one seen often
    as its own counts. The parent's shared part stays shared by neighbouring buckets.
    """
    weight = prior / parent
    rate = (prior + sy) / (weight + sn)
    share = weight / (weight + sn)  # the prior's share of the estimate
    own = (1.0 - share) ** 2 / (sy + _LEVEL_PRIOR)
    return rate, share**2 * relvar + own, share**2 * shared


def lagged(x: np.ndarray, lag: int) -> np.ndarray:
    """``x`` moved ``lag`` buckets later (0 or False before the start)."""
    if lag <= 0:
        return x
    out = np.zeros_like(x)
    if 0 < lag < x.shape[1]:
        out[:, lag:] = x[:, :-lag]
    return out


def expect(
    y: np.ndarray, present: np.ndarray, unusual: np.ndarray, season: Season | None,
    window: int, days: int, per_day_buckets: float,
) -> Baseline:
    """Learn the expected count of every bucket from the buckets before it.

    The level learns from quiet buckets (present, not ``unusual``). A slot of the day (of the
    week) also learns from unusual buckets whose bucket a day (a week) earlier was unusual too:
    what recurs is a pattern, not an incident, and so a new level or a new peak hour is learnt
    after it has been seen twice. It learns from every bucket of the first day (week): a bucket
    whose slot had never been seen could only be unusual against the coarser levels.
    ``window`` is the history in buckets, ``days`` in days; ``per_day_buckets`` converts
    buckets into days for :attr:`Baseline.days`.
    """
    quiet = present & ~unusual
    yq = np.where(quiet, y, 0.0)
    level_y, level_n = trailing(yq, 1, window), trailing(quiet.astype(float), 1, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(level_n > 0, (level_y + _LEVEL_PRIOR) / level_n, np.nan)
    relvar = shared = 1.0 / (level_y + _LEVEL_PRIOR)
    if season is not None and days >= 1:
        rate, relvar, shared = _seasonal(y, present, unusual, rate, relvar, shared, season, days)
        lag = season.per_unit * season.per_day
        span = min(int(round(_RECENT_DAYS * lag)), window)
        if span > 0:
            rate, relvar, shared = _recent(y, present & (~unusual | lagged(unusual, lag)), rate,
                                           relvar, shared, span)
    return Baseline(rate, relvar, shared, level_n / per_day_buckets)


def window_relvar(base: Baseline, size: int, per_unit: int) -> np.ndarray:
    """Relative variance of the expected total of the ``size`` buckets ending at each bucket.

    The slots of different profile units were learnt from different buckets, so the precisions
    (counts behind them) of their own parts add up, the buckets of one unit sharing theirs; the
    shared part (level, spread of slots not seen yet) is averaged.
    """
    if size == 1:
        return base.relvar
    own = base.relvar - base.shared
    precision = np.where(np.isfinite(own), 1.0 / np.maximum(own, 1e-12), 0.0)
    total = _window(precision, size)
    with np.errstate(divide="ignore"):
        own_w = np.minimum(min(size, per_unit) / total, 1e6)
    return own_w + _window(np.nan_to_num(base.shared, nan=1e6), size) / size


def _window(x: np.ndarray, size: int) -> np.ndarray:
    """Sum of ``x`` over the ``size`` buckets ending at each bucket (fewer at the start)."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
    idx = np.arange(x.shape[1]) + 1
    return c[:, idx] - c[:, np.maximum(idx - size, 0)]


def _recent(y, learn, rate, relvar, shared, span: int):
    """Scale the seasonal rate by the ratio of observed to expected over the last ``span``."""
    expected = np.where(learn & np.isfinite(rate), rate, 0.0)
    observed = np.where(learn & np.isfinite(rate), y, 0.0)
    sy, se = trailing(observed, 1, span), trailing(expected, 1, span)
    factor = np.clip((_RECENT_PRIOR + sy) / (_RECENT_PRIOR + se), *_RECENT_RANGE)
    extra = 1.0 / (_RECENT_PRIOR + sy)
    return rate * factor, relvar + extra, shared + extra


def _seasonal(y, present, unusual, rate, relvar, shared, season: Season, days: int):
    """Shrink the level to the slot of the day, then to the slot of the week."""
    units = len(season.day_slot)
    levels = []
    if season.per_day > 1:
        levels.append((season.per_day, days, _DAY_PRIOR))
    if days >= 7:
        levels.append((7 * season.per_day, days // 7, _WEEK_PRIOR))
    for lag, count, prior in levels:
        span = lag * season.per_unit  # a day (a week) of buckets
        learn = present & (~unusual | lagged(unusual, span))
        learn[:, :span] = present[:, :span]  # nothing was known of these slots yet
        uy = _per_unit(np.where(learn, y, 0.0), season.unit, units)
        un = _per_unit(learn.astype(float), season.unit, units)
        sy = trailing(uy, lag, count)[:, season.unit]
        sn = trailing(un, lag, count)[:, season.unit]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate, relvar, shared = _shrink(sy, sn, rate, relvar, shared, prior)
    return rate, relvar, shared


def busy_ratio(
    n: np.ndarray, season: Season | None, window: int, days: int, per_day_buckets: float
) -> np.ndarray:
    """How busy each bucket is: its exposure against the usual for its slot (0.2 to 5)."""
    present = ~np.isnan(n)
    usual = expect(np.nan_to_num(n), present, np.zeros_like(present), season, window, days,
                   per_day_buckets).mean
    ratio = (np.nan_to_num(n) + 1.0) / (np.nan_to_num(usual, nan=np.nan_to_num(n)) + 1.0)
    return np.clip(ratio, *_BUSY_RANGE)
