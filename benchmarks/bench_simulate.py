"""Benchmark the fleet simulator: events per second and peak memory; its per-machine XML writer.

Usage: ``.venv/bin/python benchmarks/bench_simulate.py [--devices 100000] [--days 30]
[--xml-devices 2000] [--xml-days 60] [--xml-only]``

Baselines measured in the same run: numpy drawing as many random timestamps as there are events,
and writing the resulting frame to parquet. For ``simulate --format xml`` (one file per machine):
the former writer (each host's frame through ``write_events``, one row at a time) against
``write_events_by_host``, and the floor of writing the same bytes to the same files.
"""

from __future__ import annotations

import argparse
import os
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
    parser.add_argument("--xml-devices", type=int, default=2000)
    parser.add_argument("--xml-days", type=float, default=60)
    parser.add_argument("--xml-only", action="store_true", help="only the XML writer")
    parser.add_argument("--xml-skip-before", action="store_true",
                        help="skip the former writer (17 minutes for 20,000 devices x 60 days)")
    args = parser.parse_args()
    bench_xml(args)
    if not args.xml_only:
        bench_simulate(args)


def _former_xml_writer(events, folder: Path) -> None:
    """The writer before the column-wise one: per host, coerce, then one row at a time."""
    import pandas as pd

    from activation_kb import schema as S
    from activation_kb.telemetry._xmlrender import render_event_xml

    for host, frame in events.groupby("host", sort=True, observed=True):
        ev = S.coerce_events(frame.reset_index(drop=True))
        cols = [c for c in S.EVENT_COLUMNS if c not in (S.EVENT_TIME, S.CLIENT_TIME)]
        records = ev[cols].astype(object).where(ev[cols].notna(), None).to_dict("records")
        et, ct = ev[S.EVENT_TIME], ev[S.CLIENT_TIME]
        ticks = (et.dt.microsecond * 10 + et.dt.nanosecond // 100).tolist()
        seconds = et.dt.strftime("%Y-%m-%dT%H:%M:%S.").tolist()
        parts = zip(ct.dt.year.tolist(), ct.dt.month.tolist(), ct.dt.day.tolist(),
                    ct.dt.hour.tolist(), ct.dt.minute.tolist())
        with open(folder / f"{host}.xml", "w", encoding="utf-8", newline="\n") as fh:
            fh.write("<Events>\n")
            for r, s0, f, p in zip(records, seconds, ticks, parts):
                r["_st"] = f"{s0}{f:07d}Z"
                r[S.CLIENT_TIME] = None if pd.isna(p[0]) else tuple(int(x) for x in p)
                fh.write(render_event_xml(r))
            fh.write("</Events>\n")


def bench_xml(args) -> None:
    """``simulate --format xml``: the former writer, the column-wise one, and the I/O floor."""
    from activation_kb.simulate import simulate_fleet
    from activation_kb.telemetry._write import write_events_by_host

    events, _ = simulate_fleet(args.xml_devices, args.xml_days, seed=args.seed)
    hosts = events["host"].nunique()
    print(f"XML writer, one file per machine: {args.xml_devices:,} devices x {args.xml_days:g} "
          f"days = {len(events):,} events, {hosts:,} files")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        files = write_events_by_host(events, root / "after")
        after = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in files)
        blobs = [f.read_bytes() for f in files]
        (root / "floor").mkdir()
        t0 = time.perf_counter()
        for f, blob in zip(files, blobs):
            with open(root / "floor" / f.name, "wb") as fh:
                fh.write(blob)
        floor = time.perf_counter() - t0
        del blobs
        print(f"  write_events_by_host: {after:.1f} s ({len(events) / after:,.0f} events/s, "
              f"{size / 2**20:,.0f} MiB)")
        print(f"  floor, writing the same bytes to the same {len(files):,} files: {floor:.1f} s "
              f"(writer / floor = {after / floor:.1f}x)")
        if args.xml_skip_before:
            return
        (root / "before").mkdir()
        t0 = time.perf_counter()
        _former_xml_writer(events, root / "before")
        before = time.perf_counter() - t0
        same = all((root / "before" / f.name).read_bytes() == (root / "after" / f.name).read_bytes()
                   for f in files[:: max(1, len(files) // 200)] if os.sep not in f.name)
        print(f"  former writer (per host, row by row): {before:.1f} s "
              f"({len(events) / before:,.0f} events/s)")
        print(f"  speed-up {before / after:.1f}x (goal: >= 5x); "
              f"same bytes in sampled files: {same}")


def bench_simulate(args) -> None:
    """The simulator itself."""

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
