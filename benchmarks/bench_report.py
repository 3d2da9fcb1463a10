"""Report wall time on the bundled sample, next to the floor measured in the same run.

Usage: ``.venv/bin/python benchmarks/bench_report.py [--repeat 3]``

* report: ``activation_kb.run_report()`` on the bundled sample (parameter checks, papermill run
  of ``fleet_report.ipynb``, offline HTML export, manifest, atomic publish);
* floor: papermill on a notebook that only imports the same libraries (and turns on the same
  offline plotly renderer, which embeds plotly.js), plus the same HTML export.

The floor is what any papermill report costs here: a kernel start, imports, a 5 MB plotly.js in
the page. Goal (issue 6): the report at most 1.5x the floor. Medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

FLOOR = """\
import activation_kb
from activation_kb.views import display as view
from activation_kb import plot_code_heatmap, plot_frequency, plot_incident, plot_top_codes
from activation_kb.analysis.fleet import analyze_fleet, write_outputs
from activation_kb.analysis.health import assess_health
from activation_kb.views.health import plot_expiring, plot_kms_forecast
from activation_kb.views.health_display import health_section
import pandas, plotly, numpy, scipy
view.use_offline_plotly()
"""


def _floor(tmp: Path) -> float:
    import nbformat
    import papermill as pm
    from nbformat.v4 import new_code_cell, new_notebook

    from activation_kb.report._kernel import KERNEL_NAME, kernel_dir
    from activation_kb.report.runner import export_html

    nb = new_notebook(cells=[new_code_cell(FLOOR)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    source = tmp / "floor.ipynb"
    nbformat.write(nb, source)
    import os

    os.environ["JUPYTER_PATH"] = str(kernel_dir())
    t0 = time.perf_counter()
    pm.execute_notebook(str(source), str(tmp / "floor_out.ipynb"), kernel_name=KERNEL_NAME,
                        progress_bar=False, cwd=str(tmp))
    export_html(tmp / "floor_out.ipynb", tmp / "floor.html")
    return time.perf_counter() - t0


def _report(tmp: Path, i: int) -> float:
    from activation_kb.report.runner import run_report

    t0 = time.perf_counter()
    run_report(out=tmp / f"report{i}", progress=False)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    floors, reports = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):  # interleaved, so that drift hits both alike
            floors.append(_floor(Path(tmp)))
            reports.append(_report(Path(tmp), i))
        size = (Path(tmp) / "report0" / "fleet_report.html").stat().st_size
        floor_size = (Path(tmp) / "floor.html").stat().st_size
    floor, report = statistics.median(floors), statistics.median(reports)
    print(f"floor  (papermill + imports + HTML export): {floor:.2f} s "
          f"(runs: {', '.join(f'{v:.2f}' for v in floors)}); HTML {floor_size / 2**20:.1f} MiB")
    print(f"report (bundled sample, run_report):        {report:.2f} s "
          f"(runs: {', '.join(f'{v:.2f}' for v in reports)}); HTML {size / 2**20:.1f} MiB")
    print(f"ratio report / floor = {report / floor:.2f} (goal: <= 1.5)")


if __name__ == "__main__":
    main()
