"""`report run --catalogue FILE`: a downloaded revision of the article explains the incidents."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import TEST_DATA

from activation_kb.catalogue.article import SHIPPED_FILES
from activation_kb.cli import cli
from activation_kb.errors import ReportParameterError
from activation_kb.report.runner import check_parameters
from activation_kb.resources import data_path

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("report")]
MARKER = "Marker of a newer revision of the article"


def test_catalogue_parameter_is_checked_before_any_kernel(tmp_path):
    assert check_parameters()["catalogue"] is None
    path = TEST_DATA / "catalogue" / "layout_2023_en.md"
    assert check_parameters(catalogue=path)["catalogue"] == str(path.resolve())
    with pytest.raises(ReportParameterError, match=r"catalogue='/nowhere/a\.md'"):
        check_parameters(catalogue="/nowhere/a.md")
    with pytest.raises(ReportParameterError, match="no error code could be read"):
        check_parameters(catalogue=TEST_DATA / "catalogue" / "not_the_article.md")
    (tmp_path / "bad.md").write_bytes(b"\xff\xfe|")
    result = CliRunner().invoke(cli, ["report", "run", "--catalogue", str(tmp_path / "bad.md"),
                                      "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "not UTF-8 text" in result.output
    assert not (tmp_path / "r").exists()


def test_report_run_explains_incidents_with_the_given_revision(tmp_path):
    text = data_path(SHIPPED_FILES["en"]).read_text(encoding="utf-8")
    # a newer revision: every resolution gains a sentence the shipped article does not have
    newer = text.replace("### Resolution\n", f"### Resolution\n\n{MARKER}.\n")
    path = tmp_path / "en-us_newer.md"
    path.write_text(newer, encoding="utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", "run", "--out", str(out), "--catalogue",
                                      str(path), "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert manifest["parameters"]["catalogue"] == str(path.resolve())
    assert manifest["catalogue"]["source"] == str(path.resolve())
    assert len(manifest["catalogue"]["sha256"]) == 64
    incidents = json.loads((out / "incidents.json").read_text(encoding="utf-8"))
    documented = [i for i in incidents if i["resolution"] and i["top_code"].startswith("0x")]
    assert documented and all(MARKER in i["resolution"] for i in documented)
    assert incidents[0]["category"] != "other"  # its codes keep their categories
