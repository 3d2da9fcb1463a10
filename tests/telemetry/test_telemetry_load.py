"""Tests for activation_kb.telemetry: XML reader, accounting, safety, paths, round trip (EVTX:
test_telemetry_evtx.py)."""

from __future__ import annotations

import gzip
import os
import shutil
import sys

import pandas as pd
import pytest
from conftest import TEST_DATA

from activation_kb.errors import TelemetryError
from activation_kb.schema import EVENT_COLUMNS, empty_events, validate_events
from activation_kb.telemetry import Format, load_events, write_events

D = TEST_DATA / "telemetry"
NS = "http://schemas.microsoft.com/win/2004/08/events/event"
CMID = "36f27b39-2fd5-440b-be67-a09996d27a38"
SKU = "68531fb9-5511-4989-97be-d11a0f55633f"
APP = "55c92734-d682-4d71-983e-d6ec3f16059f"


def balanced(r):
    assert r.records == r.loaded + r.n_rejected + r.duplicates
    assert r.records == sum(f["records"] for f in r.files)
    for f in r.files:
        assert f["records"] == f["loaded"] + f["rejected"] + f["duplicates"]
    validate_events(r.events)
    return r


def event_xml(eid=12288, rid=1, host="pc1.contoso.com", time="2024-03-01T08:00:00.0000000Z",
              data=("0xC004F074, 0x00000000, kms01:1688, " + CMID + ", 2024/03/01 08:00, 0, 2, "
                    "41760, " + SKU + ", 5",), provider="Microsoft-Windows-Security-SPP",
              channel="Application", level=4, extra=""):
    items = "".join(f"<Data>{d}</Data>" for d in data)
    return (f'<Event xmlns="{NS}"><System><Provider Name="{provider}"/><EventID>{eid}</EventID>'
            f"<Level>{level}</Level><TimeCreated SystemTime='{time}'/>"
            f"<EventRecordID>{rid}</EventRecordID><Channel>{channel}</Channel>"
            f"<Computer>{host}</Computer></System><EventData>{items}</EventData>{extra}</Event>\n")


# ---- wevtutil XML --------------------------------------------------------------------------


def test_client_xml_fields():
    ev = balanced(load_events(D / "synthetic_client.xml")).events
    assert list(ev["event_kind"].astype(str)) == [
        "kms_request", "kms_response", "kms_request", "activation_failure", "other"]
    first = ev.iloc[0]
    assert first["event_time"] == pd.Timestamp("2024-03-01T08:00:00.1234567Z")
    assert (first["code"], first["result_code"], first["category"]) == (
        "0xC004F074", 0xC004F074, "kms_unreachable")
    assert (first["kms_host"], first["kms_port"]) == ("kms01.contoso.com", 1688)
    assert first["cmid"] == CMID
    assert first["client_time"] == pd.Timestamp("2024-03-01 08:00")
    assert (first["is_vm"], first["license_status"]) == (False, 2)
    assert first["minutes_to_expiry"] == 41760
    assert (first["sku_id"], first["min_count"], first["is_success"]) == (SKU, 5, False)
    assert (first["role"], first["activation_method"], first["level"]) == ("client", "KMS", "info")
    response = ev.iloc[1]  # eight separate <Data>
    assert response["is_success"] and response["kms_count"] == 10
    assert (response["activation_interval_min"], response["renewal_interval_min"]) == (120, 10080)
    second = ev.iloc[2]  # <Data Name="Info">, status flags 0x8, VM, trailing ", " (no N-policy)
    assert second["status_flags"] == 8 and second["is_vm"] and pd.isna(second["min_count"])
    failure = ev.iloc[3]
    assert (failure["code"], failure["trigger"], failure["level"]) == (
        "0x800704CF", "UserLogon", "error")
    assert (failure["app_id"], failure["sku_id"]) == (APP, SKU)
    assert ev.iloc[4]["event_id"] == 4242 and pd.isna(ev.iloc[4]["code"])
    assert list(ev["source_record"]) == [1, 2, 3, 4, 5]
    assert set(ev["source_format"].astype(str)) == {"wevtutil_xml"}


