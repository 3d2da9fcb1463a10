"""``activation-kb health``: text, JSON, exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from activation_kb.cli import cli
from activation_kb.simulate import IncidentSpec, simulate_health


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A healthy fleet, and one with a cut-off site whose machines have expired."""
    folder = tmp_path_factory.mktemp("health")
    healthy = simulate_health(120, 20, seed=1, incidents="none")
    healthy.events.to_parquet(folder / "healthy.parquet")
    cut = simulate_health(150, 205, seed=2, sites=["hq", "depot"], incidents=[
        IncidentSpec("site_cut_off", 10, 300, "depot")])
    cut.events.to_parquet(folder / "cut.parquet")
    return folder, healthy, cut


def run(*args):
    return CliRunner().invoke(cli, ["health", *map(str, args)])


def test_text_report_of_a_healthy_fleet(exports):
    folder, healthy, _ = exports
    res = run(folder / "healthy.parquet", "--fail-on-risk")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("Fleet health at 2026-01-2") and lines[0].endswith(
        f"{len(healthy.devices)} machines")
    assert "  expired              0" in lines and "Act first:" not in lines
    assert "KMS hosts:" in lines
    assert any(line.startswith("  kms01: client count") for line in lines)


def test_json_and_fail_on_risk(exports):
    folder, _, cut = exports
    res = run(folder / "cut.parquet", "--json", "--top", "3", "--fail-on-risk")
    assert res.exit_code == 4, res.output
    data = json.loads(res.output)
    depot = cut.devices[(cut.devices["site"] == "depot") & cut.devices["expired"]]
    assert data["by_status"]["expired"] + data["by_status"]["notification"] == len(depot)
    assert len(data["act_first"]) == 3 and data["at_risk"]
    assert data["act_first"][0]["resolution"]  # the catalogue's resolution of 0x800706BA
    assert data["alerts"][0].startswith(f"{len(depot)} machine(s) expired")
    text = run(folder / "cut.parquet", "--fail-on-risk", "--lang", "fr")
    assert text.exit_code == 4 and "Act first:" in text.output
    assert "At risk:" in text.output  # the reason, on stderr (mixed in by CliRunner)


@pytest.mark.parametrize("args, message", [
    (["nope.parquet"], "nope.parquet"),
    (["{healthy}", "--at", "not-a-time"], "at='not-a-time'"),
    (["{healthy}", "--inventory", "missing.csv"], "missing.csv"),
])
def test_bad_input_exits_2(exports, args, message):
    folder, _, _ = exports
    args = [a.format(healthy=folder / "healthy.parquet") for a in args]
    res = run(*args)
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
