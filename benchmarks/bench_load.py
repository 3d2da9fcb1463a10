"""Benchmark activation_kb.telemetry loaders against bare pyarrow / lxml baselines.

Usage: ``python benchmarks/bench_load.py [--csv-events 1000000] [--xml-events 200000]``.
Each measurement runs in a subprocess; peak memory is that process's ru_maxrss.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    hr = rng.choice(np.array([0, 0xC004F074, 0xC004F038, 0x8007232B], dtype=np.uint32), n)
    return pd.DataFrame({
        "event_time": t0 + pd.to_timedelta(np.sort(rng.integers(0, 60 * 86400, n)), unit="s"),
        "host": [f"pc{i % 2000:04d}.contoso.com" for i in range(n)],
        "channel": "Application", "provider": "Microsoft-Windows-Security-SPP",
        "event_id": 12288, "record_id": np.arange(n), "level": "info", "event_kind": "kms_request",
        "activation_method": "KMS", "result_code": hr, "code": [f"0x{v:08X}" for v in hr],
        "is_success": hr == 0, "kms_host": "kms01.contoso.com", "kms_port": 1688,
        "cmid": "36f27b39-2fd5-440b-be67-a09996d27a38", "license_status": 2,
        "minutes_to_expiry": 41760, "sku_id": "68531fb9-5511-4989-97be-d11a0f55633f", "min_count": 5,
    })


_CHILD = r'''
import json, resource, sys, time
kind, path = sys.argv[1], sys.argv[2]
from activation_kb.telemetry import load_events  # imports are not timed (same for every run)
import pyarrow.csv as c
from lxml import etree
t = time.perf_counter()
if kind == "ours":
    n = load_events(path).loaded
elif kind == "pyarrow":
    n = c.read_csv(path).num_rows
else:
    n = 0
    for _, el in etree.iterparse(path, events=("end",), tag="{http://schemas.microsoft.com/win/2004/08/events/event}Event"):
        n += 1
        el.clear()
print(json.dumps({"n": n, "s": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def _run(kind: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    from activation_kb.telemetry import write_events

    ap = argparse.ArgumentParser()
    ap.add_argument("--csv-events", type=int, default=1_000_000)
    ap.add_argument("--xml-events", type=int, default=200_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        csv = Path(d) / "events.csv"
        write_events(_frame(a.csv_events), csv)
        ours, base = _run("ours", csv), _run("pyarrow", csv)
        print(f"canonical CSV, {ours['n']:,} events: ours {ours['s']:.2f} s "
              f"(peak {ours['peak_mb']:.0f} MB) vs pyarrow.csv.read_csv {base['s']:.2f} s "
              f"(peak {base['peak_mb']:.0f} MB): ratio {ours['s'] / base['s']:.2f}x (goal <= 1.5x)")
        xml = Path(d) / "events.xml"
        t = time.perf_counter()
        write_events(_frame(a.xml_events), xml)
        w = time.perf_counter() - t
        rooted = Path(d) / "rooted.xml"  # bare iterparse needs one root; wevtutil writes none
        rooted.write_bytes(b"<Events>" + xml.read_bytes() + b"</Events>")
        ours, base = _run("ours", xml), _run("lxml", rooted)
        print(f"wevtutil XML, {ours['n']:,} events (write {a.xml_events / w:,.0f} ev/s): ours "
              f"{ours['n'] / ours['s']:,.0f} ev/s (peak {ours['peak_mb']:.0f} MB) vs bare lxml iterparse "
              f"{base['n'] / base['s']:,.0f} ev/s (peak {base['peak_mb']:.0f} MB): "
              f"{base['s'] / ours['s']:.2f}x of baseline speed (goal >= 0.5x)")


if __name__ == "__main__":
    main()