def test_host_xml_both_providers_and_kms_channel_forgery():
    ev = balanced(load_events(D / "synthetic_host.xml")).events
    kms = ev[ev["event_id"] == 12290]
    assert len(kms) == 2 and (kms["role"] == "kms_host").all()
    assert set(kms["provider"]) == {"Microsoft-Windows-Security-SPP",
                                    "Microsoft-Windows-Security-Licensing-SLC"}
    first = kms.iloc[0]
    assert (first["code"], first["category"], first["min_count"]) == ("0xC004F06C", "clock", 5)
    assert first["client_time"] == pd.Timestamp("2024-03-01 08:00")  # "2024/3/1 8:00"
    assert (first["cmid"], first["license_status"], first["minutes_to_expiry"]) == (CMID, 2, 41520)
    assert list(kms["client_name"]) == ["pc1.contoso.com", "pc3"]  # the client each names
    assert kms.iloc[1]["is_success"] and kms.iloc[1]["is_vm"]
    assert ev.loc[ev["event_id"] != 12290, "client_name"].isna().all()
    forged = ev[ev["event_id"] == 1337].iloc[0]  # Persistence record in the KMS channel
    assert forged["event_kind"] == "other" and forged["role"] == "client"


def test_known_ids_from_other_providers_or_kms_channel_are_other(tmp_path):
    path = tmp_path / "x.xml"
    path.write_text(event_xml(1003, 1, provider="Application Error", data=(APP,))
                    + event_xml(12290, 2, provider="KmsRequests", channel="Key Management Service")
                    + event_xml(12288, 3, channel="Key Management Service")
                    + event_xml(1003, 4, data=(APP, ""))
                    + event_xml(1003, 5, provider="Software Protection Platform Service",
                                data=(APP,))
                    + event_xml(8198, 6, provider="Security-SPP", data=("hr=0xC004F074",)))
    ev = balanced(load_events(path)).events
    assert list(ev["event_kind"].astype(str)) == [
        "other", "other", "other", "status_check", "status_check", "activation_failure"]
    assert pd.isna(ev.iloc[0]["app_id"]) and ev.iloc[3]["app_id"] == APP


def test_rendered_message_gzip_and_utf16():
    rendered = balanced(load_events(D / "synthetic_rendered.xml")).events
    assert rendered.iloc[0]["message"].startswith("The client has sent an activation request")
    assert rendered.iloc[0]["code"] == "0xC004F074"
    plain = load_events(D / "synthetic_client.xml").events
    for name in ("synthetic_client.xml.gz", "synthetic_utf16.xml"):
        other = balanced(load_events(D / name)).events
        pd.testing.assert_frame_equal(other.drop(columns="source_file"),
                                      plain.drop(columns="source_file"))


def test_declared_legacy_encoding(tmp_path):
    path = tmp_path / "latin1.xml"
    text = event_xml(host="pc-\u00e9t\u00e9")  # "pc-été"
    path.write_bytes(('<?xml version="1.0" encoding="ISO-8859-1"?>\n<Events>' + text
                      + "</Events>").encode("latin-1"))
    assert list(balanced(load_events(path)).events["host"]) == ["pc-\u00e9t\u00e9"]


def test_python_evtx_string_shapes(tmp_path):
    info = f"0xC004F074, 0x00000000, kms01:1688, {CMID}, 2024/03/01 08:00, 0, 2, 41760, {SKU}, 5"
    escaped = f"&lt;string&gt;{APP}&lt;/string&gt;\n&lt;string&gt;status&lt;/string&gt;\n"
    elements = f"<string>{info}</string>"
    path = tmp_path / "evtx.xml"
    path.write_text("<Events>\n" + event_xml(1003, 1, data=(escaped,))
                    + event_xml(12288, 2, data=(elements,)) + "</Events>\n")
    ev = balanced(load_events(path)).events
    assert ev.iloc[0]["app_id"] == APP
    assert ev.iloc[0]["raw"].split("\x1f") == [APP, "status"]
    assert (ev.iloc[1]["code"], ev.iloc[1]["min_count"], ev.iloc[1]["cmid"]) == (
        "0xC004F074", 5, CMID)


