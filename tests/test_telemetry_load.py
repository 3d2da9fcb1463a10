"""Tests for activation_kb.telemetry: loaders, accounting, safety, round trip."""

from __future__ import annotations

import shutil
import time

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation_kb.errors import TelemetryError
from activation_kb.schema import validate_events
from activation_kb.telemetry import load_events, write_events
from conftest import TEST_DATA

D = TEST_DATA / "telemetry"


def _balanced(r):
    assert r.records == r.loaded + len(r.rejected) + r.duplicates
    validate_events(r.events)


def test_client_xml_all_shapes():
    r = load_events(D / "synthetic_client.xml")
    _balanced(r)
    ev = r.events
    assert list(ev["event_kind"].astype(str)) == [
        "kms_request", "kms_response", "kms_request", "activation_failure", "other"]
    first = ev.iloc[0]
    assert first["code"] == "0xC004F074" and first["category"] == "kms_unreachable"
    assert first["kms_host"] == "kms01.contoso.com" and first["kms_port"] == 1688
    assert first["min_count"] == 5 and not first["is_success"]
    assert ev.iloc[1]["is_success"] and ev.iloc[1]["kms_count"] == 10
    assert pd.isna(ev.iloc[2]["min_count"])  # trailing ", " in 12288
    assert ev.iloc[3]["trigger"] == "UserLogon" and ev.iloc[3]["code"] == "0x800704CF"
    assert set(ev["activation_method"].astype(str)[:3]) == {"KMS"}
    assert (ev["role"] == "client").all()


def test_host_xml_both_providers_and_persistence_negative():
    r = load_events(D / "synthetic_host.xml")
    _balanced(r)
    ev = r.events
    kms = ev[ev["event_id"] == 12290]
    assert len(kms) == 2 and (kms["role"] == "kms_host").all()
    assert set(kms["provider"]) == {"Microsoft-Windows-Security-SPP",
                                    "Microsoft-Windows-Security-Licensing-SLC"}
    assert kms.iloc[0]["code"] == "0xC004F06C" and kms.iloc[0]["min_count"] == 5
    bad = ev[ev["event_id"] == 1337].iloc[0]
    assert bad["event_kind"] == "other" and bad["role"] == "client"


def test_rendered_and_gzip():
    r = load_events(D / "synthetic_rendered.xml")
    assert r.events.iloc[0]["message"].startswith("The client has sent")
    g = load_events(D / "synthetic_client.xml.gz")
    assert g.loaded == 5


@pytest.mark.parametrize("name", ["malicious_billion_laughs.xml", "malicious_xxe.xml"])
def test_malicious_xml_refused_fast(name):
    t0 = time.perf_counter()
    with pytest.raises(TelemetryError):
        load_events(D / name)
    assert time.perf_counter() - t0 < 2


def test_truncated_empty_garbage():
    r = load_events(D / "synthetic_truncated.xml")
    _balanced(r)
    assert r.loaded == 1 and len(r.rejected) == 1
    assert load_events(D / "synthetic_empty.xml").records == 0
    with pytest.raises(TelemetryError):
        load_events(D / "garbage.bin")
    with pytest.raises(TelemetryError, match="record"):
        load_events(D / "synthetic_truncated.xml", on_error="raise")


def test_overlapping_exports_dedupe(tmp_path):
    a = tmp_path / "a.xml"
    shutil.copy(D / "synthetic_client.xml", a)
    r = load_events([D / "synthetic_client.xml", a])
    _balanced(r)
    assert r.loaded == 5 and r.duplicates == 5
    assert r.files[1]["duplicates"] == 5 and r.files[0]["loaded"] == 5


@pytest.mark.parametrize("fmt", ["parquet", "csv", "xml"])
def test_round_trip(tmp_path, fmt):
    src = load_events([D / "synthetic_client.xml", D / "synthetic_host.xml"]).events
    out = write_events(src, tmp_path / f"x.{fmt}")
    back = load_events(out).events
    validate_events(back)
    skip = {"raw", "message", "source_format", "source_file", "source_record"}
    cols = [c for c in src.columns if c not in skip]
    pd.testing.assert_frame_equal(src[cols], back[cols])


def test_real_evtx_and_xml(shared_dir):
    samples = shared_dir / "activation-samples"
    evtx = load_events(samples / "hayabusa-sample-evtx_DeepBlueCLI_many-events-application.evtx")
    _balanced(evtx)
    spp = evtx.events[evtx.events["provider"] == "Microsoft-Windows-Security-SPP"]
    assert len(spp) == 418
    xml = load_events(samples / "many-events-application_Security-SPP_python-evtx.xml")
    assert xml.loaded == 418 and len(xml.rejected) == 0


_VALID = (D / "synthetic_client.xml").read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), max_size=8),
       st.integers(1, len(_VALID)))
def test_random_corruption_keeps_accounting(tmp_path_factory, edits, cut):
    data = bytearray(_VALID[:cut])
    for pos, byte in edits:
        if pos < len(data):
            data[pos] = byte
    p = tmp_path_factory.mktemp("fuzz") / "x.xml"
    p.write_bytes(bytes(data))
    try:
        r = load_events(p)
    except TelemetryError:
        return
    _balanced(r)


def test_write_empty_and_bad_format(tmp_path):
    from activation_kb.schema import empty_events

    out = write_events(empty_events(), tmp_path / "e.xml")
    assert load_events(out).records == 0
    with pytest.raises(TelemetryError, match="expected parquet, csv or xml"):
        write_events(empty_events(), tmp_path / "e.json")


def test_xml_writer_layout(tmp_path):
    src = load_events(D / "synthetic_client.xml").events
    text = write_events(src, tmp_path / "w.xml").read_text()
    assert 'SystemTime="2024-03-01T08:00:00.1234567Z"' in text
    assert ("<Data>0xC004F074, 0x00000000, kms01.contoso.com:1688, "
            "36f27b39-2fd5-440b-be67-a09996d27a38, 2024/03/01 08:00, 0, 2, 41760, "
            "68531fb9-5511-4989-97be-d11a0f55633f, 5</Data>") in text
    assert '<EventID Qualifiers="49152">8198</EventID>' in text
