"""Benchmark the explorer: one filter change on the bundled sample, and time to the first chart.

Usage: ``python benchmarks/bench_explore.py [--repeat 5]``.

- filter change: setting a filter of ``explore(analysis)`` (``where`` + figure + incident list +
  summary + chart output), median over site, KMS host, code and period changes, next to the
  floor of the bare ``analysis.where(...)`` for the same filters in the same run;
- first chart: ``analyze_fleet`` of the sample then ``explore`` (what a user waits for in Voilà).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "events.parquet"


def main() -> None:
    from activation_kb import analyze_fleet, explore

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    start = time.perf_counter()
    analysis = analyze_fleet(SAMPLE)
    analysed = time.perf_counter() - start
    app = explore(analysis)
    first_chart = time.perf_counter() - start
    changes = [("site", ("paris",)), ("kms_host", ("kms01.contoso.com",)),
               ("code", ("0x8007232B",)), ("site", ("lyon", "berlin"))]
    app_times, where_times = [], []
    for _ in range(repeat):
        for name, value in changes:
            app.reset.click()
            t = time.perf_counter()
            getattr(app, name).value = value
            app_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            analysis.where(**{name: list(value)})
            where_times.append(time.perf_counter() - t)
    print(f"first chart (analyze_fleet + explore): {first_chart:.2f} s "
          f"(analyze_fleet alone {analysed:.2f} s)")
    print(f"filter change: median {statistics.median(app_times) * 1000:.0f} ms, "
          f"max {max(app_times) * 1000:.0f} ms "
          f"(floor: analysis.where alone, median {statistics.median(where_times) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
