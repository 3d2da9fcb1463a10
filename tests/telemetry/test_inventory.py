"""Inventory snapshots (SoftwareLicensingProduct CSV exports): reading, accounting, combining."""

from __future__ import annotations

import csv
import io
import os

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import TEST_DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation_kb import schema as S
from activation_kb.analysis.health import fleet_health
from activation_kb.cli import cli
from activation_kb.errors import TelemetryError
from activation_kb.telemetry.inventory import (
    INVENTORY_COLUMNS,
    OFFICE_APP_IDS,
    WINDOWS_APP_ID,
    load_inventory,
    match_devices,
)

D = TEST_DATA / "inventory"


def _data_rows(path) -> int:
    """Data rows of a fixture, counted from its text (no quoted line breaks in these files)."""
    raw = path.read_bytes()
    text = raw[2:].decode("utf-16-le") if raw.startswith(b"\xff\xfe") else raw.decode("utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return len(lines) - 1  # the header


@pytest.mark.parametrize("name", sorted(p.name for p in D.glob("*.csv")
                                        if not p.name.startswith(("localized", "missing"))))
def test_every_row_is_kept_skipped_or_rejected(name):
    result = load_inventory(D / name)
    assert result.records == _data_rows(D / name)
    assert result.records == len(result.inventory) + len(result.skipped) + len(result.rejected)
    assert list(result.inventory.columns) == list(INVENTORY_COLUMNS)
    assert result.files[0]["kept"] == len(result.inventory)


def test_powershell_export():
    result = load_inventory(D / "cim_export_ps51.csv")
    inv = result.inventory.set_index(["device", "product"])
    assert sorted(inv.index) == [("BERLIN-SRV00003", "windows"), ("LYON-LT00002", "windows"),
                                 ("PARIS-WS00001", "office"), ("PARIS-WS00001", "windows")]
    paris = inv.loc[("PARIS-WS00001", "windows")]
    assert (paris["license_status"], paris["license_state"], paris["grace_minutes"]) == (
        1, "Licensed", 250000)
    # the registered KMS host is empty: the one discovered in DNS is used
    assert paris["kms_host"] == "kms01.contoso.com" and paris["partial_key"] == "2YT43"
    assert paris["taken_at"] == pd.Timestamp("2026-03-01 12:00", tz="UTC")  # TrustedTime
    office = inv.loc[("PARIS-WS00001", "office")]
    assert office["application_id"] == OFFICE_APP_IDS[0] and office["kms_host"] == (
        "kms01.contoso.com")  # the port is dropped
    assert inv.loc[("LYON-LT00002", "windows"), "license_state"] == "OOT grace"
    reasons = result.skipped["reason"].value_counts().to_dict()
    assert reasons == {"no product key installed": 3, "neither Windows nor Office": 1}


def test_variants_give_the_same_rows():
    base = load_inventory(D / "cim_export_ps51.csv").inventory
    cols = ["device", "product", "license_status", "grace_minutes", "partial_key"]
    utf16 = load_inventory(D / "cim_export_useculture_utf16.csv").inventory
    pd.testing.assert_frame_equal(utf16[cols], base[cols].head(2))
    cm = load_inventory(D / "configmgr_v_gs_software_licensing_product.csv").inventory
    pd.testing.assert_frame_equal(cm[cols], base[cols])
    assert (cm["taken_at"] == pd.Timestamp("2026-03-02 06:15", tz="UTC")).all()
    assert (cm["application_id"].isin([WINDOWS_APP_ID, *OFFICE_APP_IDS])).all()


@pytest.mark.parametrize("name, missing", [
    ("localized_headers_de.csv", ["LicenseStatus", "GracePeriodRemaining", "PartialProductKey"]),
    ("missing_grace_period.csv", ["GracePeriodRemaining"]),
])
def test_missing_or_translated_columns_are_named(name, missing):
    with pytest.raises(TelemetryError) as info:
        load_inventory(D / name)
    text = str(info.value)
    assert name in text and "found columns:" in text
    for column in missing:
        assert column in text.split("found columns:")[0]
    if name.startswith("localized"):
        assert "Lizenzstatus" in text.split("found columns:")[1]


def test_damaged_values_rejected_with_line_and_reason():
    result = load_inventory(D / "damaged_values.csv")
    rejected = result.rejected.set_index("source_line")["reason"]
    assert list(rejected.index) == [4, 5, 6]  # line 1 is #TYPE, line 2 the header
    assert "LicenseStatus '9'" in rejected[4] and "GracePeriodRemaining 'soon'" in rejected[5]
    assert "no machine name" in rejected[6]
    assert list(result.inventory["source_line"]) == [3, 7]


def _write(tmp_path, header, rows, name="inv.csv"):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_snapshot_time_from_column_parameter_or_file(tmp_path):
    header = ["ComputerName", "ApplicationID", "PartialProductKey", "LicenseStatus",
              "GracePeriodRemaining", "CollectedAt"]
    path = _write(tmp_path, header, [
        ["pc1", WINDOWS_APP_ID, "AAAAA", "Licensed", "1000", "20260301120000.000000+060"],
        ["pc2", WINDOWS_APP_ID, "AAAAA", "OOTGrace", "10", ""],
        ["pc3", WINDOWS_APP_ID, "AAAAA", "1", "10", "last tuesday"],
    ])
    os.utime(path, (1772000000, 1772000000))
    result = load_inventory(path)
    inv = result.inventory.set_index("device")
    assert inv.loc["pc1", "taken_at"] == pd.Timestamp("2026-03-01 11:00", tz="UTC")  # CIM time
    assert inv.loc["pc2", "taken_at"] == pd.Timestamp(1772000000, unit="s", tz="UTC")
    assert (inv.loc["pc2", "taken_from"], inv.loc["pc2", "license_status"]) == ("file time", 3)
    assert "'last tuesday' is not a date" in result.rejected.loc[0, "reason"]
    given_time = load_inventory(path, taken_at="2026-02-01 08:00", tz="Europe/Paris").inventory
    assert given_time.set_index("device").loc["pc2", "taken_at"] == pd.Timestamp(
        "2026-02-01 07:00", tz="UTC")


def test_paths_directories_and_globs(tmp_path):
    folder = tmp_path / "snapshots"
    folder.mkdir()
    for name in ("cim_export_ps51.csv", "damaged_values.csv"):
        (folder / name).write_bytes((D / name).read_bytes())
    assert load_inventory(folder).records == 8 + 5
    with pytest.raises(TelemetryError, match="localized_headers_de.csv"):
        load_inventory(D)  # one unreadable file in a folder is named, not skipped
    two = load_inventory(str(D / "cim_export_*.csv"))
    assert len(two.files) == 2 and len(two.inventory) == 6
    with pytest.raises(TelemetryError, match="does not exist"):
        load_inventory(tmp_path / "nope.csv")
    with pytest.raises(TelemetryError, match="no inventory file matches"):
        load_inventory(str(tmp_path / "*.csv"))
    (tmp_path / "empty.csv").write_text("#TYPE x\n\n", encoding="utf-8")
    with pytest.raises(TelemetryError, match="empty inventory file"):
        load_inventory(tmp_path / "empty.csv")


_apps = st.sampled_from([WINDOWS_APP_ID, OFFICE_APP_IDS[0], "12345678-0000-0000-0000-000000000000"])
_states = st.sampled_from(["0", "1", "2", "3", "5", "6", "Licensed", "7", "", "x"])
_grace = st.sampled_from(["0", "43200", "259200", "-5", "", "1e3"])
_keys = st.sampled_from(["", "2YT43"])
_names = st.sampled_from(["pc1", "pc2.contoso.com", ""])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_names, _apps, _keys, _states, _grace), max_size=25))
def test_accounting_holds_for_any_rows(tmp_path, rows):
    header = ["PSComputerName", "ApplicationID", "PartialProductKey", "LicenseStatus",
              "GracePeriodRemaining"]
    path = _write(tmp_path, header, [list(r) for r in rows], name="prop.csv")
    result = load_inventory(path, taken_at="2026-03-01")
    assert result.records == len(rows)
    counted = [r for r in rows if r[1] != "12345678-0000-0000-0000-000000000000" and r[2]]
    assert len(result.skipped) == len(rows) - len(counted)
    good = [r for r in counted if r[0] and r[4].isdigit() and (
        r[3] in {"0", "1", "2", "3", "5", "6", "Licensed"})]
    assert len(result.inventory) == len(good)
    assert len(result.rejected) == len(counted) - len(good)
    assert result.rejected["reason"].str.len().gt(10).all()


