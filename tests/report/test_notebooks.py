"""Every notebook runs under papermill, with its defaults and with a second set of parameters."""

from __future__ import annotations

import json

import nbformat
import papermill
import pytest
from conftest import ROOT

from activation_kb.report._engine import register

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("notebooks")]
NOTEBOOKS = ROOT / "notebooks"


def _run(name, tmp_path, **parameters):
    return papermill.execute_notebook(
        str(NOTEBOOKS / name), str(tmp_path / f"out-{name}"), parameters=parameters,
        kernel_name="python3", progress_bar=False, cwd=str(tmp_path), engine_name=register(),
    )


def _mimetypes(nb):
    return [set(o.get("data", {})) for c in nb.cells for o in c.get("outputs", [])]


def test_every_notebook_is_tested_here():
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == {
        "fleet_report.ipynb", "explore.ipynb", "lookup.ipynb"}


def test_explore_with_defaults(tmp_path):
    out = _run("explore.ipynb", tmp_path)
    kinds = _mimetypes(out)
    assert any("application/vnd.jupyter.widget-view+json" in k for k in kinds)  # the app
    assert len([c for c in out.cells if c.cell_type == "code"]) == 2  # a short notebook
    code = [c for c in out.cells if c.cell_type == "code"]
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)


def test_explore_in_french_daily_on_a_period(tmp_path):
    out = _run("explore.ipynb", tmp_path, lang="fr", freq="D", since="2026-02-01",
               tz="Europe/Paris")
    kinds = _mimetypes(out)
    assert any("application/vnd.jupyter.widget-view+json" in k for k in kinds)
    views = [o["data"]["text/plain"] for c in out.cells for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1 and views[0].startswith("Explorer(")  # the app, built in French
    code = [c for c in out.cells if c.cell_type == "code"]
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)


def test_fleet_report_runs_standalone_like_a_scheduler_job(tmp_path):
    """jupyter-scheduler runs the notebook as it is: outputs land in its working folder."""
    sample = ROOT / "data" / "sample" / "events.parquet"
    out = _run("fleet_report.ipynb", tmp_path, events=[str(sample)], lang="fr", top_n=2,
               sensitivity=0.7, output_dir=str(tmp_path))
    incidents = json.loads((tmp_path / "incidents.json").read_text())
    assert incidents and (tmp_path / "incidents.csv").is_file()
    summary = json.loads((tmp_path / "run_summary.json").read_text())
    assert summary["parameters"]["lang"] == "fr" and summary["summary"]["records"] > 40_000
    html = [o["data"]["text/html"] for c in out.cells for o in c.get("outputs", [])
            if "text/html" in o.get("data", {})]
    assert any("Synthèse" in h for h in html) and any("Plotly.newPlot" in h for h in html)
    nbformat.validate(out)
