"""The scheduled report: parameters, real papermill runs, outputs, atomic publishing, exit codes."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time

import nbformat
import pandas as pd
import papermill
import pytest
from click.testing import CliRunner
from conftest import ROOT, TEST_DATA

from activation_kb.cli import cli
from activation_kb.errors import ReportError, ReportParameterError
from activation_kb.report.runner import check_parameters, default_events, list_reports, run_report
from activation_kb.simulate import score_detection

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("report")]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "latest"
    result = run_report(out=out)
    return out, result


def test_every_notebook_is_clean_with_a_kernelspec():
    assert {p.name for p in NOTEBOOKS} >= {"fleet_report.ipynb"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3", path
        for cell in nb.cells:
            assert not cell.get("outputs") and cell.get("execution_count") is None, path
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, path


def test_notebook_parameters_match_the_runner_without_a_kernel():
    declared = papermill.inspect_notebook(str(ROOT / "notebooks" / "fleet_report.ipynb"))
    expected = set(check_parameters()) | {"output_dir"}
    assert set(declared) == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(since="not a date"), "since='not a date': not a date"),
        (dict(since="0D"), "positive duration"),
        (dict(since="2026-03-01", until="2026-02-01"), "must be after"),
        (dict(events="/nowhere/events.xml"), "no such file"),
        (dict(events="/nowhere/*.evtx"), "matches no file"),
        (dict(freq="fortnightly"), "freq"),
        (dict(lang="de"), "lang"),
        (dict(sensitivity=3), "sensitivity"),
        (dict(top_n=0), "top_n"),
        (dict(tz="Mars/Olympus"), "tz"),
    ],
)
def test_bad_parameters_are_refused_before_any_kernel(tmp_path, kwargs, match):
    out = tmp_path / "r"
    started = time.perf_counter()
    with pytest.raises(ReportParameterError, match=re.escape(match) if "'" in match else match):
        run_report(out=out, **kwargs)
    assert time.perf_counter() - started < 2  # no kernel was started
    assert not out.exists() and not list(tmp_path.iterdir())


def test_cli_bad_parameter_exit_2_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["report", "run", "--since", "31/02/2026",
                                   "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "since" in res.output
    assert "Traceback" not in res.output


def test_default_run_writes_every_output(default_run):
    out, result = default_run
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["fleet_report.html", "fleet_report.ipynb", "incidents.json", "incidents.csv",
         "health.json", "health.csv", "manifest.json", "summary.txt"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == result.manifest and manifest["status"] == "ok"
    sample = default_events()
    (source,) = manifest["inputs"]
    assert source["path"] == str(sample.resolve())
    assert source["sha256"] == hashlib.sha256(sample.read_bytes()).hexdigest()
    assert source["records"] == source["loaded"] == manifest["records"] > 40_000
    assert manifest["rejected"] == 0 and manifest["catalogue"]["lang"] == "en"
    assert manifest["versions"]["papermill"] and manifest["versions"]["activation-kb"]
    assert pd.Timestamp(manifest["started"]) < pd.Timestamp(manifest["finished"])
    assert manifest["parameters"]["freq"] == "h" and manifest["parameters"]["sensitivity"] == 0.5
    incidents = json.loads((out / "incidents.json").read_text())
    truth = json.loads((sample.parent / "incidents.json").read_text())
    assert len(incidents) == manifest["incidents"]
    found, injected = pd.DataFrame(incidents), pd.DataFrame(truth)
    for frame in (found, injected):
        times = [c for c in ("start", "end", "detected") if c in frame.columns]
        frame[times] = frame[times].apply(pd.to_datetime, utc=True)
    score = score_detection(found, injected)
    assert score.recall == 1.0 and score.false_incidents <= 1  # the sample's injected ones
    assert {"incident_id", "top_code", "category", "cause", "resolution", "start", "end",
            "devices", "dimensions"} <= set(incidents[0])
    csv = pd.read_csv(out / "incidents.csv")
    assert list(csv["incident_id"]) == [i["incident_id"] for i in incidents]


def test_html_is_code_free_and_needs_no_other_host(default_run):
    out, _ = default_run
    html = (out / "fleet_report.html").read_text(encoding="utf-8")
    assert "analyze_fleet(" not in html  # no code input
    assert not re.search(r"<script[^>]+src=", html)  # no script loaded from anywhere
    assert not re.search(r"<link[^>]+href=\"?https?:", html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert html.count("Plotly.newPlot") >= 4 and "MathJax.js" not in html
    executed = nbformat.read(out / "fleet_report.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


def test_second_parameter_set_french_daily_period(tmp_path):
    out = tmp_path / "fr"
    result = run_report(out=out, lang="fr", freq="D", since="2026-01-19", until="2026-02-09",
                        sensitivity=0.8, top_n=3, title="Parc <Lyon> & co", tz="Europe/Paris")
    html = (out / "fleet_report.html").read_text(encoding="utf-8")
    assert "Erreurs dans le temps" in html and "Synthèse" in html
    assert "Parc &lt;Lyon&gt; &amp; co" in html and "<Lyon>" not in html
    summary = result.manifest["summary"]
    assert pd.Timestamp(summary["period_start"]) == pd.Timestamp("2026-01-18 23:00", tz="UTC")
    incidents = json.loads((out / "incidents.json").read_text())
    assert incidents and all(
        pd.Timestamp("2026-01-18 23:00", tz="UTC") <= pd.Timestamp(i["start"])
        < pd.Timestamp("2026-02-08 23:00", tz="UTC") for i in incidents)
    assert all(i["category_label"] != i["category"] for i in incidents)  # French labels


def test_failing_cell_keeps_the_last_good_report(default_run, tmp_path):
    good, _ = default_run
    out = tmp_path / "latest"
    shutil.copytree(good, out)
    before = (out / "manifest.json").read_text()
    # an export's name, content that is none: only reading it (in the kernel) can tell
    bad = tmp_path / "exports" / "pc1.xml"
    bad.parent.mkdir()
    shutil.copy(TEST_DATA / "telemetry" / "garbage.bin", bad)
    with pytest.raises(ReportError, match="TelemetryError") as err:
        run_report(bad.parent, out=out)
    assert "pc1.xml" in str(err.value)
    assert (out / "manifest.json").read_text() == before  # untouched
    failed = tmp_path / "latest.failed"
    kept = nbformat.read(failed / "fleet_report.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in kept.cells for o in c.get("outputs", []))
    manifest = json.loads((failed / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "TelemetryError" in manifest["error"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".latest.staging")]


def test_cli_failure_exit_1_and_fail_on_spike_exit_3(tmp_path):
    runner = CliRunner()
    # a file that is not an export (no export's name, content none): exit 2, no kernel
    res = runner.invoke(cli, ["report", "run", "--events", str(TEST_DATA / "telemetry" /
                                                            "garbage.bin"),
                              "--out", str(tmp_path / "bad")])
    assert res.exit_code == 2 and "garbage.bin: cannot tell the format" in res.output
    assert res.output.count("\n") == 1 and not (tmp_path / "bad.failed").exists()
    bad = tmp_path / "pc1.evtx"  # an export's name: the kernel reads it, a cell fails
    shutil.copy(TEST_DATA / "telemetry" / "garbage.bin", bad)
    res = runner.invoke(cli, ["report", "run", "--events", str(bad), "--out",
                              str(tmp_path / "bad")])
    assert res.exit_code == 1 and "TelemetryError" in res.output and "Traceback" not in res.output
    assert "pc1.evtx" in res.output and (tmp_path / "bad.failed").is_dir()
    res = runner.invoke(cli, ["report", "run", "--out", str(tmp_path / "spiky"),
                              "--fail-on-spike", "--since", "2026-01-25", "--until", "2026-02-02"])
    assert res.exit_code == 3, res.output
    assert "incident(s) found" in res.output


def test_quiet_fleet_passes_fail_on_spike(tmp_path):
    from activation_kb.simulate import simulate_fleet
    from activation_kb.telemetry import write_events

    events, _ = simulate_fleet(150, 21, seed=9, incidents="none")
    path = write_events(events, tmp_path / "quiet.parquet")
    res = CliRunner().invoke(cli, ["report", "run", "--events", str(path), "--out",
                                   str(tmp_path / "q"), "--fail-on-spike", "--json"])
    assert res.exit_code == 0, res.output
    manifest = json.loads(res.output)
    assert manifest["incidents"] == 0 and manifest["summary"]["devices"] > 100


def test_report_list_reads_manifests(default_run, tmp_path):
    good, _ = default_run
    root = tmp_path / "reports"
    shutil.copytree(good, root / "latest")
    shutil.copytree(good, root / "older")
    older = json.loads((root / "older" / "manifest.json").read_text())
    older["finished"] = "2020-01-01T00:00:00+00:00"
    (root / "older" / "manifest.json").write_text(json.dumps(older))
    frame = list_reports(root)
    assert [p.rsplit("/", 1)[-1] for p in frame["path"]] == ["latest", "older"]
    assert (frame["status"] == "ok").all() and (frame["incidents"] == older["incidents"]).all()
    failed = root / "latest.failed"  # a failed run: a manifest without summary
    failed.mkdir()
    (failed / "manifest.json").write_text(json.dumps({"report": "fleet_report",
                                                       "status": "failed", "error": "boom"}))
    res = CliRunner().invoke(cli, ["report", "list", str(root)])
    assert res.exit_code == 0 and res.output.count("incidents=") == 2, res.output
    assert f"incidents={older['incidents']}  records={older['records']}" in res.output
    assert "latest.failed  failed" in res.output
    assert list_reports(root)["status"].tolist() == ["ok", "ok", "failed"]
    assert CliRunner().invoke(cli, ["report", "list", str(tmp_path / "none")]).exit_code == 2


def test_a_new_report_is_one_line(tmp_path, monkeypatch):
    """A ReportSpec line is all a new report needs: its page, notebook and manifest follow."""
    from activation_kb.report.runner import REPORTS, ReportParams, ReportSpec

    notebook = tmp_path / "weekly_digest.ipynb"
    shutil.copy(ROOT / "notebooks" / "fleet_report.ipynb", notebook)
    monkeypatch.setitem(REPORTS, "weekly_digest", ReportSpec(str(notebook), "A weekly digest"))
    out = tmp_path / "weekly"
    res = CliRunner().invoke(cli, ["report", "run", "--report", "weekly_digest", "--since", "7D",
                                   "--freq", "D", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    manifest = json.loads(res.output)
    assert manifest["report"] == "weekly_digest" and manifest["parameters"]["since"] == "7D"
    expected = sorted(["weekly_digest.html", "weekly_digest.ipynb", "incidents.json",
                       "incidents.csv", "health.json", "health.csv", "manifest.json",
                       "summary.txt"])
    assert sorted(p.name for p in out.iterdir()) == expected == sorted(manifest["outputs"])
    result = run_report(out=tmp_path / "again", name="weekly_digest",
                        params=ReportParams(since="7D", freq="D", lang="fr"))
    assert result.html == tmp_path / "again" / "weekly_digest.html" and result.html.is_file()
    assert result.notebook.is_file() and result.manifest["parameters"]["lang"] == "fr"


def test_report_params_as_one_object_or_one_by_one(tmp_path):
    from activation_kb.report.runner import ReportParams, report_params

    given = ReportParams(since="2026-02-01", top_n=4)
    assert report_params(params=given) is given
    assert report_params(since="2026-02-01", top_n=4) == given
    assert check_parameters(since="2026-02-01", top_n=4)["top_n"] == 4
    with pytest.raises(ReportParameterError, match="not both"):
        report_params("x.xml", params=given)
    with pytest.raises(ReportParameterError, match=r"unknown report parameter\(s\) \['top'\]"):
        run_report(out=tmp_path / "r", top=3)
    with pytest.raises(ReportParameterError) as info:
        run_report(out=tmp_path / "r", freq="1ns")
    assert info.value.kind.__name__ == "FrequencyError" and info.value.parameter == "freq"
    assert not list(tmp_path.iterdir())
