"""detect_spikes on real labelled series: NAB scores beside a merged median/MAD baseline and null.

Usage: ``.venv/bin/python benchmarks/bench_nab.py [--data DIR] [--sensitivity S] [--direction D]
[--verbose]``

Reads the labelled NAB series of ``../shared/nab-dev`` (10 real series of Twitter mentions every 5
minutes, 11 artificial ones; MIT licence, not shipped with the package), runs each detector
causally and scores its alarms with :mod:`nab_score` (the published NAB rules, our own code):

* ``detect_spikes``: each spike is one alarm at the row of its ``detected`` time (the end of the
  bucket whose window first made it significant, so the row of that bucket: NAB stamps a value
  with the time it is read). Every file is run the same way: ``direction`` (default "both": NAB
  labels rises, falls and flat stretches), ``min_excess=0`` (the values are not failures of a
  fleet), other parameters at their defaults. NAB's artificial values are not counts and some
  are negative: a series with negative values is shifted so that the lowest value of its
  probationary period is 0 (a causal change of origin; later values below it are clipped at 0).
* ``merged MAD``: a value further than 8 robust deviations (1.4826 x MAD) from the median of the
  day before it raises an alarm; alarms less than a day after the last one are merged into it.
* ``null``: no alarm (0 by definition).

Goals (issue 15): standard score at least 45 on the real series and at least the merged MAD
baseline on the artificial ones.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nab_score import (  # noqa: E402
    PROFILES,
    NabFile,
    load_corpus,
    mad_alarms,
    normalised,
    probation_rows,
    score_file,
)

from activation_kb.analysis.spikes import detect_spikes  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "nab-dev"
MAD_WINDOW = pd.Timedelta(days=1)
MAD_THRESHOLD = 8.0


def as_counts(nab: NabFile) -> pd.DataFrame:
    """The file as a counts frame; negative series shifted to their probation minimum."""
    values = nab.frame["value"].to_numpy(dtype=float)
    if (values < 0).any():
        origin = values[: probation_rows(len(values))].min()
        values = np.clip(values - origin, 0.0, None)
    return pd.DataFrame({"time": nab.frame["timestamp"], "value": values})


def spike_alarms(nab: NabFile, **params) -> np.ndarray:
    """Rows at which detect_spikes first knew each spike."""
    counts = as_counts(nab)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spikes = detect_spikes(counts, min_excess=0, **params)
    if spikes.empty:
        return np.zeros(0, dtype=int)
    step = counts["time"].diff().median()
    known = (spikes["detected"] - step).to_numpy(dtype="datetime64[ns]")
    rows = np.searchsorted(counts["time"].to_numpy(dtype="datetime64[ns]"), known, side="left")
    return np.unique(rows)


def baseline_alarms(nab: NabFile) -> np.ndarray:
    """Rows of the merged rolling median/MAD baseline."""
    step = nab.frame["timestamp"].diff().median()
    window = max(int(MAD_WINDOW / step), 2)
    return mad_alarms(nab.frame["value"].to_numpy(dtype=float), window, MAD_THRESHOLD, window)


def scores_table(files: list[NabFile], alarms: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """Normalised score per detector, group and profile."""
    rows = []
    for detector, per_file in alarms.items():
        for group in ("real", "artificial"):
            chosen = [f for f in files if f.group == group]
            row = {"detector": detector, "files": group}
            for name, profile in PROFILES.items():
                scores = [score_file(f.frame["timestamp"], f.windows, per_file[f.name], profile)
                          for f in chosen]
                row[name] = normalised(scores)
            standard = [score_file(f.frame["timestamp"], f.windows, per_file[f.name],
                                   PROFILES["standard"]) for f in chosen]
            found, total = sum(s.tp for s in standard), sum(s.tp + s.fn for s in standard)
            row["windows found"] = f"{found}/{total}"
            row["false alarms"] = sum(s.fp for s in standard)
            rows.append(row)
    return pd.DataFrame(rows)


def per_file(files: list[NabFile], alarms: dict[str, np.ndarray]) -> pd.DataFrame:
    """Standard score and counts per file for one detector."""
    rows = []
    for f in files:
        s = score_file(f.frame["timestamp"], f.windows, alarms[f.name], PROFILES["standard"])
        rows.append({"file": f.name, "raw": s.raw, "found": f"{s.tp}/{s.tp + s.fn}",
                     "false": s.fp, "score": normalised([s]) if s.tp + s.fn else None})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the nab-dev folder")
    parser.add_argument("--sensitivity", type=float, default=0.5)
    parser.add_argument("--direction", default="both", choices=("up", "down", "both"))
    parser.add_argument("--verbose", action="store_true", help="scores per file")
    args = parser.parse_args(argv)
    if not (args.data / "labels" / "combined_windows.json").is_file():
        print(f"skipped: no NAB data at {args.data} (the nab-dev folder of ../shared)")
        return 0
    files = load_corpus(args.data)
    t0 = time.perf_counter()
    ours = {f.name: spike_alarms(f, sensitivity=args.sensitivity, direction=args.direction)
            for f in files}
    elapsed = time.perf_counter() - t0
    alarms = {
        f"detect_spikes (sensitivity {args.sensitivity}, {args.direction})": ours,
        "merged MAD baseline": {f.name: baseline_alarms(f) for f in files},
        "null": {f.name: np.zeros(0, dtype=int) for f in files},
    }
    pd.set_option("display.width", 160)
    print(f"{len(files)} files from {args.data}; detect_spikes ran in {elapsed:.1f} s "
          f"({sum(len(f.frame) for f in files):,} rows)")
    print(scores_table(files, alarms).to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print("goals: standard >= 45 on the real series; >= the merged MAD baseline on the "
          "artificial ones")
    if args.verbose:
        for name, per in list(alarms.items())[:2]:
            print(f"\n{name}")
            print(per_file(files, per).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
