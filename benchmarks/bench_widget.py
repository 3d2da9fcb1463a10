"""Benchmark the lookup widget: one keystroke's update, and building it over the bundled sample.

Usage: ``python benchmarks/bench_widget.py [--repeat 300]``.

- keystroke: setting ``widget.query.value`` (search, filters, entry HTML, activity HTML), median
  over the keystrokes of typing codes and words, next to the baseline of the bare
  ``lookup()`` calls for the same texts, measured in the same run;
- build: ``lookup_widget(events=...)`` over the bundled sample's 41,570 events, next to the
  baseline of ``error_frequency(events, "D", by="code")`` (the counting the widget needs) on the
  same events in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "events.parquet"
TYPED = ["0xC004F074", "c004f06c", "-1073418124", "dns server", "horloge", "0x80070002"]


def _keystrokes() -> list[str]:
    return [text[: i + 1] for text in TYPED for i in range(len(text))]


def _median_ms(call, args: list, repeat: int) -> float:
    times = []
    for i in range(repeat):
        start = time.perf_counter_ns()
        call(args[i % len(args)])
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def main() -> None:
    from activation_kb import error_frequency, lookup, lookup_widget
    from activation_kb.errors import InvalidCodeError

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    events = pd.read_parquet(SAMPLE)
    lookup_widget()  # imports and the catalogue's index, so that only the events are timed

    start = time.perf_counter()
    widget = lookup_widget(events=events)
    build = time.perf_counter() - start
    start = time.perf_counter()
    error_frequency(events, freq="D", by="code")
    counting = time.perf_counter() - start

    def type_text(text: str) -> None:
        widget.query.value = text

    def bare_lookup(text: str) -> None:
        try:
            lookup(text)
        except InvalidCodeError:
            pass

    keys = _keystrokes()
    type_text(keys[0])  # warm both paths once
    bare_lookup(keys[0])
    ours = _median_ms(type_text, keys, args.repeat)
    base = _median_ms(bare_lookup, keys, args.repeat)
    print(f"events: {len(events):,} from {SAMPLE.name}; keystrokes: {len(keys)}")
    print(f"keystroke update: {ours:.3f} ms  (baseline bare lookup(): {base:.3f} ms)")
    print(
        f"build with events: {build * 1000:.0f} ms  (baseline error_frequency by code: "
        f"{counting * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
