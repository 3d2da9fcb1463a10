"""Counting speed: error_frequency + detect_spikes on 10 million events, against DuckDB.

Usage: ``.venv/bin/python benchmarks/bench_frequency.py [--events 10000000]``

The events are a simulated fleet (100,000 machines over 30 days, with the default incidents)
repeated with renamed machines until the target size is reached. Both sides do the same work on
the same in-memory frame:

* ours: ``activation_attempts`` (group records into attempts per device), ``error_frequency``
  (failed attempts per hour and category, every bucket present) and ``detect_spikes``;
* DuckDB: the same grouping as SQL (device names normalised, LAG over device and time to start a
  new attempt after 10 minutes, a running SUM for the attempt number) and the same GROUP BY
  (distinct failed attempts per hour and category, attempts per hour), on the pandas frame
  in place. DuckDB does not look for spikes: its time is the floor we compare with.

Goal (issue 5): ours at most 2x DuckDB. Peak memory is the process's maximum resident size.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

SQL = """
WITH rec AS (
    SELECT
        lower(split_part(CASE WHEN event_kind = 'kms_host_request'
                              THEN coalesce(client_name, cmid) ELSE host END, '.', 1)) AS device,
        event_time AS t,
        coalesce(result_code, 0) AS code,
        coalesce(result_code, 0) > 0 OR is_success = false AS failed
    FROM events
    WHERE event_kind IN ('kms_request', 'kms_response', 'kms_host_request',
                         'activation_failure', 'vl_failure', 'adba_success')
      AND (result_code IS NOT NULL OR is_success IS NOT NULL)
), marked AS (
    SELECT *,
        CASE WHEN t - lag(t) OVER w > INTERVAL 10 MINUTE OR lag(t) OVER w IS NULL
             THEN 1 ELSE 0 END AS new_attempt
    FROM rec WINDOW w AS (PARTITION BY device ORDER BY t)
), numbered AS (
    SELECT *, sum(new_attempt) OVER (PARTITION BY device ORDER BY t
                                     ROWS UNBOUNDED PRECEDING) AS attempt
    FROM marked
), attempts AS (
    SELECT device, attempt, min(t) AS t FROM numbered GROUP BY device, attempt
), errors AS (
    SELECT n.device, n.attempt, min(n.t) AS t, c.category
    FROM numbered n JOIN categories c ON n.code = c.value
    WHERE n.code > 0
    GROUP BY n.device, n.attempt, c.category
)
SELECT f.hour, f.category, f.failures, a.attempts
FROM (SELECT date_trunc('hour', t) AS hour, category, count(*) AS failures
      FROM errors GROUP BY 1, 2) f
JOIN (SELECT date_trunc('hour', t) AS hour, count(*) AS attempts FROM attempts GROUP BY 1) a
  USING (hour)
"""


def _events(target: int) -> pd.DataFrame:
    from activation_kb.simulate import simulate_fleet

    base, _ = simulate_fleet(100_000, 30, seed=0)
    copies = max(1, int(np.ceil(target / len(base))))
    parts = []
    for i in range(copies):
        part = base.copy()
        if i:
            for col in ("host", "client_name"):
                part[col] = part[col] + f"-{i}"
            part["cmid"] = part["cmid"].str.slice(0, 30) + f"{i:06d}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True).iloc[:target].sort_values(
        "event_time", kind="stable").reset_index(drop=True)


def _rss() -> float:
    """Peak resident size of this process in MiB (since the last _reset_peak)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current() -> float:
    """Resident size now, in MiB."""
    try:
        return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024
    except (OSError, IndexError, ValueError):
        return _rss()


def _reset_peak() -> None:
    """Reset the peak resident size (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _part(which: str, path: str) -> None:
    """Run one side on the events in ``path`` and print a JSON line: seconds, memory, result."""
    import json

    events = pd.read_parquet(path)
    loaded = _current()
    _reset_peak()  # the peak of reading the file is not the step's
    if which == "ours":
        from activation_kb.analysis.attempts import activation_attempts
        from activation_kb.analysis.frequency import error_frequency
        from activation_kb.analysis.spikes import detect_spikes

        t0 = time.perf_counter()
        table = activation_attempts(events)
        t1 = time.perf_counter()
        counts = error_frequency(table, freq="h", by="category")
        t2 = time.perf_counter()
        spikes = detect_spikes(counts)
        t3 = time.perf_counter()
        failures = counts.groupby("category", observed=True)["failures"].sum()
        out = {"seconds": t3 - t0, "attempts_s": t1 - t0, "counts_s": t2 - t1,
               "spikes_s": t3 - t2, "spikes": len(spikes), "attempts": len(table.attempts)}
    else:
        import duckdb

        from activation_kb.catalogue.categories import category_of

        codes = np.unique(events["result_code"].dropna().to_numpy(dtype=np.int64))
        names = [category_of(int(c)) for c in codes]
        categories = pd.DataFrame({"value": codes, "category": names})
        con = duckdb.connect()
        con.register("events", events)
        con.register("categories", categories)
        t0 = time.perf_counter()
        result = con.execute(SQL).df()
        out = {"seconds": time.perf_counter() - t0}
        failures = result.groupby("category")["failures"].sum()
    out.update(
        loaded_mib=loaded, peak_mib=_rss(),
        failures={str(k): int(v) for k, v in failures.items() if v},
    )
    print(json.dumps(out))


def main() -> None:
    import json
    import subprocess
    import sys
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--part", choices=["ours", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        _part(args.part, args.path)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "events.parquet")
        t0 = time.perf_counter()
        events = _events(args.events)
        size = events.memory_usage(deep=True).sum() / 2**30
        events.to_parquet(path)
        print(f"built {len(events):,} events in {time.perf_counter() - t0:.1f} s "
              f"({size:.1f} GiB in memory); each side runs in a fresh process on the same file")
        del events
        results = {}
        for which in ("ours", "duckdb"):
            run = subprocess.run(
                [sys.executable, __file__, "--part", which, "--path", path],
                check=True, capture_output=True, text=True,
            )
            results[which] = json.loads(run.stdout.strip().splitlines()[-1])
    ours, duck = results["ours"], results["duckdb"]
    print(
        f"ours:   {ours['seconds']:.2f} s (attempts {ours['attempts_s']:.2f} s, counts "
        f"{ours['counts_s']:.2f} s, spikes {ours['spikes_s']:.2f} s); {ours['attempts']:,} "
        f"attempts, {ours['spikes']} spikes; peak memory beyond the loaded frame "
        f"{ours['peak_mib'] - ours['loaded_mib']:,.0f} MiB (peak RSS {ours['peak_mib']:,.0f} MiB)"
    )
    print(
        f"duckdb: {duck['seconds']:.2f} s for the same grouping and GROUP BY; memory beyond the "
        f"loaded frame {duck['peak_mib'] - duck['loaded_mib']:,.0f} MiB "
        f"(peak RSS {duck['peak_mib']:,.0f} MiB)"
    )
    print(f"failures per category agree: {ours['failures'] == duck['failures']}")
    print(f"ratio ours / duckdb = {ours['seconds'] / duck['seconds']:.2f} (goal: <= 2)")


if __name__ == "__main__":
    main()
