"""Tests for the CSV and JSON exports: Get-WinEvent/Get-EventLog/Event Viewer CSV, Log Analytics
Event and WindowsEvent tables, and format sniffing (evtx_dump JSON: test_telemetry_evtx.py)."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from conftest import TEST_DATA
from test_telemetry_load import balanced

from activation_kb.errors import TelemetryError
from activation_kb.telemetry import load_events
from activation_kb.telemetry._formats import sniff
from activation_kb.telemetry._source import Source

D = TEST_DATA / "telemetry"
CMID = "36f27b39-2fd5-440b-be67-a09996d27a38"
SKU = "68531fb9-5511-4989-97be-d11a0f55633f"
APP = "55c92734-d682-4d71-983e-d6ec3f16059f"
TYPE_LINE = "#TYPE System.Diagnostics.Eventing.Reader.EventLogRecord"


def winevent_rows():
    """Header and rows of the Get-WinEvent fixture (en-US times)."""
    text = (D / "synthetic_winevent_utf8bom_comma.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text.split("\n", 1)[1], newline="")))
    return rows[0], rows[1:]


def write_csv(path, header, rows, delimiter, encoding, type_line):
    buf = io.StringIO()
    if type_line:
        buf.write(TYPE_LINE + "\r\n")
    csv.writer(buf, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(
        [header, *rows])
    bom = {"utf-8-sig": b"\xef\xbb\xbf", "utf-16-le": b"\xff\xfe"}.get(encoding, b"")
    path.write_bytes(bom + buf.getvalue().encode(encoding.replace("-sig", "")))
    return path


# ---- Get-WinEvent | Export-Csv --------------------------------------------------------------


def test_winevent_fields_from_message():
    r = balanced(load_events(D / "synthetic_winevent_utf8bom_comma.csv", tz="Europe/Paris"))
    ev = r.events.set_index("event_id")
    assert list(r.events["event_kind"].astype(str)) == [
        "kms_request", "kms_response", "activation_failure", "vl_failure", "status_check"]
    assert ev.loc[12288, "event_time"] == pd.Timestamp("2024-03-01 08:00", tz="UTC")  # CET
    assert ev.loc[12288, "code"] == "0xC004F074" and ev.loc[12288, "min_count"] == 25
    assert (ev.loc[12288, "kms_host"], ev.loc[12288, "kms_port"]) == ("kms01.contoso.com", 1688)
    assert ev.loc[12288, "cmid"] == CMID and ev.loc[12288, "record_id"] == 501
    assert ev.loc[12289, "is_success"] and ev.loc[12289, "kms_count"] == 30
    assert (ev.loc[8198, "code"], ev.loc[8198, "trigger"], ev.loc[8198, "level"]) == (
        "0x8007232B", "TimerEvent", "error")
    assert ev.loc[8198, "event_time"] == pd.Timestamp("2024-03-13 13:30", tz="UTC")  # 2:30 PM
    assert (ev.loc[8233, "code"], ev.loc[8233, "trigger"], ev.loc[8233, "level"]) == (
        "0xC004F038", "NetworkAvailable", "warning")
    assert ev.loc[1003, "app_id"] == APP
    assert ev.loc[12288, "message"].startswith("The client has sent an activation request")
    assert (r.events["channel"] == "Application").all()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "utf-16-le"])
@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("type_line", [True, False])
def test_winevent_every_encoding_and_delimiter(tmp_path, encoding, delimiter, type_line):
    header, rows = winevent_rows()
    path = write_csv(tmp_path / "x.csv", header, rows, delimiter, encoding, type_line)
    expected = load_events(D / "synthetic_winevent_utf8bom_comma.csv", tz="Europe/Paris").events
    got = balanced(load_events(path, tz="Europe/Paris")).events
    pd.testing.assert_frame_equal(got.drop(columns="source_file"),
                                  expected.drop(columns="source_file"))


def test_committed_culture_variants_agree():
    """fr-FR day-first times (13/03/2024) and en-US 12-hour times give the same events."""
    frames = [balanced(load_events(D / name, tz="Europe/Paris")).events.drop(columns="source_file")
              for name in ("synthetic_winevent_utf8bom_comma.csv",
                           "synthetic_winevent_utf8_semicolon.csv",
                           "synthetic_winevent_utf16le_semicolon.csv")]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])


def test_local_times_need_tz():
    with pytest.raises(TelemetryError, match=r"synthetic_winevent_utf8_semicolon.csv: .*local "
                                             r"times without an offset; pass tz="):
        load_events(D / "synthetic_winevent_utf8_semicolon.csv")


def test_daylight_saving_changes(tmp_path):
    header, rows = winevent_rows()
    t = header.index("TimeCreated")
    times = {"3/31/2024 3:30:00 AM": "2024-03-31 01:30",   # summer time (+2)
             "3/31/2024 2:30:00 AM": "2024-03-31 01:00",   # skipped hour: moved to 03:00
             "10/27/2024 2:30:00 AM": "2024-10-27 00:30",  # repeated hour: the first (+2)
             "10/27/2024 3:30:00 AM": "2024-10-27 02:30"}  # winter time (+1)
    made = [row[:t] + [local] + row[t + 1:] for row, local in zip(rows, times)]
    path = write_csv(tmp_path / "dst.csv", header, made, ",", "utf-8", False)
    ev = balanced(load_events(path, tz="Europe/Paris")).events.sort_values("source_record")
    assert list(ev["event_time"]) == [pd.Timestamp(v, tz="UTC") for v in times.values()]


def test_bad_rows_rejected_with_line_numbers(tmp_path):
    header, rows = winevent_rows()
    t, i = header.index("TimeCreated"), header.index("Id")
    rows[1][t] = "not a date"
    rows[2][i] = "x1"
    rows[3] = rows[3][:5]
    path = write_csv(tmp_path / "bad.csv", header, rows, ",", "utf-8", True)
    r = balanced(load_events(path, tz="UTC"))
    reasons = dict(zip(r.rejected["source_record"], r.rejected["reason"]))
    assert sorted(reasons) == [2, 3, 4]
    assert reasons[2].startswith("time 'not a date' is not a valid time")
    assert reasons[3].startswith("EventID 'x1' is not an event number")
    # #TYPE, header, then records of 3, 3 and 4 lines (multi-line messages): record 4 is on 13
    assert reasons[4].startswith("line 13: 5 fields, expected 27")
    with pytest.raises(TelemetryError, match=r"bad.csv: record 2: time 'not a date'"):
        load_events(path, tz="UTC", on_error="raise")


def test_get_eventlog_instance_ids_masked():
    r = balanced(load_events(D / "synthetic_eventlog.csv", tz="America/New_York"))
    ev = r.events
    assert list(ev["event_id"]) == [12290, 12293, 12294]
    assert list(ev["event_kind"].astype(str)) == [
        "kms_host_request", "dns_publish_fail", "dns_publish_ok"]
    assert (ev["role"] == "kms_host").all() and list(ev["record_id"]) == [77, 78, 79]
    host = ev.iloc[0]  # Info from the message: 9 fields, rendered without Data[0]
    assert (host["code"], host["min_count"], host["cmid"]) == ("0xC004F06C", 5, CMID)
    assert (host["license_status"], host["minutes_to_expiry"], host["sku_id"]) == (2, 41520, SKU)
    assert host["client_time"] == pd.Timestamp("2024-03-01 09:00")
    assert host["event_time"] == pd.Timestamp("2024-03-01 14:00", tz="UTC")  # EST
    assert (ev.iloc[1]["code"], ev.iloc[1]["level"]) == ("0x80072338", "error")
    assert ev.iloc[2]["is_success"]


def test_event_viewer_csv_host_from_file_name():
    r = balanced(load_events(D / "synthetic_eventviewer_pc7.csv", tz="Europe/Paris"))
    ev = r.events
    assert set(ev["host"]) == {"synthetic_eventviewer_pc7"}
    assert list(ev["event_kind"].astype(str)) == [
        "kms_request", "kms_response", "activation_failure"]
    assert ev["record_id"].isna().all() and set(ev["provider"]) == {"Security-SPP"}
    assert ev.iloc[0]["code"] == "0xC004F074" and ev.iloc[2]["code"] == "0x8007232B"


# ---- Log Analytics ---------------------------------------------------------------------------


def test_la_event_csv_and_json():
    csv_ = balanced(load_events(D / "synthetic_la_event.csv")).events
    json_ = balanced(load_events(D / "synthetic_la_event.json")).events
    pd.testing.assert_frame_equal(csv_.drop(columns="source_file"),
                                  json_.drop(columns="source_file"))
    assert list(csv_["event_time"]) == [pd.Timestamp(t, tz="UTC") for t in (
        "2024-03-01 08:00:00.123", "2024-03-01 08:05", "2024-03-01 08:06")]
    request, failure, response = (csv_.iloc[i] for i in range(3))
    assert (request["code"], request["min_count"], request["cmid"]) == ("0xC004F074", 25, CMID)
    assert (failure["code"], failure["trigger"], failure["app_id"]) == (
        "0x8007232B", "UserLogon", APP)  # from EventData XML
    assert response["is_success"] and response["kms_count"] == 30  # from RenderedDescription
    assert csv_["record_id"].isna().all()
    assert set(csv_["source_format"].astype(str)) == {"la_event"}


def test_la_windowsevent_csv_and_json():
    csv_ = balanced(load_events(D / "synthetic_la_windowsevent.csv")).events
    json_ = balanced(load_events(D / "synthetic_la_windowsevent.json")).events
    pd.testing.assert_frame_equal(csv_.drop(columns="source_file"),
                                  json_.drop(columns="source_file"))
    assert list(csv_["record_id"]) == [501, 901, 902]
    assert csv_.iloc[0]["code"] == "0xC004F074"
    from_list, from_raw = csv_.iloc[1], csv_.iloc[2]
    assert (from_list["code"], from_list["min_count"], from_list["role"]) == (
        "0xC004F038", 25, "kms_host")
    assert (from_raw["code"], from_raw["is_vm"], from_raw["minutes_to_expiry"]) == (
        "0x00000000", True, 259200)


def test_la_json_array_cut_short(tmp_path):
    rows = json.loads((D / "synthetic_la_event.json").read_text())
    text = json.dumps(rows)
    path = tmp_path / "cut.json"
    path.write_text(text[: text.index('"RenderedDescription"', text.index("8198"))])
    r = balanced(load_events(path, format="la_event"))
    assert r.loaded == 1 and r.rejected.iloc[0]["source_record"] == 2


# ---- sniffing --------------------------------------------------------------------------------

SNIFFED = {
    "synthetic_client.xml": "wevtutil_xml", "synthetic_client.xml.gz": "wevtutil_xml",
    "synthetic_utf16.xml": "wevtutil_xml", "synthetic_evtx_rs.jsonl": "evtx_json",
    "synthetic_winevent_utf8bom_comma.csv": "winevent_csv",
    "synthetic_winevent_utf8_semicolon.csv": "winevent_csv",
    "synthetic_winevent_utf16le_semicolon.csv": "winevent_csv",
    "synthetic_eventlog.csv": "winevent_csv", "synthetic_eventviewer_pc7.csv": "eventviewer_csv",
    "synthetic_la_event.csv": "la_event", "synthetic_la_event.json": "la_event",
    "synthetic_la_windowsevent.csv": "la_windowsevent",
    "synthetic_la_windowsevent.json": "la_windowsevent",
}


@pytest.mark.parametrize("name", sorted(SNIFFED))
def test_sniffing_by_content(name, tmp_path):
    renamed = tmp_path / "export.dat"  # no suffix to help
    renamed.write_bytes((D / name).read_bytes())
    assert sniff(Source(renamed)).value == SNIFFED[name]


def test_sniffing_falls_back_to_suffix(tmp_path):
    path = tmp_path / "odd.xml"
    path.write_text("not xml at all, but named .xml")
    assert sniff(Source(path)).value == "wevtutil_xml"
    with pytest.raises(TelemetryError, match="no <Event> element found"):
        load_events(path)