def test_user_data_and_slow_path_agree_with_fast_path(tmp_path):
    # the same records, once plain (fast path) and once each with RenderingInfo (per-record path)
    rows = [event_xml(12288, i, host=f"pc{i}") for i in range(1, 4)]
    rendered = [r.replace("</Event>", "<RenderingInfo><Message>m</Message></RenderingInfo></Event>")
                for r in rows]
    (tmp_path / "a.xml").write_text("".join(rows))
    (tmp_path / "b.xml").write_text("".join(rendered))
    a = load_events(tmp_path / "a.xml").events
    b = load_events(tmp_path / "b.xml").events
    assert (b["message"] == "m").all()
    cols = [c for c in a.columns if c not in ("message", "source_file")]
    pd.testing.assert_frame_equal(a[cols], b[cols])


# ---- unsafe, damaged, wrong and empty input --------------------------------------------------


@pytest.mark.parametrize("name", ["malicious_billion_laughs.xml", "malicious_xxe.xml"])
def test_malicious_xml_refused(name):
    with pytest.raises(TelemetryError, match="refused: the XML declares a DTD or entities"):
        load_events(D / name)


def test_dtd_between_events_refused_and_undefined_entity_rejected(tmp_path):
    path = tmp_path / "x.xml"
    path.write_text(event_xml(rid=1) + '<!DOCTYPE x [<!ENTITY a "b">]>\n' + event_xml(rid=2))
    with pytest.raises(TelemetryError, match="refused"):
        load_events(path)
    path.write_text(event_xml(rid=1) + event_xml(rid=2, host="&xxe;") + event_xml(rid=3))
    r = balanced(load_events(path))
    assert (r.loaded, list(r.rejected["source_record"])) == (2, [2])
    assert "Entity 'xxe' not defined" in r.rejected.iloc[0]["reason"]


def test_truncated_damaged_and_cut_gzip():
    r = balanced(load_events(D / "synthetic_truncated.xml"))
    assert (r.loaded, r.n_rejected) == (1, 1)
    assert r.rejected.iloc[0]["reason"].startswith("truncated: the file ends inside this record")
    r = balanced(load_events(D / "synthetic_damaged_middle.xml"))
    assert list(r.events["record_id"]) == [101, 102, 104, 105]
    assert list(r.rejected["source_record"]) == [3]
    assert "EventRecordIX" in r.rejected.iloc[0]["reason"]
    assert "<EventRecordID>103" in r.rejected.iloc[0]["raw"]
    r = balanced(load_events(D / "synthetic_client_cut.xml.gz"))
    assert r.loaded >= 1 and r.rejected.iloc[-1]["reason"].startswith("truncated")


def test_damaged_gzip_keeps_records_before_the_damage(tmp_path):
    text = "".join(event_xml(rid=i, host=f"pc{i % 97}", time=f"2024-03-01T08:{i % 60:02d}:00Z")
                   for i in range(1, 3000))
    data = bytearray(gzip.compress(text.encode()))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "x.xml.gz"
    path.write_bytes(bytes(data))
    r = balanced(load_events(path))
    assert 0 < r.loaded < 2999
    assert "gzip" in r.rejected.iloc[-1]["reason"]


def test_junk_before_and_between_events(tmp_path):
    path = tmp_path / "x.xml"
    path.write_text("garbage\n" + event_xml(rid=1) + "more garbage" + event_xml(rid=2))
    r = balanced(load_events(path, format="xml"))
    assert list(r.events["source_record"]) == [2, 4]
    assert list(r.rejected["source_record"]) == [1, 3]
    assert r.rejected.iloc[0]["reason"] == "unexpected content before the first <Event>"


def test_oversized_record_rejected_and_skipped(tmp_path, monkeypatch):
    from activation_kb.telemetry import _xml

    monkeypatch.setattr(_xml, "MAX_RECORD", 4096)
    monkeypatch.setattr(_xml, "_CHUNK", 1024)
    huge = event_xml(rid=2, data=("x" * 20000,))
    path = tmp_path / "x.xml"
    path.write_text(event_xml(rid=1) + huge + event_xml(rid=3) + event_xml(rid=4))
    r = balanced(load_events(path))
    assert list(r.events["record_id"]) == [1, 3, 4]
    assert r.rejected.iloc[0]["reason"].startswith("record larger than")


