"""A NAB scorer written from the published rules, and the two reference detectors.

The Numenta Anomaly Benchmark (NAB, numenta/NAB, MIT licence) scores a detector by the times at
which it raises alarms on labelled series. The rules, as summarised in
``../shared/nab-dev/README.md``:

* the first 15 % of each file (at most 750 rows) is probationary: alarms there are ignored;
* each labelled window is centred on an anomaly; only the earliest alarm inside a window counts and
  earns ``A_tp * s(y)``, with ``y = -(right - i + 1) / width`` in [-1, 0) (``right`` the window's
  last row, ``width`` its rows) and ``s(y) = 2 / (1 + exp(5 y)) - 1``: about 0.99 at the window's
  first row, 0 at its end;
* a window without an alarm costs ``A_fn``;
* an alarm outside every window costs ``A_fp * |s(y)|`` with ``y = (i - right) / (width - 1)``
  measured from the previous window's last row (``s`` is -1 beyond ``y = 3``), or ``A_fp`` when no
  window precedes it;
* the normalised score of a set of files is ``100 * (raw - null) / (perfect - null)`` where each
  term is summed over the files; the null detector raises nothing (every window missed), the
  perfect one raises an alarm at the first row of every window.

Profiles ``(A_tp, A_fp, A_fn)``: standard (1, 0.11, 1), reward low FP (1, 0.22, 1), reward low FN
(1, 0.11, 2). This module is the benchmark's own code; NAB's data are read from
``../shared/nab-dev`` (never shipped).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "PROFILES",
    "Profile",
    "FileScore",
    "NabFile",
    "load_corpus",
    "scaled_sigmoid",
    "score_file",
    "normalised",
    "probation_rows",
    "mad_alarms",
]


@dataclass(frozen=True)
class Profile:
    """Weights of a NAB application profile."""

    tp: float
    fp: float
    fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile(1.0, 0.11, 1.0),
    "reward_low_FP": Profile(1.0, 0.22, 1.0),
    "reward_low_FN": Profile(1.0, 0.11, 2.0),
}


@dataclass(frozen=True)
class NabFile:
    """One labelled series: its name (``realTweets/Twitter_volume_AAPL.csv``), rows and windows."""

    name: str
    frame: pd.DataFrame
    windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]

    @property
    def group(self) -> str:
        """``real`` for the realTweets folder, ``artificial`` for the others."""
        return "real" if self.name.startswith("real") else "artificial"


@dataclass(frozen=True)
class FileScore:
    """Raw score of one detector on one file, with the null and perfect scores to normalise it."""

    raw: float
    null: float
    perfect: float
    tp: int
    fp: int
    fn: int


def load_corpus(root: str | Path) -> list[NabFile]:
    """Read every file named in ``labels/combined_windows.json`` under ``root``."""
    root = Path(root)
    labels = json.loads((root / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    files = []
    for name in sorted(labels):
        frame = pd.read_csv(root / "data" / name, parse_dates=["timestamp"])
        windows = tuple((pd.Timestamp(a), pd.Timestamp(b)) for a, b in labels[name])
        files.append(NabFile(name, frame, windows))
    return files


def scaled_sigmoid(y: np.ndarray | float) -> np.ndarray:
    """NAB's ``s(y) = 2 / (1 + exp(5 y)) - 1``, and -1 beyond ``y = 3``."""
    y = np.asarray(y, dtype=float)
    return np.where(y > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0)


def probation_rows(rows: int) -> int:
    """Rows at the start of a file whose alarms are ignored: 15 %, at most 750."""
    return int(min(np.floor(0.15 * rows), 0.15 * 5000))


def _window_rows(times: pd.Series, windows: Sequence[tuple]) -> list[tuple[int, int]]:
    """Each window as [left, right] row indices (rows whose time lies inside it)."""
    values = times.to_numpy()
    out = []
    for start, end in windows:
        left = int(np.searchsorted(values, np.datetime64(start), side="left"))
        right = int(np.searchsorted(values, np.datetime64(end), side="right")) - 1
        out.append((left, right))
    return out


def score_file(
    times: pd.Series, windows: Sequence[tuple], alarms: Iterable[int], profile: Profile
) -> FileScore:
    """Score alarms (row indices) on one file under ``profile``.

    Parameters
    ----------
    times : pandas.Series
        The file's timestamps, sorted.
    windows : sequence of (start, end)
        Labelled windows, inclusive, in time order.
    alarms : iterable of int
        Rows at which the detector raised an alarm.
    profile : Profile
        Weights.

    Returns
    -------
    FileScore
    """
    bounds = _window_rows(times, windows)
    first_ok = probation_rows(len(times))
    best = [None] * len(bounds)
    fp_cost, fp = 0.0, 0
    for i in sorted(set(int(a) for a in alarms)):
        if i < first_ok:
            continue
        inside = [w for w, (a, b) in enumerate(bounds) if a <= i <= b]
        if inside:
            w = inside[0]
            a, b = bounds[w]
            earned = profile.tp * float(scaled_sigmoid(-(b - i + 1) / (b - a + 1)))
            best[w] = earned if best[w] is None else max(best[w], earned)
            continue
        before = [(a, b) for a, b in bounds if b < i]
        fp += 1
        if not before:
            fp_cost -= profile.fp
            continue
        a, b = before[-1]
        fp_cost += profile.fp * float(scaled_sigmoid((i - b) / max(b - a, 1)))
    fn = sum(1 for v in best if v is None)
    raw = sum(v for v in best if v is not None) + fp_cost - profile.fn * fn
    perfect = profile.tp * float(scaled_sigmoid(-1.0)) * len(bounds)
    return FileScore(raw, -profile.fn * len(bounds), perfect, len(bounds) - fn, fp, fn)


def normalised(scores: Iterable[FileScore]) -> float:
    """``100 * (raw - null) / (perfect - null)`` over a set of files (terms summed first).

    A set without any window has no scale; its score is then ``100 + raw`` (100 when silent).
    """
    scores = list(scores)
    raw = sum(s.raw for s in scores)
    null = sum(s.null for s in scores)
    perfect = sum(s.perfect for s in scores)
    if perfect == null:
        return 100.0 + raw
    return 100.0 * (raw - null) / (perfect - null)


def mad_alarms(
    values: np.ndarray, window: int, threshold: float = 5.0, merge: int | None = None
) -> np.ndarray:
    """Rows where a value leaves its causal rolling median by ``threshold`` robust deviations.

    The median and the median absolute deviation (times 1.4826) are taken over the ``window``
    rows before each row (none before the first full window); alarms less than ``merge`` rows
    after the previous kept alarm are merged into it (default ``window``).
    """
    x = np.asarray(values, dtype=float)
    median = np.full(x.shape, np.nan)
    mad = np.full(x.shape, np.nan)
    if len(x) > window:
        past = np.lib.stride_tricks.sliding_window_view(x[:-1], window)  # rows before row i
        median[window:] = np.median(past, axis=1)
        mad[window:] = np.median(np.abs(past - median[window:, None]), axis=1) * 1.4826
    deviation = np.abs(x - median)
    with np.errstate(invalid="ignore"):
        hit = (deviation > threshold * mad) & (deviation > 0)
    rows = np.flatnonzero(hit)
    merge = window if merge is None else merge
    kept: list[int] = []
    for i in rows:
        if not kept or i - kept[-1] >= merge:
            kept.append(int(i))
    return np.asarray(kept, dtype=int)
