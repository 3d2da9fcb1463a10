"""Benchmark the report's figures on the bundled sample against the analysis they draw.

Usage: ``python benchmarks/bench_figures.py [--runs 5]``.

Prints, in one process (median of ``--runs``):

* the time to build every figure of the report (frequency with spikes and incidents, code
  heatmap, top codes, one view per incident) next to the floor: the analysis behind them
  (attempts, error_frequency by category and code, detect_spikes, explain_spikes);
* the size of the frequency figure as JSON (what a report embeds) next to the same figure with
  every trace's times written out, as plotly does when given a time column (the figures give
  evenly spaced series as ``x0`` + ``dx`` instead), and the time of ``to_json`` for both.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "events.parquet"


def _median_s(call, runs: int):
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    from activation_kb import detect_spikes, error_frequency, explain_spikes
    from activation_kb.analysis.attempts import activation_attempts
    from activation_kb.views.figures import (
        plot_code_heatmap,
        plot_frequency,
        plot_incident,
        plot_top_codes,
    )

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    runs = ap.parse_args().runs
    events = pd.read_parquet(SAMPLE)

    def analyse():
        table = activation_attempts(events)
        counts = error_frequency(table, freq="h", by="category")
        by_code = error_frequency(table, freq="h", by="code")
        spikes = detect_spikes(by_code)
        return table, counts, by_code, spikes, explain_spikes(spikes, table)

    floor, (table, counts, by_code, spikes, incidents) = _median_s(analyse, runs)

    def draw():
        return [
            plot_frequency(counts, spikes, incidents=incidents),
            plot_code_heatmap(by_code),
            plot_top_codes(table),
            *(plot_incident(row, table) for _, row in incidents.iterrows()),
        ]

    drawn, figs = _median_s(draw, runs)
    print(f"bundled sample: {len(events):,} events, {len(incidents)} incidents, "
          f"{len(figs)} figures")
    print(f"figures built:  {drawn * 1000:8.1f} ms")
    print(f"floor analysis: {floor * 1000:8.1f} ms   (figures / analysis = {drawn / floor:.2f}x)")

    frequency = figs[0]
    spelled = frequency.to_dict()  # the same figure with every time written out
    for trace in spelled["data"]:
        if trace.get("dx") is not None:
            start = pd.Timestamp(trace.pop("x0"))
            step = pd.Timedelta(milliseconds=trace.pop("dx"))
            trace["x"] = [start + step * i for i in range(len(frequency.data[0].y))]
    baseline = go.Figure(spelled)
    ours_s, ours = _median_s(frequency.to_json, runs)
    base_s, base = _median_s(baseline.to_json, runs)
    print(f"frequency JSON: {len(ours) / 1024:8.1f} KiB, to_json {ours_s * 1000:.1f} ms")
    print(f"baseline JSON:  {len(base) / 1024:8.1f} KiB, to_json {base_s * 1000:.1f} ms "
          f"(times written out; ours is {len(ours) / len(base):.2f}x the size)")


if __name__ == "__main__":
    main()
