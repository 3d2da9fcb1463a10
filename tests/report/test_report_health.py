"""The report's Fleet health section, health.json/health.csv and ``--fail-on-risk`` (exit 4)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from activation_kb.cli import cli
from activation_kb.simulate import IncidentSpec, simulate_health


@pytest.fixture(scope="module")
def unhealthy(tmp_path_factory):
    """A fleet with a site cut off from KMS for months: its machines have expired."""
    folder = tmp_path_factory.mktemp("unhealthy")
    sim = simulate_health(120, 200, seed=3, sites=["hq", "depot"], incidents=[
        IncidentSpec("site_cut_off", 10, 300, "depot"),
        IncidentSpec("dns_srv_missing", 190, 191, "hq")])
    path = folder / "events.parquet"
    sim.events.to_parquet(path)
    out = folder / "report"
    res = CliRunner().invoke(cli, ["report", "run", "--events", str(path), "--out", str(out),
                                   "--since", "14D", "--fail-on-risk", "--fail-on-spike",
                                   "--top-n", "3"])
    return sim, out, res


def test_fail_on_risk_exits_4_and_says_why(unhealthy):
    sim, out, res = unhealthy
    assert res.exit_code == 4, res.output
    expired = sim.devices[sim.devices["expired"]]
    assert len(expired) > 10
    assert f"at risk: {len(expired)} machine(s) expired or in notification" in res.output
    assert str(out / "health.json") in res.output  # published before the exit code


def test_health_files_beside_incidents(unhealthy):
    sim, out, _ = unhealthy
    health = json.loads((out / "health.json").read_text())
    truth = sim.devices
    assert health["devices"] == len(truth)
    assert health["by_status"]["expired"] + health["by_status"]["notification"] == int(
        truth["expired"].sum())
    assert health["at_risk"] and health["alerts"]
    # every machine to act on is listed (the report shows top_n), with the article's text
    listed = {row["device"] for row in health["act_first"]}
    assert {d.lower() for d in truth.loc[truth["expired"], "device"]} <= listed
    assert all(row["resolution"] for row in health["act_first"] if row["last_failure_code"])
    table = pd.read_csv(out / "health.csv")
    assert len(table) == len(truth) and table["status"].notna().all()
    # the health of a 14-day report reads every record, not only the period's
    assert (table["status"] != "unknown").sum() > 0.9 * len(truth)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["health"]["at_risk"] and manifest["health"]["by_status"] == health["by_status"]
    assert {"health.json", "health.csv"} <= set(manifest["outputs"])


def test_fleet_health_section_comes_first(unhealthy):
    _, out, _ = unhealthy
    html = (out / "fleet_report.html").read_text(encoding="utf-8")
    start = html.index(">Fleet health<")
    assert start < html.index(">Summary<")
    assert "Machines to act on first" in html and "KMS hosts" in html
    assert "Machines whose activation expires, per week ahead" in html


def test_healthy_fleet_passes(tmp_path):
    sim = simulate_health(80, 20, seed=5, incidents="none")
    path = tmp_path / "events.parquet"
    sim.events.to_parquet(path)
    res = CliRunner().invoke(cli, ["report", "run", "--events", str(path), "--out",
                                   str(tmp_path / "r"), "--fail-on-risk", "--lang", "fr"])
    assert res.exit_code == 0, res.output
    health = json.loads((tmp_path / "r" / "health.json").read_text())
    assert not health["at_risk"] and health["alerts"] == []
    html = (tmp_path / "r" / "fleet_report.html").read_text(encoding="utf-8")
    assert "État du parc" in html
