"""Fleet health in the views: expiry and KMS figures, report tables, device search."""

from __future__ import annotations

import pandas as pd
import pytest

from activation_kb import schema as S
from activation_kb.analysis.health import fleet_health, kms_health
from activation_kb.errors import AnalysisError
from activation_kb.simulate import IncidentSpec, simulate_health
from activation_kb.views.health import (
    STATUS_COLORS,
    health_tables,
    plot_expiring,
    plot_kms_forecast,
)


@pytest.fixture(scope="module")
def fleet():
    sim = simulate_health(200, 200, seed=4, sites=["hq", "depot"], incidents=[
        IncidentSpec("site_cut_off", 20, 300, "depot"),
        IncidentSpec("decommission", 150, 165, "kms01.contoso.com", machines=110)])
    return sim, fleet_health(sim.events), kms_health(sim.events, at=sim.start + pd.Timedelta(
        days=185))


def test_expiring_per_week(fleet):
    sim, _, _ = fleet
    devices = fleet_health(sim.events, at=sim.start + pd.Timedelta(days=185))
    fig = plot_expiring(devices, weeks=10)
    at = devices["assessed_at"].iloc[0]
    first = at.normalize() - pd.Timedelta(days=at.weekday())
    assert fig.data and all(len(trace.x) == 11 for trace in fig.data)
    total = sum(sum(trace.y[1:]) for trace in fig.data)
    ahead = devices["projected_expiry"].between(at, first + pd.Timedelta(weeks=10),
                                                inclusive="left")
    assert total == ahead.sum() > 0
    already = sum(trace.y[0] for trace in fig.data)
    assert already == (devices["projected_expiry"] < at).sum()
    colors = {trace.name: trace.marker.color for trace in fig.data}
    assert colors.get("at risk", STATUS_COLORS["at_risk"]) == STATUS_COLORS["at_risk"]
    fr = plot_expiring(devices, lang="fr")
    assert "Machines dont" in fr.layout.title.text
    with pytest.raises(AnalysisError, match="fleet_health"):
        plot_expiring(sim.events)


def test_kms_forecast_figure(fleet):
    _, _, kms = fleet
    fig = plot_kms_forecast(kms)
    names = [trace.name for trace in fig.data]
    assert "kms01.contoso.com" in names and "kms01.contoso.com (forecast)" in names
    falls = kms.hosts.set_index("host").loc["kms01.contoso.com", "falls_below_on"]
    assert pd.notna(falls)
    marker = [t for t in fig.data if t.name.startswith("kms01.contoso.com: falls below on")]
    assert len(marker) == 1 and pd.Timestamp(marker[0].x[0]) == falls


def test_report_tables(fleet):
    _, devices, kms = fleet
    tables = health_tables(devices, kms, top_n=5)
    assert tables["status"]["machines"].sum() == len(devices)
    assert list(tables["status"]["status"]) == ["expired", "notification", "at risk", "unknown",
                                                "ok"]
    act = tables["act_first"]
    assert len(act) == 5 and (act["status"].isin(["expired", "notification"])).all()
    assert act["resolution"].str.len().gt(20).all()
    assert list(tables["kms"]["host"])[0] in set(kms.hosts["host"])


def _events(rows):
    frame = pd.DataFrame(rows)
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return S.coerce_events(frame)


def test_widget_finds_a_device_by_name_short_name_or_cmid(fleet):
    pytest.importorskip("ipywidgets")
    from activation_kb import lookup_widget

    sim, devices, _ = fleet
    box = lookup_widget(events=sim.events)
    row = devices[devices["status"] == "expired"].iloc[0]
    for query in (row["device"], row["device"].upper(), row["cmid"], " " + row["cmid"] + " "):
        box.query.value = query
        assert box.shown_device == row["device"], query
        assert "Machine " + row["device"] in box.device.value
        assert "OOT grace" in box.device.value and "Last attempts" in box.device.value
        assert "0x800706BA" in box.device.value and "Resolution" in box.device.value
    box.query.value = "depot-"  # a prefix lists the machines it starts
    assert box.shown_device is None and "machines match" in box.device.value
    box.query.value = "0xC004F074"  # a code: the catalogue entry, no machine
    assert box.device.value == "" and box.shown_code == "0xC004F074"
    box.language.value = "fr"
    box.query.value = row["device"]
    assert "État de licence" in box.device.value


def test_widget_escapes_hostile_device_names():
    pytest.importorskip("ipywidgets")
    from activation_kb import lookup_widget

    name = "<img src=x onerror=alert(1)>.contoso.com"
    events = _events([
        dict(event_time="2026-03-01 08:00", host=name, role="client", event_id=12288,
             event_kind="kms_request", result_code=0xC004F074, is_success=False,
             kms_host="<b>kms</b>", license_status=1, minutes_to_expiry=5000, min_count=25),
    ])
    box = lookup_widget(events=events)
    box.query.value = name
    assert box.shown_device == name.lower()
    assert "<img" not in box.device.value and "&lt;img" in box.device.value
    assert "<b>kms</b>" not in box.device.value
