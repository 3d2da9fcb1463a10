"""Behaviour of the fleet simulator (activation_kb.simulate): timing, incidents, background."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from activation_kb.errors import SimulationError
from activation_kb.schema import validate_events
from activation_kb.simulate import IncidentSpec, simulate_fleet

DEVICES, DAYS = 300, 30
BACKGROUND_CODES = {"0x8007232B", "0xC004F074", "0x800706BA"}


@pytest.fixture(scope="module")
def fleet():
    return simulate_fleet(DEVICES, DAYS, seed=7)


@pytest.fixture(scope="module")
def clean():
    """The default incidents on a fleet without background failures: every failure is one."""
    return simulate_fleet(DEVICES, DAYS, seed=7, background=False)


@pytest.fixture(scope="module")
def quiet():
    return simulate_fleet(600, 28, seed=3, incidents="none")


def _failed(events):
    return events["is_success"].eq(False).fillna(False)


def test_events_are_canonical_and_synthetic(fleet):
    events, truth = fleet
    validate_events(events)
    assert (events["source_format"] == "synthetic").all()
    assert (events["site"] != "").all()
    assert list(truth.columns) == [
        "incident_id", "kind", "start", "end", "scope_type", "scope", "expected_codes",
        "description",
    ]
    assert str(truth["start"].dt.tz) == "UTC"
    assert events["event_time"].is_monotonic_increasing
    # EventRecordID is unique and gap-free per machine and channel
    rid = events.groupby(["host", "channel"])["record_id"]
    assert (rid.max() == rid.size()).all()
    assert not events.duplicated(["host", "channel", "record_id"]).any()


def test_request_info_fields_filled(fleet):
    events, _ = fleet
    req = events[events["event_id"] == 12288]
    for col in ("result_code", "status_flags", "cmid", "client_time", "is_vm", "license_status",
                "minutes_to_expiry", "sku_id", "min_count"):
        assert req[col].notna().all(), col
    # a request names its KMS host unless DNS gave none (0x8007232B)
    no_host = req["kms_host"].isna()
    assert (req.loc[no_host, "code"] == "0x8007232B").all()
    assert (req["kms_port"].dropna() == 1688).all()
    assert events.loc[events["event_id"] == 8198, "trigger"].isin(["UserLogon", "TimerEvent"]).all()
    resp = events[events["event_id"] == 12289]
    for col in ("result_code", "status_flags", "kms_count", "activation_interval_min",
                "renewal_interval_min", "client_time"):
        assert resp[col].notna().all(), col
    host = events[events["event_id"] == 12290]
    assert (host["role"] == "kms_host").all()
    assert (host["channel"] == "Key Management Service").all()
    assert host["client_name"].notna().all() and host["cmid"].notna().all()
    # the client named by a 12290 is the machine that sent the matching 12288, with its CMID
    cmid_of = req.drop_duplicates("host").set_index("host")["cmid"]
    assert (host["cmid"].to_numpy() == cmid_of.reindex(host["client_name"]).to_numpy()).all()


def test_machine_kinds_and_names(fleet):
    events, _ = fleet
    hosts = events.loc[events["role"] == "client", "host"].unique()
    kinds = pd.Series(hosts).str.extract(r"-(WS|LT|SRV)\d{5}$")[0]
    assert kinds.notna().all()
    share = kinds.value_counts(normalize=True)
    assert 0.05 < share["SRV"] < 0.3 and 0.15 < share["LT"] < 0.5 and share["WS"] > 0.3
    mins = events.loc[events["event_id"] == 12288].groupby("host")["min_count"].first()
    assert (mins[mins.index.str.contains("-SRV")] == 5).all()
    assert (mins[~mins.index.str.contains("-SRV")] == 25).all()


def test_renewal_gaps_center_on_seven_days(quiet):
    events, _ = quiet
    ok = events[(events["event_id"] == 12289) & events["is_success"].fillna(False)]
    gaps = ok.sort_values("event_time").groupby("host")["event_time"].diff().dropna()
    days = gaps.dt.total_seconds() / 86400
    assert len(days) > 500
    assert 7.0 <= days.median() <= 7.6
    assert days.min() >= 6.99  # never earlier than the renewal interval
    # machines that were off when the renewal fell due renew at their next logon
    assert (days > 7.1).mean() > 0.02


def test_the_span_begins_in_steady_state():
    """Week after week the same requests and failures, from the first week on: the model ran
    BURN_IN_DAYS before the start (renewals gathered at logons, laptops at home retrying)."""
    from activation_kb.simulate import BURN_IN_DAYS

    assert BURN_IN_DAYS >= 28 and BURN_IN_DAYS % 7 == 0  # whole weeks: the same weekdays
    events, _ = simulate_fleet(2000, 42, seed=11, incidents="none")
    requests = events[events["event_id"] == 12288]
    week = (requests["event_time"] - requests["event_time"].min()).dt.days // 7
    per_week = week.value_counts().sort_index()
    failed = _failed(requests).groupby(week.to_numpy()).sum()
    assert len(per_week) == 6
    # a cold start had about three quarters of the later weeks' requests in its first week
    assert per_week.min() / per_week.max() > 0.93, per_week.tolist()
    assert 0.8 < failed.iloc[0] / failed.iloc[1:].mean() < 1.2, failed.tolist()
    # Monday mornings gather the weekend's renewals from the first Monday on
    monday = requests[(requests["event_time"].dt.day_of_week == 0)
                      & (requests["event_time"].dt.hour.between(7, 10))]
    mondays = monday.groupby(monday["event_time"].dt.normalize()).size()
    assert mondays.iloc[0] / mondays.iloc[1:].mean() > 0.85, mondays.tolist()


def test_failing_clients_retry_every_two_hours(fleet):
    events, _ = fleet
    fail = events[(events["event_id"] == 8198)].sort_values("event_time")
    gaps = fail.groupby("host")["event_time"].diff().dropna()
    hours = gaps.dt.total_seconds() / 3600
    assert len(hours) > 200
    assert abs(hours.median() - 2.0) < 0.01
    assert hours.min() >= 1.99  # never faster than the activation interval


def test_unreached_request_has_no_response(fleet):
    events, _ = fleet
    lost = events[(events["event_id"] == 12288) & events["code"].eq("0x800706BA").fillna(False)]
    assert len(lost) > 0
    # every lost request is followed by 8198 hr=0xC004F074 on the same machine, and by nothing
    # from the host: no 12289 on the client and no 12290 naming it within a minute
    key = lambda f, col: set(zip(f[col], (f["event_time"]).dt.floor("min")))  # noqa: E731
    sent = key(lost, "host")
    resp = events[events["event_id"] == 12289]
    served = events[events["event_id"] == 12290]
    assert not sent & key(resp, "host")
    assert not sent & key(served, "client_name")
    after = events[(events["event_id"] == 8198) & events["code"].eq("0xC004F074").fillna(False)]
    assert sent <= key(after, "host")


def test_kms_count_capped_at_50(fleet):
    events, _ = fleet
    counts = events["kms_count"].dropna()
    assert counts.max() == 50 and counts.min() >= 0


def test_count_low_site_until_threshold(fleet):
    events, truth = fleet
    inc = truth[truth["kind"] == "kms_count_low"].iloc[0]
    site = events[(events["site"] == inc.scope) & (events["event_id"] == 12289)]
    inside = site[site["event_time"] < inc.end]
    assert inside["kms_count"].max() < 25  # a new site of fewer than 25 machines
    clients = inside[~inside["host"].str.contains("-SRV")]
    servers = inside[inside["host"].str.contains("-SRV")]
    assert (clients["code"] == "0xC004F038").all()
    # servers (threshold 5) activate once five machines have asked
    assert (servers.loc[servers["kms_count"] >= 5, "code"] == "0x00000000").all()
    assert (servers.loc[servers["kms_count"] < 5, "code"] == "0xC004F038").all()


def _inside(events, row):
    """Records in the incident's scope and window (clients of a KMS host included)."""
    window = (events["event_time"] >= row.start) & (
        events["event_time"] < row.end + pd.Timedelta(minutes=1)
    )
    if row.scope_type == "site":
        scope = events["site"] == row.scope
    elif row.scope_type == "kms_host":
        to_host = events["kms_host"].eq(row.scope).fillna(False)
        clients = set(events.loc[window & to_host, "host"])  # requests sent to it in the window
        scope = to_host | (events["host"] == row.scope) | events["host"].isin(clients)
    else:
        scope = events["client_name"].fillna(events["host"]).isin(row.scope.split(","))
    return scope & window


