"""The report on a share as it really is (issue 12, point 3).

One real papermill run on a folder of per-machine exports with a README, notes, folder metadata,
hidden files, an archive and a subfolder: the run succeeds and every file that is not an export
is listed with the reason in the CLI output, the manifest, ``summary.txt`` and the HTML page's
data quality. ``--strict`` (and a folder holding no export at all) exits 2 with one line before
any kernel starts. Counts come from what the test wrote, never from the loader.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import nbformat
import pytest
from click.testing import CliRunner
from export_share import assert_strict_refusal, make_share
from lxml import html as lxml_html

from activation_kb import analyze_fleet, write_outputs
from activation_kb.cli import cli
from activation_kb.errors import ReportParameterError, TelemetryError
from activation_kb.report.notebook_params import report_parameters
from activation_kb.report.runner import run_report
from activation_kb.views.display import quality

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("report")]


@pytest.fixture(scope="module")
def share(tmp_path_factory):
    return make_share(tmp_path_factory.mktemp("share") / "exports")


@pytest.fixture(scope="module")
def share_run(share, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "latest"
    res = CliRunner().invoke(cli, ["report", "run", "--events", str(share.folder),
                                   "--out", str(out), "--freq", "D"])
    return out, res


def test_analysis_names_the_skipped_files(share, tmp_path):
    analysis = analyze_fleet(share.folder, freq="D")
    skipped = {share.rel(s["path"]): s["reason"] for s in analysis.skipped_files}
    assert set(skipped) == set(share.not_exports)
    for name, word in share.not_exports.items():
        assert word in skipped[name], (name, skipped[name])
    assert analysis.quality["skipped_files"] == analysis.skipped_files
    assert sorted(share.rel(f["path"]) for f in analysis.files) == sorted(share.exports)
    assert analysis.summary["records"] == len(share.events)
    view = analysis.where(since=analysis.summary["period_start"][:10])
    assert view.skipped_files == analysis.skipped_files  # the input's facts stay with a view
    summary = json.loads(write_outputs(analysis, tmp_path)["run_summary.json"].read_text())
    assert summary["skipped_files"] == summary["quality"]["skipped_files"] == \
        analysis.skipped_files
    french = quality(analysis, lang="fr").data
    assert (f"Ignorés, pas des exports d’événements : {len(share.not_exports)} fichiers"
            in french)
    with pytest.raises(TelemetryError, match=r"file\(s\) are not event exports \(strict\)"):
        analyze_fleet(share.folder, strict=True)


def test_report_run_on_a_share_succeeds_and_lists_skipped_files(share, share_run):
    out, res = share_run
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith(f"report written to {out} in ")
    assert f"{len(share.events)} records (0 rejected)" in lines[0]
    assert lines[2] == (f"  {len(share.not_exports)} files skipped: not event exports "
                        "(manifest.json gives each one's reason)")

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["parameters"]["strict"] is False
    skipped = {share.rel(s["path"]): s["reason"] for s in manifest["skipped_files"]}
    assert set(skipped) == set(share.not_exports)
    for name, word in share.not_exports.items():
        assert word in skipped[name], (name, skipped[name])
    assert sorted(share.rel(i["path"]) for i in manifest["inputs"]) == sorted(share.exports)
    assert all(i["sha256"] for i in manifest["inputs"])
    assert manifest["records"] == len(share.events)

    text = (out / "summary.txt").read_text()
    assert f"\n{len(share.not_exports)} file(s) skipped, not event exports (not read):\n" in text
    assert f"... and {len(share.not_exports) - 5} more: see manifest.json" in text

    page = lxml_html.parse(str(out / "fleet_report.html")).getroot()
    (note,) = page.xpath("//p[starts-with(normalize-space(.), 'Skipped, not event exports')]")
    assert note.text_content() == (f"Skipped, not event exports: {len(share.not_exports)} files "
                                   "(found beside the exports, not read).")
    table = note.getnext().xpath(".//table")[0]
    assert [th.text_content() for th in table.xpath(".//th")] == ["File", "Reason"]
    rows = {share.rel(tr[0].text_content()): tr[1].text_content()
            for tr in table.xpath(".//tbody/tr")}
    assert rows == skipped
    nb = nbformat.read(out / "fleet_report.ipynb", as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]


def test_report_run_strict_exits_2_before_the_kernel_starts(share, tmp_path):
    out = tmp_path / "reports" / "latest"
    started = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "activation_kb", "report", "run", "--events",
                          str(share.folder), "--out", str(out), "--strict"],
                         capture_output=True, text=True, timeout=120)
    assert_strict_refusal(res, f"events: {len(share.not_exports)} file(s) are not event "
                               "exports (strict): ")
    assert "expected only event exports" in res.stderr
    assert time.perf_counter() - started < 10  # no kernel, no notebook
    assert not (tmp_path / "reports").exists()


def test_a_folder_without_any_export_exits_2_before_the_kernel(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "README.md").write_text("# the exports arrive tonight\n")
    (folder / "desktop.ini").write_text("[.ShellClassInfo]\n")
    started = time.perf_counter()
    res = CliRunner().invoke(cli, ["report", "run", "--events", str(folder), "--out",
                                   str(tmp_path / "r")])
    assert res.exit_code == 2
    assert res.output.startswith("Error: events: none of the 2 files is an event export: ")
    assert res.output.count("\n") == 1
    assert time.perf_counter() - started < 5 and not (tmp_path / "r").exists()
    with pytest.raises(ReportParameterError, match=r"none of the 2 files") as info:
        run_report(folder, tmp_path / "r")
    assert info.value.parameter == "events"


@pytest.mark.parametrize("text, expected", [("true", True), ("True", True), ("yes", True),
                                            ("1", True), ("false", False), ("no", False),
                                            ("", False), (True, True), (0, False)])
def test_strict_from_a_scheduler_form(text, expected):
    """jupyter-scheduler gives parameters as typed: ``strict`` ``true`` must work."""
    assert report_parameters({"strict": text})["strict"] is expected


def test_strict_refuses_what_is_not_a_yes_or_no():
    with pytest.raises(ReportParameterError, match=r"strict='maybe': expected true or false"):
        report_parameters({"strict": "maybe"})
