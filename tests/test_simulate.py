"""Behaviour of the fleet simulator (activation_kb.simulate)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from activation_kb.errors import SimulationError
from activation_kb.schema import validate_events
from activation_kb.simulate import IncidentSpec, simulate_fleet

DEVICES, DAYS = 300, 30


@pytest.fixture(scope="module")
def fleet():
    return simulate_fleet(DEVICES, DAYS, seed=7)


@pytest.fixture(scope="module")
def quiet():
    return simulate_fleet(250, 21, seed=3, incidents="none")


def test_events_are_canonical_and_synthetic(fleet):
    events, truth = fleet
    validate_events(events)
    assert (events["source_format"] == "synthetic").all()
    assert (events["site"] != "").all()
    assert list(truth.columns) == [
        "incident_id",
        "kind",
        "start",
        "end",
        "scope_type",
        "scope",
        "expected_codes",
        "description",
    ]
    assert str(truth["start"].dt.tz) == "UTC"


def test_request_info_fields_filled(fleet):
    events, _ = fleet
    req = events[events["event_id"] == 12288]
    for col in (
        "result_code",
        "status_flags",
        "cmid",
        "client_time",
        "is_vm",
        "license_status",
        "minutes_to_expiry",
        "sku_id",
        "min_count",
    ):
        assert req[col].notna().all(), col
    assert (
        events.loc[events["event_id"] == 8198, "trigger"].isin(["UserLogon", "TimerEvent"])
    ).all()
    resp = events[events["event_id"] == 12289]
    for col in (
        "result_code",
        "status_flags",
        "kms_count",
        "activation_interval_min",
        "renewal_interval_min",
        "client_time",
    ):
        assert resp[col].notna().all(), col
    assert (req["kms_port"].dropna() == 1688).all()
    assert req["kms_host"].notna().mean() > 0.9  # empty only when DNS found no host
    hosts = events[events["event_id"] == 12290]
    assert (hosts["role"] == "kms_host").all()
    assert (hosts["channel"] == "Key Management Service").all()


def test_renewal_gaps_center_on_seven_days(quiet):
    events, _ = quiet
    ok = events[(events["event_id"] == 12289) & (events["result_code"] == 0).fillna(False)]
    gaps = ok.sort_values("event_time").groupby("host")["event_time"].diff().dropna()
    days = gaps.dt.total_seconds() / 86400
    assert len(days) > 100
    assert 6.9 <= days.median() <= 7.5
    assert days.min() >= 6.99


def test_failing_clients_retry_every_two_hours(fleet):
    events, _ = fleet
    fail = events[(events["event_id"] == 12288) & (events["result_code"] != 0).fillna(False)]
    gaps = fail.sort_values("event_time").groupby("host")["event_time"].diff().dropna()
    hours = gaps.dt.total_seconds() / 3600
    assert len(hours) > 50
    assert abs(hours.median() - 2.0) < 0.05
    assert hours.min() >= 1.99


def test_unreached_request_has_no_response(fleet):
    events, _ = fleet
    down = events[(events["event_id"] == 12288) & (events["code"] == "0xC004F074").fillna(False)]
    assert len(down) > 0
    hosts = set(down["host"])
    times = set(zip(down["host"], down["event_time"].dt.floor("s")))
    resp = events[(events["event_id"] == 12289) & events["host"].isin(hosts)]
    assert not times & set(
        zip(resp["host"], (resp["event_time"] - pd.Timedelta(seconds=1)).dt.floor("s"))
    )


def test_kms_count_capped_at_50(fleet):
    events, _ = fleet
    assert events["kms_count"].max() <= 50
    assert events["kms_count"].max() == 50


def _scope_mask(events, row):
    if row.scope_type == "site":
        return events["site"] == row.scope
    if row.scope_type == "kms_host":
        return (events["kms_host"] == row.scope).fillna(False) | (events["host"] == row.scope)
    # 12290 events live on the KMS host and name the client in their message
    client = events["message"].str.extract(r"Client: (\S+)", expand=False).fillna(events["host"])
    return client.isin(row.scope.split(","))


def test_each_incident_codes_inside_scope_and_window_only(fleet):
    events, truth = fleet
    assert len(truth) == 7
    for row in truth.itertuples():
        has = events["code"].isin(row.expected_codes).fillna(False)
        assert has.sum() > 0, row.kind
        inside = (
            _scope_mask(events, row)
            & (events["event_time"] >= row.start)
            & (events["event_time"] <= row.end + pd.Timedelta(minutes=1))
        )
        # kms_host_down: clients of that host log it; their site is served by that host
        if row.scope_type == "kms_host":
            clients = set(
                events.loc[
                    has & (events["event_time"] >= row.start) & (events["event_time"] <= row.end),
                    "host",
                ]
            )
            inside = inside | (
                events["host"].isin(clients)
                & (events["event_time"] >= row.start)
                & (events["event_time"] <= row.end + pd.Timedelta(minutes=1))
            )
        assert (has & ~inside).sum() == 0, row.kind


def test_quiet_fleet_has_no_error_bursts(quiet):
    events, truth = quiet
    assert len(truth) == 0
    failed = events["is_success"].eq(False).fillna(False)
    assert failed.sum() == 0
    hourly = events[events["event_id"] == 12288].set_index("event_time").resample("h").size()
    assert hourly.max() < 0.3 * 250  # Monday-morning logons bunch up, but no storm


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
        120,
        6,
        seed=2,
        incidents=[spec, {"kind": "dns_srv_missing", "start": 4, "end": 4.5, "scope": "lyon"}],
    )
    assert list(truth["kind"]) == ["kms_host_down", "dns_srv_missing"]
    assert truth["start"].iloc[0] == pd.Timestamp("2026-01-07", tz="UTC")
    codes = set(events["code"].dropna())
    assert "0xC004F074" in codes and "0x8007232B" in codes


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(devices=0),
        dict(days=0),
        dict(incidents=[{"kind": "meteor", "start": 1, "end": 2}]),
        dict(incidents=[{"kind": "dns_srv_missing", "start": 1, "end": 2, "scope": "atlantis"}]),
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
    assert runner.invoke(cli, ["simulate", "--devices", "0", "--out", str(out)]).exit_code == 2
    assert runner.invoke(cli, ["simulate", "--format", "pdf", "--out", str(out)]).exit_code == 2
    assert (
        runner.invoke(
            cli,
            [
                "simulate",
                "--incidents",
                str(tmp_path / "nope.json"),
                "--devices",
                "5",
                "--out",
                str(out),
            ],
        ).exit_code
        == 2
    )


def test_cli_xml_one_file_per_machine(tmp_path):
    pytest.importorskip("activation_kb.telemetry")
    from activation_kb.cli import cli

    out = tmp_path / "x"
    res = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--devices",
            "20",
            "--days",
            "3",
            "--incidents",
            "none",
            "--format",
            "xml",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    files = sorted((out / "events").glob("*.xml"))
    names = {f.stem for f in files}
    assert {"kms01.contoso.com", "kms02.contoso.com"} <= names  # one file per KMS host
    assert len(names) >= 12  # and one per machine that logged
    assert (out / "incidents.json").read_text().strip() == "[]"


def test_xml_roundtrip_for_one_machine(tmp_path):
    telemetry = pytest.importorskip("activation_kb.telemetry")
    events, _ = simulate_fleet(60, 8, seed=5)
    failing = events.loc[events["code"].fillna("0x00000000") != "0x00000000", "host"].iloc[0]
    frame = events[events["host"] == failing].reset_index(drop=True)
    path = tmp_path / "m.xml"
    telemetry.write_events(frame, path, format="xml")
    back = telemetry.load_events([path]).events
    skip = {"raw", "message", "source_format", "source_file", "source_record", "site"}
    cols = [c for c in frame.columns if c not in skip]
    pd.testing.assert_frame_equal(back[cols].reset_index(drop=True), frame[cols], check_dtype=True)
