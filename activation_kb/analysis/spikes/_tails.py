"""How unusual a window's total is: negative-binomial tails with a causal dispersion.

A window's total count ``O`` is compared with its expectation ``E`` under the variance

    Var = phi * E + (c + v) * E**2

``phi`` (at least 1, Poisson) absorbs clusters (a failing machine retries every 2 hours), ``c``
the bursts whose size grows with the level (mentions of a company), and ``v`` is the relative
variance of the baseline itself (large while its history is short). Counted in clusters of
``phi``, the total is negative binomial with mean ``E / phi`` and size ``1 / (c + v)`` (Poisson
when that is 0); the score is ``-log10`` of the probability of a total at least as far from ``E``
in the direction asked, continuous in ``O``.

``phi`` and ``c`` are estimated per key and per window size from the quiet windows of the
``history`` before each window (two moment equations, weighted by 1 and by 1 / E, with a few
Poisson pseudo-windows as a prior), so they too only use the past.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ._baseline import lagged, trailing

_PSEUDO = 3.0  # pseudo-windows of prior behind every dispersion estimate
_WINSOR = 16.0  # a window's squared deviation counts up to 16 variances (4 standard deviations)
_WINSOR_COUNTS = 10.0  # ... and always up to 10 counts (rare counts come in clusters)
_BURST_COUNTS = 10.0  # the burst term is learnt from windows of this many counts or more
_FLOOR = 1e-300  # probabilities below this are scored by their Chernoff bound (>= 300)
_NB_MIN = 1e-9  # below this, c + v is Poisson
_SCREEN = 1.5  # windows within 1.5 standard deviations are scored by the normal approximation


@dataclass(frozen=True)
class Dispersion:
    """Variance parameters of window totals, per key and bucket (learnt from the past)."""

    phi: np.ndarray  # (k, T) cluster size, >= 1
    c: np.ndarray  # (k, T) squared coefficient of variation of bursts, >= 0


def _poisson_or_nb_up(x, mu, size):
    nb = size < 1.0 / _NB_MIN
    p = special.gammainc(np.maximum(x, 1e-12), mu)
    if nb.any():
        q = mu / (size + mu)
        p = np.where(nb, special.betainc(np.maximum(x, 1e-12), np.where(nb, size, 1.0), q), p)
    return p


def _poisson_or_nb_down(x, mu, size):
    nb = size < 1.0 / _NB_MIN
    p = special.gammaincc(x + 1.0, mu)
    if nb.any():
        q = size / (size + mu)
        p = np.where(nb, special.betainc(np.where(nb, size, 1.0), x + 1.0, q), p)
    return p


def _chernoff(x, mu, size):
    """``-log`` of the Chernoff bound of the tail at ``x`` (orders totals beyond underflow)."""
    poisson = x * np.log(np.maximum(x, 1e-300) / mu) - x + mu
    nb = x * np.log(np.maximum(x, 1e-300) * (size + mu) / (mu * (x + size))) + size * np.log(
        (size + mu) / (x + size))
    return np.where(size > 1e8, poisson, nb)


def tail_score(
    obs: np.ndarray, exp: np.ndarray, phi: np.ndarray, inv_size: np.ndarray, up: bool
) -> np.ndarray:
    """``-log10 P(total >= obs)`` (``up``) or ``P(total <= obs)``; 0 on the other side.

    ``inv_size`` is ``c + v``. NaN expectations score 0 (nothing known yet).
    """
    obs, exp = np.broadcast_arrays(np.asarray(obs, float), np.asarray(exp, float))
    phi = np.broadcast_to(phi, obs.shape)
    inv_size = np.broadcast_to(inv_size, obs.shape)
    out = np.zeros(obs.shape)
    side = (obs > exp) if up else (obs < exp)
    use = side & np.isfinite(exp) & np.isfinite(obs)
    if not use.any():
        return out
    o, e, f, s = obs[use], np.maximum(exp[use], 1e-12), phi[use], inv_size[use]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.abs(o - e) / np.sqrt(f * e + s * e * e)
        score = -special.log_ndtr(-z) / math.log(10.0)  # close enough near the middle
        far = z > _SCREEN
        if far.any():
            score[far] = _exact(o[far], e[far], f[far], s[far], up)
    out[use] = np.nan_to_num(score, nan=0.0, posinf=-math.log10(_FLOOR))
    return out


def _exact(o, e, f, s, up: bool) -> np.ndarray:
    """``-log10`` of the negative-binomial (or Poisson) tail, Chernoff beyond underflow."""
    x, mu = o / f, e / f
    size = 1.0 / np.maximum(s, _NB_MIN)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = _poisson_or_nb_up(x, mu, size) if up else _poisson_or_nb_down(x, mu, size)
        score = -np.log10(np.clip(p, 0.0, 1.0))
        approx = _chernoff(x, mu, size) / math.log(10.0)
    tiny = ~(p > _FLOOR)
    score[tiny] = np.maximum(approx[tiny], -math.log10(_FLOOR))
    return score


def estimate(
    obs: np.ndarray, exp: np.ndarray, relvar: np.ndarray, usable: np.ndarray, window: int,
    lag: int, size: int, prior: Dispersion | None = None,
) -> Dispersion:
    """``phi`` and ``c`` for every bucket from the ``usable`` windows of ``size`` before it.

    Sums run over the ``window`` buckets before each bucket, leaving out the last ``lag`` (a
    day): an incident does not widen the tails it is judged by while it unfolds. A window's
    squared deviation counts at most ``_WINSOR`` times a generous variance (``E + E**2``: a
    standard deviation as large as the expectation), and always up to ``_WINSOR_COUNTS``
    counts. Each key's estimate starts from a few pseudo-windows (``_PSEUDO`` independent
    windows, so ``_PSEUDO * size`` overlapping ones) of the estimate pooled over all keys,
    itself starting from ``prior`` (the estimate at the next smaller size) or Poisson: a key
    seen failing for the first time gets the clustering of the others.
    """
    sums = _moments(obs, exp, relvar, usable, window, lag)
    weight = _PSEUDO * size
    phi0, c0 = (np.ones(1), np.zeros(1)) if prior is None else (prior.phi, prior.c)
    if obs.shape[0] == 1:
        return Dispersion(*_solve(*_pseudo(sums, weight, phi0, c0)))
    pooled = [x.sum(axis=0, keepdims=True) for x in sums]
    pool_phi, pool_c = _solve(*_pseudo(pooled, weight, phi0.mean(axis=0), c0.mean(axis=0)))
    return Dispersion(*_solve(*_pseudo(sums, weight, pool_phi, pool_c)))


def _moments(obs, exp, relvar, usable, window, lag):
    """Trailing sums of the moment equations: windows, E, E**2, deviation**2 / E, deviation**2."""
    e = np.where(usable, exp, 0.0)
    use = usable & (e > 0)
    e = np.where(use, e, 0.0)
    cap = np.maximum(_WINSOR * (e + (1.0 + relvar) * e * e), _WINSOR_COUNTS**2)
    a = np.where(use, np.minimum((obs - exp) ** 2, cap) - relvar * exp**2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_e = np.where(use, a / e, 0.0)
    lag = min(lag, window // 2)
    return [lagged(trailing(v, 1, window - lag), lag)
            for v in (use.astype(float), e, e * e, a_e, a)]


def _pseudo(sums, weight, phi0, c0):
    """Add ``weight`` pseudo-windows of mean size whose variance is ``phi0 E + c0 E**2``.

    The burst term ``c`` also gets pseudo-windows of ``_BURST_COUNTS`` counts: it is learnt from
    windows that hold that many counts, not from rare counts, whose clusters ``phi`` explains.
    """
    n, se, se2, sae, sa = sums
    mean_e = np.where(n > 0, se / np.maximum(n, 1e-12), 1.0)
    var0 = phi0 * mean_e + c0 * mean_e**2
    ridge = weight * _BURST_COUNTS**2
    return (n + weight, se + weight * mean_e, se2 + weight * mean_e**2 + ridge,
            sae + weight * var0 / mean_e, sa + weight * var0 + ridge * c0)


def _solve(n, se, se2, sae, sa):
    """Least squares of the two moment equations, with phi >= 1 and c >= 0."""
    det = n * se2 - se * se
    ok = det > 1e-6 * n * se2
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(ok, (sae * se2 - sa * se) / det, sae / n)
        c = np.where(ok, (n * sa - se * sae) / det, 0.0)
        low = phi < 1.0  # Poisson at least: refit c alone
        c = np.where(low, (sa - se) / se2, c)
        phi = np.where(low, 1.0, phi)
        neg = c < 0.0  # no bursts: refit phi alone
        phi = np.where(neg, np.maximum(sae / n, 1.0), phi)
        c = np.where(neg, 0.0, c)
    return np.nan_to_num(phi, nan=1.0), np.nan_to_num(c, nan=0.0)
