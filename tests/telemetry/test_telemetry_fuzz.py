"""Property tests: random damage to a valid export never breaks the accounting invariant, and
``load_events`` raises nothing but TelemetryError.

Damage here is blind (bytes replaced, inserted, deleted, the file cut short), in every text
format, plain or gzipped, with the pieces real damage brings: lone UTF-16 surrogates, invalid
UTF-8, out-of-range times, text between records. ``test_telemetry_damage`` adds the structured
damage whose record count is known, for the completeness check."""

from __future__ import annotations

import gzip
import os

import pytest
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
    "la_event.json": (D / "synthetic_la_event.json").read_bytes(),
    "la_event.csv": (D / "synthetic_la_event.csv").read_bytes(),
    "eventviewer.csv": (D / "synthetic_eventviewer_pc7.csv").read_bytes(),
    "evtx.jsonl": (D / "synthetic_evtx_rs.jsonl").read_bytes(),
    "utf16.xml": (D / "synthetic_utf16.xml").read_bytes(),
}
_CANONICAL: list[bytes] = []


def canonical_csv() -> bytes:
    """A canonical CSV of the client and host fixtures (written once)."""
    if not _CANONICAL:
        import tempfile
        from pathlib import Path

        from activation_kb.telemetry import write_events

        events = load_events([D / "synthetic_client.xml", D / "synthetic_host.xml"]).events
        with tempfile.TemporaryDirectory() as tmp:
            _CANONICAL.append(write_events(events, Path(tmp) / "c.csv").read_bytes())
    return _CANONICAL[0]
# FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps the suite fast.
FIXED = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


PIECES = [b"<", b">", b"&", b"\x00", b'"', b"\n", b",", b";", b"<Event>", b"</Event>",
          b"<!DOCTYPE", b"\xff\xfe", b"\x00\xd8", b"\xd8\x00", b"\xdc\x00A", b"\xff", b"\xc3",
          b"1601-01-01T00:00:00Z", b"9999-12-31T23:59:59.9999999Z", b"+25:00", b"1/1/1601",
          b"   Page 2   \n", b"}, junk, {", b"-1073418124", b"0x1C004F074"]


@st.composite
def damaged(draw, name):
    data = bytearray(EXPORTS[name] if name != "canonical.csv" else canonical_csv())
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        chunk = draw(st.binary(min_size=1, max_size=12) | st.sampled_from(PIECES))
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


@pytest.mark.parametrize("name, suffix, options", [
    ("xml", ".xml", {}),
    ("utf16.xml", ".xml", {}),
    ("winevent.csv", ".csv", {"tz": "Europe/Paris"}),
    ("utf16.csv", ".csv", {"tz": "Europe/Paris", "format": "winevent_csv"}),
    ("la.json", ".json", {"format": "la_windowsevent"}),
    ("la_event.json", ".json", {"format": "la_event"}),
    ("la_event.csv", ".csv", {"format": "la_event"}),
    ("eventviewer.csv", ".csv", {"tz": "UTC", "format": "eventviewer_csv"}),
    ("evtx.jsonl", ".jsonl", {}),
    ("canonical.csv", ".csv", {"format": "canonical_csv"}),
])
@FIXED
@given(data=st.data(), compress=st.booleans())
def test_damaged_export(tmp_path_factory, name, suffix, options, data, compress):
    damage = data.draw(damaged(name))
    path = tmp_path_factory.mktemp("fuzz") / ("x" + suffix + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(damage) if compress else damage)
    check(path, **options)