def test_each_incident_codes_inside_scope_and_window_only(clean):
    events, truth = clean
    assert len(truth) == 7
    failed = _failed(events)
    explained = pd.Series(False, index=events.index)
    for row in truth.itertuples():
        has = events["code"].isin(row.expected_codes).fillna(False)
        inside = _inside(events, row)
        assert (has & inside).sum() >= 10, row.kind
        for code in row.expected_codes:  # every expected code shows up
            assert (events["code"].eq(code).fillna(False) & inside).any(), (row.kind, code)
        others = {c for r in truth.itertuples() if r is not row for c in r.expected_codes}
        own = events["code"].isin(set(row.expected_codes) - others).fillna(False)
        assert (own & ~inside).sum() == 0, row.kind
        explained |= has & inside
    # without background every failure belongs to an incident whose codes it carries
    assert (failed & ~explained).sum() == 0


def test_recovery_at_next_attempt_after_fix(clean):
    events, truth = clean
    for row in truth.itertuples():
        fails = events[
            _failed(events) & events["code"].isin(row.expected_codes).fillna(False)
            & _inside(events, row)
        ]
        assert fails["event_time"].max() < row.end + pd.Timedelta(minutes=1), row.kind
        if row.kind in ("mak_exhausted", "no_client_key"):
            continue  # no KMS response to look for
        # the machines that failed are activated by a later attempt
        machines = set(fails["host"])
        ok = events[(events["event_id"] == 12289) & events["is_success"].fillna(False)
                    & (events["event_time"] >= row.end) & events["host"].isin(machines)]
        assert len(set(ok["host"])) >= 0.5 * len(machines), row.kind