def test_match_devices_by_cmid_full_and_short_name():
    names = ["pc1.contoso.com", "pc1.fabrikam.com", "pc2.contoso.com"]
    cmids = ["c-1", "c-2", ""]
    inv = pd.DataFrame({"device": ["PC1", "pc1.fabrikam.com", "PC2", "pc9"],
                        "cmid": ["c-1", "", "", ""]})
    assert list(match_devices(inv, names, cmids)) == [0, 1, 2, -1]


# -- combined with events -----------------------------------------------------------------

AT = pd.Timestamp("2026-03-01 12:00", tz="UTC")


def _events(rows):
    frame = pd.DataFrame(rows)
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return S.coerce_events(frame)


@pytest.fixture()
def records():
    """PARIS-WS00001 renewed on Feb 20; LYON-LT00002 renewed on Mar 1 (after the snapshot)."""
    rows = []
    for host, when in (("PARIS-WS00001.contoso.com", "2026-02-20 09:00"),
                       ("LYON-LT00002.contoso.com", "2026-03-01 18:00")):
        rows.append(dict(event_time=when, host=host, role="client", event_id=12289,
                         event_kind="kms_response", result_code=0, is_success=True, kms_count=40))
        rows.append(dict(event_time=pd.Timestamp(when) - pd.Timedelta(seconds=1), host=host,
                         role="client", event_id=12288, event_kind="kms_request", result_code=0,
                         is_success=True, kms_host="kms01.contoso.com", license_status=1,
                         minutes_to_expiry=200000, min_count=25))
    return _events(rows)