def test_empty_garbage_and_wrong_format_are_one_line_errors(tmp_path):
    with pytest.raises(TelemetryError, match=r"synthetic_empty.xml: empty file; expected"):
        load_events(D / "synthetic_empty.xml")
    with pytest.raises(TelemetryError, match=r"garbage.bin: cannot tell the format"):
        load_events(D / "garbage.bin")
    with pytest.raises(TelemetryError, match=r"garbage.bin: no <Event> element found"):
        load_events(D / "garbage.bin", format="wevtutil_xml")
    with pytest.raises(TelemetryError, match=r"not an EVTX file"):
        load_events(D / "synthetic_client.xml", format=Format.EVTX)
    with pytest.raises(TelemetryError, match=r"unknown format 'json'; expected one of wevtutil"):
        load_events(D / "synthetic_client.xml", format="json")
    for bad in ("synthetic_empty.xml", "garbage.bin"):
        with pytest.raises(TelemetryError) as info:
            load_events(D / bad)
        assert "\n" not in str(info.value)
    path = tmp_path / "wrapper.xml"
    path.write_text('<?xml version="1.0"?>\n<Events>\n</Events>\n')
    assert balanced(load_events(path)).records == 0


def test_on_error_raise_names_first_bad_record():
    with pytest.raises(TelemetryError, match=r"synthetic_damaged_middle.xml: record 3: malformed"):
        load_events(D / "synthetic_damaged_middle.xml", on_error="raise")
    with pytest.raises(TelemetryError, match=r"record 2: truncated"):
        load_events(D / "synthetic_truncated.xml", on_error="raise")
    with pytest.raises(TelemetryError, match="on_error='ignore'; expected 'quarantine' or 'raise'"):
        load_events(D / "synthetic_client.xml", on_error="ignore")


def test_bad_time_and_event_id_rejected_with_reason(tmp_path):
    path = tmp_path / "x.xml"
    path.write_text(event_xml(rid=1) + event_xml(rid=2, time="yesterday")
                    + event_xml(eid="12a88", rid=3) + event_xml(rid=4, host=""))
    r = balanced(load_events(path))
    reasons = dict(zip(r.rejected["source_record"], r.rejected["reason"]))
    assert reasons[2].startswith("time 'yesterday' is not a valid time")
    assert reasons[3].startswith("EventID '12a88' is not an event number")
    assert reasons[4].startswith("no computer name")
    assert r.loaded == 1


def test_unknown_time_zone():
    with pytest.raises(TelemetryError, match="unknown time zone 'Mars/Olympus'"):
        load_events(D / "synthetic_client.xml", tz="Mars/Olympus")


# ---- several files ---------------------------------------------------------------------------


def test_overlapping_exports_dedupe(tmp_path):
    copy = tmp_path / "again.xml"
    shutil.copy(D / "synthetic_client.xml", copy)
    r = balanced(load_events([D / "synthetic_client.xml", copy, D / "synthetic_truncated.xml"]))
    assert (r.loaded, r.duplicates) == (5, 6)
    assert [f["duplicates"] for f in r.files] == [0, 5, 1]
    assert [f["loaded"] for f in r.files] == [5, 0, 0]
    assert set(r.events["source_file"]) == {str(D / "synthetic_client.xml")}


def test_same_record_id_on_other_host_or_channel_is_not_a_duplicate(tmp_path):
    (tmp_path / "a.xml").write_text(event_xml(rid=7) + event_xml(rid=7, host="pc2")
                                    + event_xml(rid=7, channel="Key Management Service")
                                    + event_xml(rid=7))
    r = balanced(load_events(tmp_path / "a.xml"))
    assert (r.loaded, r.duplicates) == (3, 1)


