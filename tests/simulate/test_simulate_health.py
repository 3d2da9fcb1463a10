"""The simulator's health scenarios and ground truth (simulate_health)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from activation_kb.errors import SimulationError
from activation_kb.schema import validate_events
from activation_kb.simulate import IncidentSpec, simulate_fleet, simulate_health

DAY = pd.Timedelta(days=1)
VALIDITY = 180 * DAY


def test_same_events_as_simulate_fleet_and_default_truth():
    sim = simulate_health(150, 15, seed=9)
    events, incidents = simulate_fleet(150, 15, seed=9)
    pd.testing.assert_frame_equal(sim.events, events)
    pd.testing.assert_frame_equal(sim.incidents, incidents)
    assert set(sim.incidents["kind"]).isdisjoint({"off_network", "site_cut_off", "decommission"})
    assert len(sim.devices) == 150 and sim.devices["device"].is_unique
    assert (sim.end - sim.start) == 15 * DAY
    # nobody expires in a fortnight: every machine activated at the start is still Licensed
    first = sim.devices[sim.devices["deployed"].isna() & ~sim.devices["mak"]]
    assert (first["true_state_name"] == "Licensed").all() and not sim.devices["expired"].any()


def test_request_carries_the_state_before_it():
    sim = simulate_health(200, 30, seed=4, incidents="none")
    ev = sim.events
    req = ev[(ev["event_id"] == 12288) & ev["is_success"].fillna(False)].sort_values("event_time")
    # two successive successful requests of a machine: the second says the validity of the first
    # has run 7+ days (180 days from the first success, counted from the second request)
    pairs = req.groupby("host").tail(2).groupby("host").filter(lambda g: len(g) == 2)
    first = pairs.groupby("host").nth(0).set_index("host")
    second = pairs.groupby("host").nth(1).set_index("host")
    left = second["minutes_to_expiry"].astype(float)
    expected = (first["event_time"] + VALIDITY - second["event_time"]).dt.total_seconds() / 60
    assert len(left) > 50
    assert (abs(left - expected.reindex(left.index)) <= 2).all()
    assert (second["license_status"] == 1).all()
    # the truth: expiry = last success + 180 days
    truth = sim.devices.set_index("device")
    activated = truth[truth["last_activation"].notna() & ~truth["mak"]]
    gap = activated["true_expiry"] - activated["last_activation"] - VALIDITY
    assert (gap.abs() < pd.Timedelta(milliseconds=1)).all()


@pytest.fixture(scope="module")
def away():
    return simulate_health(120, 240, seed=2, incidents=[
        IncidentSpec("off_network", 30, 230, machines=3)])


def test_laptop_away_for_200_days_expires(away):
    truth = away.devices[away.devices["away"] | away.devices["device"].isin(
        away.incidents["scope"].iloc[0].split(","))]
    assert len(truth) == 3 and (truth["kind"] == "laptop").all()
    ev = away.events
    start, end = away.start + 30 * DAY, away.start + 230 * DAY
    for row in truth.itertuples():
        own = ev[ev["host"] == row.device]
        inside = own[(own["event_time"] >= start) & (own["event_time"] < end)]
        assert inside.empty  # away: its log is not collected
        assert not own[own["event_time"] >= end].empty  # back: it reports again
        assert row.last_activation >= end  # ... and activates again
        # while away its validity ran out: the first request back says OOT grace or Notification
        back = own[(own["event_id"] == 12288) & (own["event_time"] >= end)].iloc[0]
        assert back["license_status"] in (3, 5)
        last_before = own.loc[(own["event_id"] == 12289) & own["is_success"].fillna(False)
                              & (own["event_time"] < start), "event_time"].max()
        stamp = back["event_time"]
        expected = last_before + VALIDITY + (30 * DAY if back["license_status"] == 3 else 0 * DAY)
        assert abs(stamp + pd.Timedelta(minutes=int(back["minutes_to_expiry"])) - expected) < (
            2 * DAY) or back["license_status"] == 5


def test_away_at_the_end_is_expired_in_the_truth():
    sim = simulate_health(100, 210, seed=8, incidents=[
        IncidentSpec("off_network", 5, 400, machines=2)])
    gone = sim.devices[sim.devices["away"]]
    assert len(gone) == 2 and gone["expired"].all()
    assert (gone["true_state_name"].isin(["OOT grace", "Notification"])).all()
    assert (gone["true_expiry"] < sim.end).all()


def test_window_before_the_start(away):
    sim = simulate_health(80, 40, seed=3, incidents=[
        IncidentSpec("off_network", -170, 100, machines=2)])
    gone = sim.devices[sim.devices["away"]]
    # renewed last (within a week) before leaving 170 days before the start: expired on day 3-10
    assert gone["expired"].all()
    lo, hi = sim.start + 3 * DAY, sim.start + 10 * DAY
    assert gone["true_expiry"].between(lo, hi).all()
    assert ~sim.events["host"].isin(gone["device"]).any()


def test_site_cut_off_for_months():
    sim = simulate_health(200, 215, seed=5, sites=["hq", "depot"], incidents=[
        IncidentSpec("site_cut_off", 20, 300, "depot")])
    ev = sim.events
    depot = ev[(ev["site"] == "depot") & (ev["event_time"] >= sim.start + 20 * DAY)]
    req = depot[depot["event_id"] == 12288]
    named = req[req["kms_host"].notna()]  # the others: laptops at home without VPN (DNS)
    assert len(named) > 1000 and (req.loc[req["kms_host"].isna(), "code"] == "0x8007232B").all()
    assert (named["code"] == "0x800706BA").all()  # they name a host, which does not answer
    assert depot[depot["event_id"].isin([12289, 12290])].empty
    assert set(depot.loc[depot["event_id"] == 8198, "code"]) == {"0xC004F074"}
    truth = sim.devices[(sim.devices["site"] == "depot") & ~sim.devices["mak"]]
    assert truth["expired"].all()
    assert (truth["true_state_name"] == "OOT grace").all()
    assert not sim.devices.loc[sim.devices["site"] == "hq", "expired"].any()


@pytest.fixture(scope="module")
def retired():
    return simulate_health(120, 100, seed=3, sites=["hq", "branch"], incidents=[
        IncidentSpec("decommission", 20, 40, "kms02.contoso.com", machines=25)])


def test_decommissioned_machines_go_silent_and_the_count_falls(retired):
    gone = retired.devices[retired.devices["retired"].notna()]
    assert len(gone) == 25 and (gone["kms_host"] == "kms02.contoso.com").all()
    lo, hi = retired.start + 20 * DAY, retired.start + 40 * DAY
    assert gone["retired"].between(lo, hi).all()
    ev = retired.events
    for row in gone.itertuples():
        after = ev[((ev["host"] == row.device) | (ev["client_name"] == row.device))
                   & (ev["event_time"] >= row.retired)]
        assert after.empty
    host = retired.kms_hosts.set_index("host").loc["kms02.contoso.com"]
    assert host["threshold"] == 25 and pd.notna(host["falls_below"])
    # the count falls below 25 about 30 days after enough machines stopped renewing
    assert lo + 20 * DAY < host["falls_below"] < hi + 31 * DAY
    assert pd.isna(retired.kms_hosts.set_index("host").loc["kms01.contoso.com", "falls_below"])


def test_true_count_is_the_distinct_clients_of_the_last_30_days(retired):
    ev = retired.events
    served = ev[ev["event_id"] == 12290]
    counts = retired.kms_counts.set_index(["host", "time"])["count"]
    for day in (25, 50, 70, 95):
        at = retired.start + day * DAY
        window = served[(served["event_time"] > at - 30 * DAY) & (served["event_time"] <= at)]
        for host, part in window.groupby("host"):
            true = counts.loc[(host, at)]
            # machines counted at the start (renewed within 7 days before it) have no record
            if day > 30:
                assert true == part["client_name"].nunique(), (host, day)
            else:
                assert true >= part["client_name"].nunique()


def test_bad_health_scenarios():
    with pytest.raises(SimulationError, match="unknown KMS host"):
        simulate_health(50, 5, incidents=[IncidentSpec("decommission", 1, 2, "kms9")])
    with pytest.raises(SimulationError, match="unknown site"):
        simulate_health(50, 5, incidents=[IncidentSpec("site_cut_off", 1, 2, "mars")])
    sim = simulate_health(60, 5, seed=1, incidents=[
        IncidentSpec("off_network", 1, 2, machines=500)])  # more than there are laptops
    assert 0 < sim.devices["device"].isin(sim.incidents["scope"].iloc[0].split(",")).sum() < 60
    validate_events(sim.events)
    assert np.isfinite(sim.kms_counts["count"]).all()
