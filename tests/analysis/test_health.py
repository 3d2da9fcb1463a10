"""Fleet health: per-device status and expiry, per-host counts and forecast, against known answers.

Hand-built records give exact expectations per status and per corner case (a silent machine, a
clock running ahead, one name in two domains, the pre-request state a 12288 carries); simulated
fleets with ground truth (``simulate_health``) check the projections at scale.
"""

from __future__ import annotations

import json
import zlib

import pandas as pd
import pytest

from activation_kb import schema as S
from activation_kb.analysis.attempts import activation_attempts
from activation_kb.analysis.health import (
    STATUSES,
    fleet_health,
    health_summary,
    kms_health,
    write_health,
)
from activation_kb.errors import AnalysisError, DateError, DurationError
from activation_kb.simulate import IncidentSpec, simulate_health

AT = pd.Timestamp("2026-03-01 12:00", tz="UTC")
DAY = pd.Timedelta(days=1)
HOST = "kms01.contoso.com"
MIN = 1440  # minutes per day


def _cmid(name: str) -> str:
    return f"00000000-0000-4000-a000-{zlib.crc32(name.encode()):012x}"


class Fleet:
    """Builds canonical records the way a client, its KMS host and slui log them."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def request(self, host, when, *, state=1, minutes=150 * MIN, code=0, answered=True,
                count=40, min_count=25, cmid=None, kms=HOST, client_name=None, site="paris"):
        """One KMS attempt: 12288, and 12289 + 12290 when the host answered, 8198 on failure."""
        cmid = cmid or _cmid(host)
        request_code = code if answered else 0x800706BA
        base = dict(host=host, role="client", site=site)
        self.rows.append(base | dict(event_time=when, event_id=12288, event_kind="kms_request",
                                     result_code=request_code, is_success=request_code == 0,
                                     kms_host=kms, cmid=cmid, license_status=state,
                                     minutes_to_expiry=minutes, min_count=min_count))
        if answered:
            self.rows.append(dict(host=kms, role="kms_host", site=site,
                                  event_time=when + pd.Timedelta(seconds=1), event_id=12290,
                                  event_kind="kms_host_request", result_code=code,
                                  is_success=code == 0, client_name=client_name or host,
                                  cmid=cmid, license_status=state, minutes_to_expiry=minutes,
                                  min_count=min_count))
            self.rows.append(base | dict(event_time=when + pd.Timedelta(seconds=2),
                                         event_id=12289, event_kind="kms_response",
                                         result_code=code, is_success=code == 0, kms_count=count,
                                         renewal_interval_min=7 * MIN))
        if code or not answered:  # slui: the host's answer, or "no KMS could be contacted"
            self.rows.append(base | dict(event_time=when + pd.Timedelta(seconds=3), event_id=8198,
                                         event_kind="activation_failure",
                                         result_code=code if answered else 0xC004F074,
                                         is_success=False))

    def status_check(self, host, when, site="paris"):
        self.rows.append(dict(host=host, role="client", site=site, event_time=when, event_id=1003,
                              event_kind="status_check"))

    def events(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows)
        frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
        return S.coerce_events(frame.sort_values("event_time", kind="stable"))


def _row(health: pd.DataFrame, device: str) -> pd.Series:
    rows = health[health["device"] == device.lower()]
    assert len(rows) == 1, (device, list(health["device"]))
    return rows.iloc[0]


def _renewing(fleet: Fleet, host: str, last: pd.Timestamp, weeks: int = 3, **kw) -> None:
    """A machine that renewed every week up to ``last`` (the state it carried: Licensed)."""
    for w in range(weeks, -1, -1):
        when = last - w * 7 * DAY
        fleet.request(host, when, state=1, minutes=173 * MIN, **kw)


@pytest.fixture(scope="module")
def statuses() -> pd.DataFrame:
    f = Fleet()
    _renewing(f, "ok-1.contoso.com", AT - 2 * DAY)
    # at risk: validity ends in 10 days and the last attempt failed
    f.request("fail-1.contoso.com", AT - DAY, state=1, minutes=11 * MIN, code=0xC004F038)
    # at risk: reporting, but its last renewal was 20 days ago (DNS failures since)
    f.request("stale-1.contoso.com", AT - 20 * DAY, state=1, minutes=173 * MIN)
    for d in range(19, 0, -1):
        f.request("stale-1.contoso.com", AT - d * DAY, answered=False, minutes=170 * MIN)
    # at risk: never activated, in its initial (OOB) grace
    f.request("new-1.contoso.com", AT - DAY, state=2, minutes=20 * MIN, code=0xC004F014)
    # expired: its validity ended 5 days ago, it keeps failing (OOT grace now)
    f.request("gone-1.contoso.com", AT - 6 * DAY, state=1, minutes=1 * MIN, answered=False)
    f.request("gone-1.contoso.com", AT - 2 * DAY, state=3, minutes=27 * MIN, answered=False)
    # notification: grace over
    f.request("nag-1.contoso.com", AT - DAY, state=5, minutes=0, code=0xC004F038)
    # unknown: only slui failures, no record carries the state
    f.rows.append(dict(host="mak-1.contoso.com", role="client", site="lyon", event_time=AT - DAY,
                       event_id=8198, event_kind="activation_failure", result_code=0xC004C020,
                       is_success=False))
    f.status_check("ok-1.contoso.com", AT)  # the end of the data
    return fleet_health(f.events())


@pytest.mark.parametrize("device, status", [
    ("ok-1.contoso.com", "ok"),
    ("fail-1.contoso.com", "at_risk"),
    ("stale-1.contoso.com", "at_risk"),
    ("new-1.contoso.com", "at_risk"),
    ("gone-1.contoso.com", "expired"),
    ("nag-1.contoso.com", "notification"),
    ("mak-1.contoso.com", "unknown"),
])
def test_each_status(statuses, device, status):
    row = _row(statuses, device)
    assert row["status"] == status, row["reason"]
    assert (row["reason"] == "") == (status == "ok")


def test_status_details(statuses):
    assert list(statuses.columns[:3]) == ["device", "product", "status"]
    assert set(statuses["status"].cat.categories) == set(STATUSES)
    assert (statuses["assessed_at"] == AT).all()
    ok = _row(statuses, "ok-1.contoso.com")
    # the last success resets the validity: 180 days from the 12289, whatever the 12288 said
    assert ok["projected_expiry"] == AT - 2 * DAY + pd.Timedelta(seconds=2) + 180 * DAY
    assert ok["license_state"] == "Licensed" and ok["kms_host"] == HOST
    assert ok["edition"] == "client" and ok["site"] == "paris"
    fail = _row(statuses, "fail-1.contoso.com")
    assert fail["last_failure_code"] == "0xC004F038"  # the host's answer, not slui's 0xC004F074
    assert fail["last_failure_category"] == "kms_count"
    assert 9.9 < fail["days_left"] < 10.1 and "last attempt failed" in fail["reason"]
    stale = _row(statuses, "stale-1.contoso.com")
    assert "not renewed for 20 days" in stale["reason"]
    assert stale["last_failure_code"] == "0x800706BA" and not stale["silent"]
    gone = _row(statuses, "gone-1.contoso.com")
    assert gone["license_state"] == "OOT grace"
    assert gone["projected_expiry"] == AT - 5 * DAY  # OOT grace (30 days) ends in 24 days
    assert gone["days_left"] == pytest.approx(-5)
    assert _row(statuses, "new-1.contoso.com")["license_state"] == "OOB grace"
    unknown = _row(statuses, "mak-1.contoso.com")
    assert pd.isna(unknown["license_status"]) and pd.isna(unknown["projected_expiry"])
    assert unknown["last_failure_category"] == "activation_limit"
    # most urgent first: expired, notification, at risk (least days left first), unknown, ok
    assert list(statuses["status"].astype(str)) == sorted(
        statuses["status"].astype(str), key=STATUSES.index)


def test_silent_machine_runs_down_and_expires():
    f = Fleet()
    _renewing(f, "busy.contoso.com", AT - DAY)
    f.request("away.contoso.com", AT - 170 * DAY, state=1, minutes=175 * MIN)  # then silence
    f.request("lost.contoso.com", AT - 200 * DAY, state=1, minutes=175 * MIN)
    f.status_check("busy.contoso.com", AT)
    health = fleet_health(f.events())
    away = _row(health, "away.contoso.com")
    assert away["silent"] and away["silent_for"] > 169 * DAY
    assert away["status"] == "at_risk" and "silent for 170 days" in away["reason"]
    assert away["license_state"] == "Licensed" and 9 < away["days_left"] < 11
    lost = _row(health, "lost.contoso.com")
    assert lost["status"] == "expired" and lost["license_state"] == "OOT grace"
    # ... and a machine that stays silent for good ends in Notification once the grace is over
    later = fleet_health(f.events(), at=AT + 20 * DAY)
    assert _row(later, "lost.contoso.com")["status"] == "notification"
    assert _row(later, "away.contoso.com")["status"] == "expired"


def test_clock_skewed_client():
    f = Fleet()
    for i in range(12):
        _renewing(f, f"pc{i}.contoso.com", AT - (i % 5) * DAY - pd.Timedelta(hours=1))
    f.status_check("pc0.contoso.com", AT)
    # a client whose clock runs 40 days ahead: its records are stamped in the future, and the
    # host refuses it (request timestamp more than 4 hours off)
    skewed = "skew.contoso.com"
    f.request(skewed, AT - 30 * DAY, state=1, minutes=120 * MIN)
    f.request(skewed, AT + 40 * DAY, state=1, minutes=80 * MIN, code=0xC004F06C)
    health = fleet_health(f.events())
    assert (health["assessed_at"] == AT).all()  # the end of the data, not the skewed clock's
    row = _row(health, skewed)
    assert row["clock_ahead"] and row["silent_for"] == pd.Timedelta(0)
    assert row["last_failure_code"] == "0xC004F06C" and row["last_failure_category"] == "clock"
    assert not health.loc[health["device"] != skewed, "clock_ahead"].any()
    assert (health.loc[health["device"] != skewed, "status"] == "ok").all()
    # at an explicit time the records after it are not used
    before = _row(fleet_health(f.events(), at=AT), skewed)
    assert before["last_failure_code"] == "" and not before["clock_ahead"]


def test_same_name_in_two_domains():
    f = Fleet()
    a, b = "PC1.contoso.com", "PC1.fabrikam.com"
    _renewing(f, a, AT - DAY, client_name="PC1", cmid=_cmid("a"))
    f.request(b, AT - 200 * DAY, state=1, minutes=175 * MIN, client_name="PC1", cmid=_cmid("b"))
    f.request(b, AT - DAY, state=3, minutes=11 * MIN, client_name="PC1", cmid=_cmid("b"),
              code=0xC004F038)
    f.status_check(a, AT)
    health = fleet_health(f.events())
    assert sorted(health["device"]) == ["pc1.contoso.com", "pc1.fabrikam.com"]
    assert _row(health, a)["status"] == "ok" and _row(health, a)["cmid"] == _cmid("a")
    assert _row(health, b)["status"] == "expired" and _row(health, b)["cmid"] == _cmid("b")
    # its last record (the host's 12290, a second after the request) carries OOT grace
    assert abs(_row(health, b)["projected_expiry"] - (AT - 20 * DAY)) <= pd.Timedelta(seconds=2)
    # the KMS host counts two clients, from the clients' logs or from its own (12290 names
    # "PC1" twice: the CMIDs tell them apart, as they do for the host)
    events = f.events()
    for part in (events, events[events["event_id"] == 12290]):
        counts = kms_health(part, at=AT).hosts.set_index("host").loc[HOST]
        assert counts["count"] == 2


def test_request_carries_state_before_it():
    f = Fleet()
    # a new machine: its first successful request still says "OOB grace, 2 days left"
    f.request("fresh.contoso.com", AT - DAY, state=2, minutes=2 * MIN)
    health = fleet_health(f.events(), at=AT)
    row = _row(health, "fresh.contoso.com")
    assert row["license_state"] == "Licensed" and row["status"] == "ok"
    assert row["days_left"] == pytest.approx(179, abs=0.01)


def test_attempt_table_as_source():
    f = Fleet()
    _renewing(f, "ok-2.contoso.com", AT - DAY)
    f.request("bad-2.contoso.com", AT - 200 * DAY, state=1, minutes=170 * MIN)
    f.request("bad-2.contoso.com", AT - DAY, answered=False)
    f.status_check("ok-2.contoso.com", AT)
    health = fleet_health(activation_attempts(f.events()), at=AT)
    # the attempt table keeps no state: a success stands for an activation
    ok, bad = _row(health, "ok-2"), _row(health, "bad-2")
    assert ok["status"] == "ok" and ok["state_source"] == "attempts"
    assert bad["status"] == "expired" and bad["last_failure_code"] in {"0x800706BA", "0xC004F074"}


def test_bad_inputs():
    with pytest.raises(AnalysisError, match="expected one of"):
        fleet_health(42)
    with pytest.raises(AnalysisError, match="source of records, an inventory"):
        fleet_health()
    with pytest.raises(DateError, match="at"):
        fleet_health(_tiny(), at="yesterday-ish")
    with pytest.raises(DurationError, match="horizon"):
        fleet_health(_tiny(), horizon="-3D")
    with pytest.raises(DurationError, match="horizon"):
        kms_health(_tiny(), horizon="soon")
    quiet = kms_health(_tiny().query("event_id == 1003"))  # no KMS request: no host
    assert quiet.hosts.empty and quiet.daily.empty and quiet.messages == []
    assert quiet.at == AT
    with pytest.raises(AnalysisError, match="no record"):
        kms_health(_tiny().iloc[:0])


def _tiny() -> pd.DataFrame:
    f = Fleet()
    _renewing(f, "a.contoso.com", AT - DAY)
    f.status_check("a.contoso.com", AT)
    return f.events()


# -- KMS hosts -------------------------------------------------------------------------------


def test_kms_daily_answered_and_codes_counted_independently():
    sim = simulate_health(150, 20, seed=5, incidents=[
        IncidentSpec("kms_host_down", 8, 9, "kms02.contoso.com"),
        IncidentSpec("clock_drift", 12, 14, "", machines=10)])
    health = kms_health(sim.events)
    daily = health.daily.set_index(["host", "day"])
    ev = sim.events
    req = ev[ev["event_id"] == 12288].dropna(subset=["kms_host"])
    resp = ev[ev["event_id"] == 12289]
    # a request is answered when the same machine logs a 12289 within seconds
    paired = pd.merge_asof(
        req[["event_time", "host", "kms_host"]].astype({"host": str}),
        resp[["event_time", "host"]].astype({"host": str}).assign(reply=True),
        on="event_time", by="host", direction="forward", tolerance=pd.Timedelta(seconds=10))
    paired["answered"] = paired["reply"].eq(True)
    for (host, day), part in paired.groupby(["kms_host", paired["event_time"].dt.floor("D")]):
        row = daily.loc[(host, day)]
        assert row["requests"] == len(part) and row["answered"] == part["answered"].sum()
    down = daily.loc[("kms02.contoso.com", pd.Timestamp("2026-01-13", tz="UTC"))]
    assert down["not_answered"] > 20 and down["answered"] == 0
    codes = health.daily["error_codes"].map(lambda c: c.get("0xC004F06C", 0)).sum()
    assert codes == (resp["code"] == "0xC004F06C").sum()
    # count_30d equals the distinct machines answered in the 30 days to the day's end
    for day in (pd.Timestamp("2026-01-10", tz="UTC"), pd.Timestamp("2026-01-20", tz="UTC")):
        end = day + DAY
        seen = ev[(ev["event_id"] == 12290) & (ev["event_time"] < end)
                  & (ev["event_time"] >= end - 30 * DAY)]
        for host, part in seen.groupby("host"):
            assert daily.loc[(host, day), "count_30d"] == part["client_name"].nunique()


def test_host_that_stopped_answering_is_called_out():
    sim = simulate_health(150, 12, seed=6, incidents=[
        IncidentSpec("kms_host_down", 10, 13, "kms02.contoso.com")])
    health = kms_health(sim.events)
    first = health.hosts.iloc[0]
    assert first["host"] == "kms02.contoso.com" and first["status"] == "not_answering"
    assert first["stopped_answering"] and first["unanswered_since"] > 10
    assert first["last_answer"] < pd.Timestamp("2026-01-15 00:01", tz="UTC")
    assert health.messages[0].startswith("kms02: stopped answering since 2026-01-1")
    assert health.hosts.set_index("host").loc["kms01.contoso.com", "status"] == "ok"


@pytest.fixture(scope="module")
def decommissioned():
    return simulate_health(120, 120, seed=3, sites=["hq", "branch"], incidents=[
        IncidentSpec("decommission", 20, 40, "kms02.contoso.com", machines=25)])


@pytest.mark.parametrize("lead_days", [14, 16])
def test_forecast_of_the_day_the_count_falls_below(decommissioned, lead_days):
    truth = decommissioned.kms_hosts.set_index("host").loc["kms02.contoso.com", "falls_below"]
    assert pd.notna(truth)
    at = truth - pd.Timedelta(days=lead_days)
    health = kms_health(decommissioned.events, at=at)
    row = health.hosts.set_index("host").loc["kms02.contoso.com"]
    assert row["status"] == "at_risk" and row["threshold"] == 25
    assert abs(row["falls_below_on"] - truth.floor("D")) <= pd.Timedelta(days=2)
    msg = [m for m in health.messages if m.startswith("kms02:")][0]
    more = row["renewals_needed"]
    assert msg == (f"kms02: client count {row['count']} today, falls below 25 on "
                   f"{row['falls_below_on']:%Y-%m-%d} unless {more} more "
                   + ("machine renews" if more == 1 else "machines renew"))
    assert row["renewals_needed"] >= 1
    forecast = health.forecast[health.forecast["host"] == "kms02.contoso.com"]
    assert forecast["count"].is_monotonic_decreasing
    assert forecast.loc[forecast["below"], "day"].min() == row["falls_below_on"]
    # the healthy host is not forecast to fall
    assert health.hosts.set_index("host").loc["kms01.contoso.com", "status"] == "ok"


def test_count_now_matches_truth(decommissioned):
    counts = decommissioned.kms_counts
    for day in ("2026-02-20", "2026-03-10"):
        at = pd.Timestamp(day, tz="UTC")
        health = kms_health(decommissioned.events, at=at)
        true = counts[(counts["time"] == at) & (counts["host"] == "kms02.contoso.com")]["count"]
        got = health.hosts.set_index("host").loc["kms02.contoso.com", "count"]
        assert abs(int(true.iloc[0]) - got) <= 1  # a request within the last hour may differ


# -- ground truth at scale -------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_fleet():
    return simulate_health(400, 220, seed=11, sites=["hq", "plant", "depot"], incidents=[
        IncidentSpec("off_network", 10, 400, machines=8),
        IncidentSpec("site_cut_off", 15, 400, "depot"),
        IncidentSpec("decommission", 60, 90, "kms02.contoso.com", machines=40)])


def test_every_expired_machine_found_and_expiry_within_a_day(long_fleet):
    health = fleet_health(long_fleet.events)
    truth = long_fleet.devices.assign(key=long_fleet.devices["device"].str.lower())
    both = truth.merge(health, left_on="key", right_on="device", suffixes=("_true", ""))
    assert len(both) == len(health) == len(truth)
    expired = both[both["expired"]]
    assert len(expired) > 30  # the depot and the laptops away
    assert expired["status"].isin(["expired", "notification"]).all()
    assert not both.loc[~both["expired"], "status"].isin(["expired", "notification"]).any()
    with_state = both[both["license_status"].notna() & both["true_expiry"].notna()]
    error = (with_state["projected_expiry"] - with_state["true_expiry"]).abs()
    assert (error <= DAY).mean() >= 0.99
    away = both[both["away"]]
    assert len(away) == 8 and away["silent"].all()
    assert away["status"].isin(["expired", "notification"]).all()
    retired = both[both["retired"].notna()]
    assert (retired["silent_for"] > 100 * DAY).all()


def test_summary_and_files(long_fleet, tmp_path):
    devices = fleet_health(long_fleet.events)
    kms = kms_health(long_fleet.events)
    summary = health_summary(devices, kms, top_n=5)
    assert summary["by_status"] == devices["status"].astype(str).value_counts().reindex(
        STATUSES, fill_value=0).to_dict()
    first = summary["act_first"][0]
    assert first["status"] == "expired" and first["cause"] and first["resolution"]
    days = [r["days_left"] for r in summary["act_first"]]
    assert days == sorted(days)  # longest expired first
    assert summary["at_risk"] and summary["alerts"][0].startswith(
        f"{summary['by_status']['expired'] + summary['by_status']['notification']} machine(s)")
    paths = write_health(devices, kms, tmp_path)
    loaded = json.loads(paths["health.json"].read_text())
    assert len(loaded["act_first"]) == (devices["status"].isin(
        ["expired", "notification", "at_risk"])).sum()
    table = pd.read_csv(paths["health.csv"])
    assert len(table) == len(devices) and "silent_days" in table.columns


def test_assess_health_is_both_in_one_pass(decommissioned):
    from activation_kb.analysis.health import assess_health

    at = decommissioned.start + 70 * DAY
    both = assess_health(decommissioned.events, at=at)
    pd.testing.assert_frame_equal(both.devices, fleet_health(decommissioned.events, at=at))
    alone = kms_health(decommissioned.events, at=at)
    pd.testing.assert_frame_equal(both.kms.hosts, alone.hosts)
    pd.testing.assert_frame_equal(both.kms.daily, alone.daily)
    assert both.at == at and both.kms.at == at
    assert both.at_risk == [m for m in alone.messages if m.startswith("kms02")]


def test_a_new_kind_of_source_plugs_in(monkeypatch):
    """An event store (or any source) is one register_source call away."""
    from activation_kb.analysis.health import _source, register_source

    monkeypatch.setattr(_source, "_READERS", list(_source._READERS))
    frame = _tiny()

    class Store:  # stands for an event store directory
        def read(self):
            return frame

    with pytest.raises(AnalysisError, match="expected one of: events frame"):
        fleet_health(Store())
    register_source("event store", lambda s: isinstance(s, Store), lambda s, tz: s.read())
    pd.testing.assert_frame_equal(fleet_health(Store()), fleet_health(frame))
    assert kms_health(Store()).hosts["host"].tolist() == [HOST]


def test_event_store_is_a_source(tmp_path):
    from activation_kb import ingest

    events = simulate_health(150, 25, seed=8).events
    exported = tmp_path / "events.parquet"
    events.to_parquet(exported)
    store = tmp_path / "store"
    ingest(exported, store)
    from_store = fleet_health(store)
    pd.testing.assert_frame_equal(from_store, fleet_health(events))
    assert kms_health(str(store)).messages == kms_health(events).messages


def test_sentences_in_french(decommissioned, long_fleet):
    from activation_kb.analysis.health import assess_health

    at = decommissioned.kms_hosts.set_index("host").loc["kms02.contoso.com", "falls_below"] - (
        14 * DAY)
    fr = assess_health(decommissioned.events, at=at, lang="fr")
    row = fr.kms.hosts.set_index("host").loc["kms02.contoso.com"]
    more = row["renewals_needed"]
    assert fr.kms.messages[0] == (
        f"kms02 : nombre de clients {row['count']} aujourd’hui, passe sous 25 le "
        f"{row['falls_below_on']:%Y-%m-%d} sauf si {more} "
        + ("machine de plus renouvelle" if more == 1 else "machines de plus renouvellent"))
    # machines: the same assessment, the reasons in French
    fr = fleet_health(long_fleet.events, lang="fr")
    en = fleet_health(long_fleet.events)
    pd.testing.assert_frame_equal(fr.drop(columns="reason"), en.drop(columns="reason"))
    lapsed = fr["status"] == "expired"
    assert fr.loc[lapsed, "reason"].str.match(
        r"activation expirée le \d{4}-\d\d-\d\d \(il y a \d+ jours?\) ; en grâce OOT").all()
    assert en.loc[lapsed, "reason"].str.startswith("activation expired on").all()
    assert (fr["reason"] == "").equals(en["reason"] == "")