def test_background_failures_come_from_laptops_off_network(quiet):
    events, truth = quiet
    assert len(truth) == 0
    fail = events[(events["event_id"] == 8198)]
    assert set(fail["code"]) <= {"0x8007232B", "0xC004F074"}
    laptop = fail["host"].str.contains("-LT")
    assert laptop.mean() > 0.97  # the rest: transient network faults on other machines
    # off-network attempts fail while at home: laptops retry at home and succeed at the office
    per_day = fail.groupby(fail["event_time"].dt.floor("D")).size()
    assert per_day.max() > 0


def test_quiet_fleet_has_no_error_bursts(quiet, fleet):
    events, _ = quiet
    failing = events[_failed(events) & (events["role"] == "client")]
    per_hour = failing.groupby(failing["event_time"].dt.floor("h"))["host"].nunique()
    devices = events["host"].nunique()
    assert per_hour.max() < 0.03 * devices
    # the default incidents do burst above that bound (so this check can fail)
    ev, _ = fleet
    inc = ev[_failed(ev) & (ev["role"] == "client")]
    inc_hour = inc.groupby(inc["event_time"].dt.floor("h"))["host"].nunique()
    assert inc_hour.max() > 0.03 * ev["host"].nunique()


def test_deterministic_for_a_seed():
    a, ta = simulate_fleet(80, 10, seed=11)
    b, tb = simulate_fleet(80, 10, seed=11)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ta, tb)
    c, _ = simulate_fleet(80, 10, seed=12)
    assert not a.equals(c)


def test_custom_incident_spec_and_dict():
    spec = IncidentSpec("kms_host_down", 2.0, 3.0, "kms01.contoso.com")
    events, truth = simulate_fleet(
        120, 6, seed=2, background=False,
        incidents=[spec, {"kind": "dns_srv_missing", "start": 4, "end": 4.5, "scope": "lyon"}],
    )
    assert list(truth["kind"]) == ["kms_host_down", "dns_srv_missing"]
    assert truth["start"].iloc[0] == pd.Timestamp("2026-01-07", tz="UTC")
    codes = set(events["code"].dropna())
    assert {"0xC004F074", "0x800706BA", "0x8007232B"} <= codes