def test_newer_fact_wins_and_its_source_is_shown(records):
    health = fleet_health(records, inventory=D / "cim_export_ps51.csv").set_index("device")
    # Paris: the snapshot (Mar 1 12:00, 250000 minutes) is newer than its renewal (Feb 20)
    paris = health.loc["paris-ws00001.contoso.com"]
    assert paris["state_source"] == f"inventory {D / 'cim_export_ps51.csv'}"
    assert paris["projected_expiry"] == AT + pd.Timedelta(minutes=250000)
    # Lyon renewed after the snapshot (which said OOT grace): the records win
    lyon = health.loc["lyon-lt00002.contoso.com"]
    assert lyon["state_source"] == "events" and lyon["status"] == "ok"
    assert lyon["projected_expiry"] == pd.Timestamp("2026-03-01 18:00", tz="UTC") + pd.Timedelta(
        days=180)
    # a machine only the inventory knows; MAK (no grace period left to count): no expiry
    berlin = health.loc["berlin-srv00003"]
    assert berlin["status"] == "ok" and pd.isna(berlin["projected_expiry"])
    assert pd.isna(berlin["last_attempt"]) and berlin["last_record"] == AT
    # Office rows are not mixed into the Windows state, and the product column says so
    assert (health["product"] == "windows").all() and len(health) == 3


def test_older_inventory_does_not_override(records, tmp_path):
    header = ["PSComputerName", "ApplicationID", "PartialProductKey", "LicenseStatus",
              "GracePeriodRemaining", "TimeStamp"]
    path = _write(tmp_path, header, [
        ["PARIS-WS00001", WINDOWS_APP_ID, "2YT43", "5", "0", "2026-02-01 00:00"]])
    health = fleet_health(records, inventory=path).set_index("device")
    assert health.loc["paris-ws00001.contoso.com", "state_source"] == "events"
    assert health.loc["paris-ws00001.contoso.com", "status"] == "ok"
    only = fleet_health(None, inventory=path, at="2026-03-01")
    assert list(only["status"]) == ["notification"] and only["state_source"].iloc[0].startswith(
        "inventory")


def test_cli_inventory_with_a_missing_column_exits_2(records, tmp_path):
    events = tmp_path / "events.parquet"
    records.to_parquet(events)
    res = CliRunner().invoke(cli, ["health", str(events), "--inventory",
                                   str(D / "missing_grace_period.csv")])
    assert res.exit_code == 2, res.output
    assert "GracePeriodRemaining" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["health", str(events), "--inventory",
                                   str(D / "cim_export_ps51.csv"), "--json"])
    assert res.exit_code == 0, res.output
    assert '"devices": 3' in res.output