def test_directory_glob_and_list(tmp_path):
    (tmp_path / "site1").mkdir()
    (tmp_path / ".cache").mkdir()
    (tmp_path / "pc1.xml").write_text(event_xml(rid=1, host="pc1"))
    (tmp_path / "site1" / "pc2.xml.gz").write_bytes(gzip.compress(event_xml(rid=1, host="pc2")
                                                                 .encode()))
    (tmp_path / ".cache" / "junk.bin").write_bytes(b"\x00junk")
    by_dir = balanced(load_events(tmp_path))
    assert sorted(by_dir.events["host"]) == ["pc1", "pc2"] and len(by_dir.files) == 2
    by_glob = balanced(load_events(str(tmp_path / "**" / "*.xml*")))
    assert sorted(by_glob.events["host"]) == ["pc1", "pc2"]
    twice = balanced(load_events([tmp_path / "pc1.xml", str(tmp_path / "*.xml")]))
    assert len(twice.files) == 1 and twice.duplicates == 0
    with pytest.raises(TelemetryError, match="no file matches this pattern"):
        load_events(str(tmp_path / "*.evtx"))
    with pytest.raises(TelemetryError, match="no such file or directory"):
        load_events(tmp_path / "missing.xml")


# ---- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.parquet", "x.csv", "x.xml", "x.csv.gz", "x.xml.gz"])
def test_round_trip(tmp_path, name):
    src = load_events([D / "synthetic_client.xml", D / "synthetic_host.xml"]).events
    back = balanced(load_events(write_events(src, tmp_path / name))).events
    keep_provenance = name.endswith((".parquet", ".csv", ".csv.gz"))
    skip = {"raw", "message"} | ({"source_format", "source_file", "source_record"}
                                 if not keep_provenance else set())
    cols = [c for c in src.columns if c not in skip]
    pd.testing.assert_frame_equal(src[cols], back[cols])


def test_write_empty_and_bad_format(tmp_path):
    out = write_events(empty_events(), tmp_path / "e.xml")
    assert balanced(load_events(out)).records == 0
    with pytest.raises(TelemetryError, match="expected parquet, csv or xml"):
        write_events(empty_events(), tmp_path / "e.json")
    with pytest.raises(TelemetryError, match="Parquet is compressed already"):
        write_events(empty_events(), tmp_path / "e.parquet.gz")


def test_xml_writer_layout(tmp_path):
    src = load_events(D / "synthetic_client.xml").events
    text = write_events(src, tmp_path / "w.xml").read_text()
    assert text.startswith("<Events>\n") and text.endswith("</Events>\n")
    assert 'SystemTime="2024-03-01T08:00:00.1234567Z"' in text
    assert ("<Data>0xC004F074, 0x00000000, kms01.contoso.com:1688, "
            f"{CMID}, 2024/03/01 08:00, 0, 2, 41760, {SKU}, 5</Data>") in text
    assert '<EventID Qualifiers="49152">8198</EventID>' in text


def test_canonical_csv_bad_rows_rejected_with_numbers(tmp_path):
    src = load_events(D / "synthetic_client.xml").events
    path = write_events(src, tmp_path / "c.csv")
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(",12289,", ",12x89,")          # record 2: bad event_id
    lines[3] = lines[3].replace('"info"', '"loud"')            # record 3: unknown level
    lines[5] = lines[5].split(",", 3)[0] + ",oops\n"           # record 5: too few fields
    path.write_text("".join(lines))
    r = balanced(load_events(path))
    reasons = dict(zip(r.rejected["source_record"], r.rejected["reason"]))
    assert sorted(reasons) == [2, 3, 5]
    assert reasons[2].startswith("column event_id: '12x89' does not fit")
    assert reasons[3].startswith("column level: 'loud' does not fit")
    assert f"fields, expected {len(EVENT_COLUMNS)}" in reasons[5]
    assert list(r.events["record_id"]) == [101, 104]


def test_canonical_parquet_missing_required_value(tmp_path):
    src = load_events(D / "synthetic_client.xml").events
    src.loc[1, "host"] = pd.NA
    r = balanced(load_events(write_events(src, tmp_path / "p.parquet")))
    assert list(r.rejected["source_record"]) == [2]
    assert r.rejected.iloc[0]["reason"] == "column host is empty (required)"


# ---- progress bar ----------------------------------------------------------------------------


def test_progress_bar_only_on_a_terminal(capfd, monkeypatch):
    load_events(D / "synthetic_client.xml")
    assert capfd.readouterr().err == ""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24x100 screen
    with os.fdopen(slave, "w") as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        load_events(D / "synthetic_client.xml")
        terminal.flush()
    shown = os.read(master, 65536).decode()
    os.close(master)
    assert "loading exports" in shown
