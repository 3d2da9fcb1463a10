"""Benchmark the event store and the Dask engine against DuckDB on the same Parquet files.

Usage: ``.venv/bin/python benchmarks/bench_scale.py [--sizes 1000000 10000000 50000000]
[--ingest-events 300000] [--data ~/.cache/activation_kb_bench] [--skip-ingest]
[--engines duckdb dask2 dask1 pandas]``

* **ingest**: records/s of ``activation_kb.ingest`` from per-machine wevtutil XML files and from
  per-machine canonical Parquet files, with 1 and 2 worker processes.
* **analysis** at each size: a store of N simulated records (a fleet of 20,000 machines over 60
  days, replicated under new machine and KMS host names until N records; generated once and
  cached under ``--data``, outside git), analysed with ``analyze_fleet(store, freq="D")`` by the
  pandas engine, the Dask engine on 1 and on 2 worker processes (``memory_limit="2GB"`` each),
  and DuckDB computing the same failed attempts per day and category straight from the store's
  Parquet files (window functions group records into attempts); the totals per day and category
  are asserted equal. Each run is a fresh process; peak RSS is VmHWM (client) and, for Dask,
  the largest worker's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = r'''
import json, sys, time, resource
kind, store = sys.argv[1], sys.argv[2]
from activation_kb.analysis.fleet import analyze_fleet

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

def totals(counts):
    c = counts[counts["failures"] > 0]
    return {f"{t:%Y-%m-%d}|{k}": int(v) for t, k, v in
            zip(c["time"], c["category"], c["failures"])}

if __name__ == "__main__":
    t = time.perf_counter()
    worker_mb = 0.0
    if kind == "pandas":
        a = analyze_fleet(store, freq="D")
        out = totals(a.counts)
    elif kind.startswith("dask"):
        from distributed import Client, LocalCluster
        from activation_kb.analysis.dask_memory import worker_environ
        n = int(kind[4:])
        with worker_environ(), LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                          memory_limit="2GB", dashboard_address=None) as cluster, \
                Client(cluster) as client:
            t = time.perf_counter()
            a = analyze_fleet(store, freq="D", engine="dask", scheduler=client)
            seconds = time.perf_counter() - t
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            worker_mb = max(peaks.values()) / 1024
        out = totals(a.counts)
    else:
        import duckdb
        con = duckdb.connect()
        con.execute("SET TimeZone='UTC'")
        rows = con.execute(SQL.format(store=store)).fetchall()
        out = {f"{d:%Y-%m-%d}|{c}": int(n) for d, c, n in rows}
    if not kind.startswith("dask"):
        seconds = time.perf_counter() - t
    print(json.dumps({"s": seconds, "mb": hwm(), "worker_mb": worker_mb, "totals": out}))
'''

_SQL = r"""
WITH r AS (
  SELECT CAST(event_time AS TIMESTAMPTZ) AS event_time, result_code, category,
         lower(regexp_replace(CASE WHEN event_kind = 'kms_host_request'
               THEN coalesce(nullif(client_name, ''), nullif(cmid, '')) ELSE host END,
               '\..*$', '')) AS device
  FROM read_parquet('{store}/day=*/*.parquet', hive_partitioning = true)
  WHERE event_kind IN ('kms_request', 'kms_response', 'kms_host_request',
                       'activation_failure', 'vl_failure', 'adba_success')
    AND (result_code IS NOT NULL OR is_success IS NOT NULL)
), g AS (
  SELECT *, CASE WHEN event_time - lag(event_time) OVER w <= INTERVAL 10 MINUTE
                 THEN 0 ELSE 1 END AS new
  FROM r WINDOW w AS (PARTITION BY device ORDER BY event_time)
), a AS (
  SELECT *, sum(new) OVER (PARTITION BY device ORDER BY event_time
                           ROWS UNBOUNDED PRECEDING) AS attempt
  FROM g
), e AS (
  SELECT device, attempt, category, min(event_time) AS t
  FROM a WHERE result_code > 0 GROUP BY device, attempt, category
)
SELECT date_trunc('day', t) AS day, category, count(*) FROM e GROUP BY ALL ORDER BY ALL
"""


def _run(kind: str, store: Path) -> dict:
    code = _CHILD.replace("SQL.format", repr(_SQL) + ".format")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(code)  # a file, so that Dask's worker processes can start
    try:
        out = subprocess.run([sys.executable, handle.name, kind, str(store)], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(handle.name)
    return json.loads(out.strip().splitlines()[-1])


def _base():
    from activation_kb import simulate_fleet

    events, _ = simulate_fleet(20_000, 60, seed=17)
    return events


def _make_store(n: int, data: Path):
    """A store of about ``n`` records: copies of one simulated fleet under new names."""
    import pyarrow as pa

    from activation_kb.store._ingest import _write_parquet
    from activation_kb.store._layout import day_name, open_store

    store = data / f"store_{n}"
    if (store / "_complete").is_file():
        return store
    base = _base()
    root = open_store(store, create=True)
    day = base["event_time"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    copies = max(1, round(n / len(base)))
    for k in range(copies):
        part = base.copy()
        for column in ("host", "client_name", "kms_host"):
            values = part[column].astype("string")
            part[column] = (f"r{k:03d}-" + values).where(values.notna() & (values != ""), values)
        part["host"] = part["host"].astype(base["host"].dtype)
        for column in ("client_name", "kms_host"):
            part[column] = part[column].astype(base[column].dtype)
        for value in sorted(set(day)):
            rows = part.loc[day == value]
            _write_parquet(pa.Table.from_pandas(rows, preserve_index=False),
                           root / day_name(value) / f"part-bench-{k:03d}.parquet")
    (store / "_complete").write_text(str(copies * len(base)))
    return store


def _ingest_rates(n: int) -> list[str]:
    from activation_kb import ingest, write_events

    events = _base().head(n)
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as d:
        for fmt in ("xml", "parquet"):
            folder = Path(d) / fmt
            folder.mkdir()
            for host, part in events.groupby(events["host"].astype(str), sort=True):
                write_events(part, folder / f"{host}.{fmt}")
            files = len(list(folder.iterdir()))
            for workers in (1, 2):
                store = Path(d) / f"store_{fmt}_{workers}"
                t = time.perf_counter()
                result = ingest(folder, store, workers=workers)
                seconds = time.perf_counter() - t
                assert result.records == len(events), result.summary()
                lines.append(f"| ingest {fmt} ({files:,} files) | {workers} | "
                             f"{len(events):,} | {seconds:.1f} s | "
                             f"{len(events) / seconds:,.0f} records/s |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    ap.add_argument("--ingest-events", type=int, default=300_000)
    ap.add_argument("--data", type=Path, default=Path.home() / ".cache" / "activation_kb_bench")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--engines", nargs="+", default=["duckdb", "dask2", "dask1", "pandas"],
                    choices=["duckdb", "dask2", "dask1", "pandas"],
                    help="what to run at each size (DuckDB always runs: the others are "
                         "compared with it)")
    a = ap.parse_args()
    a.data.mkdir(parents=True, exist_ok=True)
    print("| what | processes | records | time | rate |\n|---|---|---|---|---|")
    if not a.skip_ingest:
        for line in _ingest_rates(a.ingest_events):
            print(line, flush=True)
    print("\n| records | engine | seconds | peak RSS client | peak RSS worker | s per M | "
          "vs DuckDB |\n|---|---|---|---|---|---|---|")
    for n in a.sizes:
        store = _make_store(n, a.data)
        records = int((store / "_complete").read_text())
        results = {}
        for kind in ["duckdb", *(e for e in a.engines if e != "duckdb")]:
            try:
                results[kind] = _run(kind, store)
            except subprocess.CalledProcessError as exc:
                tail = (exc.stderr or "").strip().splitlines()[-1:] or ["failed"]
                print(f"| {records:,} | {kind} | refused/failed: {tail[0][:120]} | | | | |",
                      flush=True)
                continue
            r = results[kind]
            if kind != "duckdb":
                assert r["totals"] == results["duckdb"]["totals"], f"{kind} totals differ"
            ratio = r["s"] / results["duckdb"]["s"]
            print(f"| {records:,} | {kind} | {r['s']:.1f} | {r['mb']:,.0f} MB | "
                  f"{r['worker_mb']:,.0f} MB | {r['s'] / records * 1e6:.2f} | {ratio:.2f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
