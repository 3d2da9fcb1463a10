"""Benchmark the fleet simulator: events per second and peak memory.

Usage: ``.venv/bin/python benchmarks/bench_simulate.py [--devices 100000] [--days 30]``

Baselines measured in the same run: numpy drawing as many random timestamps as there are events,
and writing the resulting frame to parquet.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from activation_kb.simulate import simulate_fleet

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    events, truth = simulate_fleet(args.devices, args.days, seed=args.seed)
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    n = len(events)
    size = int(events.memory_usage(deep=True).sum())
    print(
        f"simulate_fleet({args.devices} devices, {args.days:g} days): {n:,} events, "
        f"{len(truth)} incidents in {elapsed:.1f} s = {n / elapsed:,.0f} events/s"
    )
    print(
        f"  peak RSS {peak / 2**20:,.0f} MiB (was {rss0 / 2**20:,.0f} MiB before); "
        f"output frame {size / 2**20:,.0f} MiB (peak growth / output = {(peak - rss0) / size:.1f})"
    )

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    stamps = np.sort(rng.integers(0, int(args.days * 86400e9), n)).astype("datetime64[ns]")
    base_rng = time.perf_counter() - t0
    print(f"baseline: numpy draws and sorts {len(stamps):,} random timestamps in {base_rng:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        events.to_parquet(Path(tmp) / "events.parquet")
        base_pq = time.perf_counter() - t0
    print(
        f"baseline: writing the frame to parquet takes {base_pq:.2f} s "
        f"(simulation = {elapsed / base_pq:.1f}x the parquet write)"
    )


if __name__ == "__main__":
    main()