def test_start_not_at_midnight_and_weekday_logons():
    events, _ = simulate_fleet(200, 7, seed=4, start="2026-03-04 15:30", incidents="none")
    assert events["event_time"].min() >= pd.Timestamp("2026-03-04 15:30", tz="UTC")
    assert events["event_time"].max() < pd.Timestamp("2026-03-11 15:30", tz="UTC")
    desk = events[events["host"].str.contains("-WS") & (events["event_id"] == 12288)]
    # desktops are switched off at night unless left on: most requests fall in working hours
    hours = desk["event_time"].dt.hour
    assert ((hours >= 7) & (hours < 20)).mean() > 0.7


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(devices=0),
        dict(days=0),
        dict(incidents=[{"kind": "meteor", "start": 1, "end": 2}]),
        dict(incidents=[{"kind": "dns_srv_missing", "start": 1, "end": 2, "scope": "atlantis"}]),
        dict(incidents=[{"kind": "dns_srv_missing", "start": 2, "end": 1, "scope": "lyon"}]),
        dict(kms_hosts=[]),
    ],
)
def test_bad_arguments_raise(kwargs):
    args = dict(devices=50, days=3) | kwargs
    with pytest.raises(SimulationError):
        simulate_fleet(**args)


def test_cli_parquet_and_bad_options(tmp_path):
    from activation_kb.cli import cli

    runner = CliRunner()
    out = tmp_path / "sim"
    res = runner.invoke(
        cli, ["simulate", "--devices", "60", "--days", "5", "--seed", "1", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert (out / "events.parquet").is_file()
    truth = json.loads((out / "incidents.json").read_text())
    assert len(truth) == 7 and "expected_codes" in truth[0]
    bad = [
        ["simulate", "--devices", "0", "--out", str(out)],
        ["simulate", "--format", "pdf", "--out", str(out)],
        ["simulate", "--incidents", str(tmp_path / "nope.json"), "--devices", "5",
         "--out", str(out)],
        ["simulate", "--start", "not-a-date", "--out", str(out)],
    ]
    for args in bad:
        res = runner.invoke(cli, args)
        assert res.exit_code == 2, (args, res.output)
        assert "Traceback" not in res.output


def test_cli_xml_one_file_per_machine(tmp_path):
    from activation_kb.cli import cli
    from activation_kb.telemetry import load_events

    out = tmp_path / "x"
    res = CliRunner().invoke(
        cli,
        ["simulate", "--devices", "20", "--days", "3", "--incidents", "none", "--format", "xml",
         "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    files = sorted((out / "events").glob("*.xml"))
    names = {f.stem for f in files}
    assert {"kms01.contoso.com", "kms02.contoso.com"} <= names  # one file per KMS host
    assert len(names) >= 12  # and one per machine that logged
    assert (out / "incidents.json").read_text().strip() == "[]"
    loaded = load_events(out / "events")
    assert loaded.records == loaded.loaded > 0 and loaded.duplicates == 0


def test_xml_roundtrip_for_one_machine_and_its_host(tmp_path):
    from activation_kb.telemetry import load_events, write_events

    events, _ = simulate_fleet(60, 8, seed=5)
    failing = events.loc[_failed(events) & (events["event_id"] == 12288), "host"].iloc[0]
    for name in (failing, "kms01.contoso.com"):
        frame = events[events["host"] == name].reset_index(drop=True)
        path = tmp_path / f"{name}.xml"
        write_events(frame, path, format="xml")
        back = load_events([path]).events
        skip = {"raw", "message", "source_format", "source_file", "source_record", "site"}
        cols = [c for c in frame.columns if c not in skip]
        pd.testing.assert_frame_equal(back[cols].reset_index(drop=True), frame[cols])
