"""Benchmark activation_kb.lookup and the cold load_catalogue against plain pandas baselines.

Usage: ``python benchmarks/bench_lookup.py [--repeat 5000] [--cold-runs 7]``.
Lookups run in this process once the catalogue is loaded (median of single calls). Cold loads
run each in a fresh interpreter; imports are not timed, the same for ours and the baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CODES = ["0xC004F074", "c004f06c", "0 x 80070005", "-1073418124", "0x8007232B"]
_WORDS = ["DNS", "grace period", "horloge", "KMS host firewall", "product key"]


def _median_us(call, args: list, repeat: int) -> float:
    times = []
    for i in range(repeat):
        arg = args[i % len(args)]
        start = time.perf_counter_ns()
        call(arg)
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


_COLD = r'''
import json, sys, time
kind, path = sys.argv[1], sys.argv[2]
import pandas as pd
import activation_kb.catalogue.article as c  # imports are not timed (same for both)
t = time.perf_counter()
n = len(c.load_catalogue("en")) if kind == "ours" else len(pd.read_parquet(path))
print(json.dumps({"n": n, "s": time.perf_counter() - t}))
'''


def _cold_ms(kind: str, path: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _COLD, kind, str(path)], check=True,
                             capture_output=True, text=True).stdout
        times.append(json.loads(out.strip().splitlines()[-1])["s"])
    return statistics.median(times) * 1000


def main() -> None:
    from activation_kb import load_catalogue, lookup

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5000)
    ap.add_argument("--cold-runs", type=int, default=7)
    a = ap.parse_args()

    frame = load_catalogue("en")
    lookup("0xC004F074")  # builds the index once, as any session does on its first lookup

    def mask_by_code(code: str):
        return frame[frame["code"] == code]

    def mask_by_words(words: str):
        keep = True
        for word in words.split():
            keep = keep & (
                frame["message"].str.contains(word, case=False, regex=False)
                | frame["cause"].str.contains(word, case=False, regex=False)
                | frame["resolution"].str.contains(word, case=False, regex=False)
            )
        return frame[keep]

    canonical = ["0xC004F074", "0xC004F06C", "0x80070005", "0xC004F074", "0x8007232B"]
    ours = _median_us(lookup, _CODES, a.repeat)
    base = _median_us(mask_by_code, canonical, a.repeat)
    print(f"lookup by code (5 spellings, {a.repeat:,} calls): median {ours:.1f} us "
          f"vs pandas boolean mask on the canonical code {base:.1f} us: "
          f"ratio {ours / base:.2f}x (goal < 50 us)")
    words_repeat = max(a.repeat // 10, 50)
    ours = _median_us(lookup, _WORDS, words_repeat)
    base = _median_us(mask_by_words, _WORDS, words_repeat)
    print(f"lookup by words ({len(_WORDS)} queries, {words_repeat:,} calls): median {ours:.1f} us "
          f"(ranked, accent-folded, en+fr labels) vs pandas str.contains mask over message, "
          f"cause and resolution {base:.1f} us (unranked): ratio {ours / base:.2f}x")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "catalogue.parquet"
        frame.to_parquet(path, index=False)
        ours = _cold_ms("ours", path, a.cold_runs)
        base = _cold_ms("parquet", path, a.cold_runs)
    print(f"cold load_catalogue('en') (parse the shipped article, median of {a.cold_runs} fresh "
          f"interpreters): {ours:.1f} ms vs pandas.read_parquet of the same 30 rows "
          f"{base:.1f} ms: ratio {ours / base:.2f}x")


if __name__ == "__main__":
    main()
