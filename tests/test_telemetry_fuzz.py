"""Property tests: random damage to a valid export never breaks the accounting invariant, and
``load_events`` raises nothing but TelemetryError."""

from __future__ import annotations

import gzip

from conftest import TEST_DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation_kb.errors import TelemetryError
from activation_kb.schema import validate_events
from activation_kb.telemetry import load_events

D = TEST_DATA / "telemetry"
EXPORTS = {
    "xml": (D / "synthetic_client.xml").read_bytes() + (D / "synthetic_host.xml").read_bytes(),
    "winevent.csv": (D / "synthetic_winevent_utf8bom_comma.csv").read_bytes(),
    "utf16.csv": (D / "synthetic_winevent_utf16le_semicolon.csv").read_bytes(),
    "la.json": (D / "synthetic_la_windowsevent.json").read_bytes(),
}
FIXED = settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", 60)), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def damaged(draw, name):
    data = bytearray(EXPORTS[name])
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        chunk = draw(st.binary(min_size=1, max_size=12)
                     | st.sampled_from([b"<", b">", b"&", b"\x00", b'"', b"\n", b",", b";",
                                        b"<Event>", b"</Event>", b"<!DOCTYPE", b"\xff\xfe"]))
        if action == "replace":
            data[pos:pos + len(chunk)] = chunk
        elif action == "insert":
            data[pos:pos] = chunk
        else:
            del data[pos:pos + len(chunk)]
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data)


def check(path, **kwargs):
    try:
        r = load_events(path, **kwargs)
    except TelemetryError as exc:
        assert str(exc).startswith(str(path)) or "format" in str(exc)
        return
    assert r.records == r.loaded + r.n_rejected + r.duplicates
    for f in r.files:
        assert f["records"] == f["loaded"] + f["rejected"] + f["duplicates"]
    validate_events(r.events)
    assert r.rejected["reason"].str.len().gt(0).all()
    assert r.rejected["source_record"].notna().all()


@FIXED
@given(data=damaged("xml"), compress=st.booleans())
def test_damaged_xml(tmp_path_factory, data, compress):
    path = tmp_path_factory.mktemp("fuzz") / ("x.xml.gz" if compress else "x.xml")
    path.write_bytes(gzip.compress(data) if compress else data)
    check(path)


@FIXED
@given(data=damaged("winevent.csv"))
def test_damaged_winevent_csv(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "x.csv"
    path.write_bytes(data)
    check(path, tz="Europe/Paris")


@FIXED
@given(data=damaged("utf16.csv"))
def test_damaged_utf16_csv_read_as_winevent(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "x.csv"
    path.write_bytes(data)
    check(path, tz="Europe/Paris", format="winevent_csv")


@FIXED
@given(data=damaged("la.json"))
def test_damaged_log_analytics_json(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "x.json"
    path.write_bytes(data)
    check(path, format="la_windowsevent")
