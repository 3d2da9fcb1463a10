"""Benchmark parse_catalogue on real revisions and hostile text against a bare scan of the text.

Usage: ``python benchmarks/bench_catalogue.py [--repeat 30]``.
The floor is the least any reader of the article must do in the same process: split the text
into lines and find every code in it (``str.splitlines`` + ``CODE_IN_TEXT.findall``). Each
figure is the median of ``--repeat`` parses (CPU time, per-cell caches emptied) with the floor
beside it; the hostile texts are the 148 KB article of issue 11 (``[x](`` and 40,000 spaces)
and 100 kB runs of what regular expressions backtrack on. Shared revisions are read from
../shared when present.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "catalogue-sources"


def _median_ms(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def _texts() -> dict[str, str]:
    from activation_kb.catalogue.article import SHIPPED_FILES
    from activation_kb.resources import data_path

    english = data_path(SHIPPED_FILES["en"]).read_text(encoding="utf-8")
    texts = {
        "en 2019 (shipped)": english,
        "fr seed (shipped)": data_path(SHIPPED_FILES["fr"]).read_text(encoding="utf-8"),
    }
    newest = SHARED / "en-us_troubleshoot-activation-error-codes_2025-01-15.md"
    if newest.exists():
        texts["en 2025 (shared)"] = newest.read_text(encoding="utf-8")
    texts["2023 layout fixture"] = (
        ROOT / "tests/data/catalogue/layout_2023_en.md").read_text(encoding="utf-8")
    cut = english.index("### Resolution\n") + len("### Resolution\n")
    defect = english[:cut] + "\n[x](" + " " * 40_000 + "y\n" + english[cut:]
    texts["issue 11 defect 10 (148 KB)"] = defect + "\nfiller text line.\n" * (
        (148_000 - len(defect)) // 18)
    texts["100 kB of '<!--'"] = "<!--" * 25_000
    texts["100 kB of '['"] = "[" * 100_000
    texts["heading + 100 kB spaces"] = "# a" + " " * 100_000 + "b"
    return texts


def _cold_parse(parse, text: str):
    """Parse with the per-cell caches emptied, as the first parse of a text would be."""
    from activation_kb.catalogue import markdown, vocabulary

    markdown._read_code_cell_cached.cache_clear()
    vocabulary._tokens_cached.cache_clear()
    return parse(text, with_problems=True)


def main() -> None:
    from activation_kb import parse_catalogue
    from activation_kb.catalogue.codes import CODE_IN_TEXT

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    a = ap.parse_args()
    parse_catalogue(_texts()["en 2019 (shipped)"])  # warm the English fallback and imports
    print(f"{'text':<30} {'KB':>6} {'codes':>5} {'problems':>8} {'parse ms':>9} {'floor ms':>9}")
    for name, text in _texts().items():
        result = parse_catalogue(text, with_problems=True)
        ours = _median_ms(lambda t=text: _cold_parse(parse_catalogue, t), a.repeat)
        floor = _median_ms(lambda t=text: (t.splitlines(), CODE_IN_TEXT.findall(t)), a.repeat)
        print(f"{name:<30} {len(text) / 1000:6.1f} {len(result.frame):5d} "
              f"{len(result.problems):8d} {ours:9.2f} {floor:9.2f}")


if __name__ == "__main__":
    main()
