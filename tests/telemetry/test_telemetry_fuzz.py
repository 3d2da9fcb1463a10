"""Property tests: random damage to a valid export never breaks the accounting invariant, and
``load_events`` raises nothing but TelemetryError."""

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
}
# FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps the suite fast.
FIXED = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)), deadline=None,
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


@pytest.mark.parametrize("name, suffix, options", [
    ("xml", ".xml", {}),
    ("winevent.csv", ".csv", {"tz": "Europe/Paris"}),
    ("utf16.csv", ".csv", {"tz": "Europe/Paris", "format": "winevent_csv"}),
    ("la.json", ".json", {"format": "la_windowsevent"}),
])
@FIXED
@given(data=st.data(), compress=st.booleans())
def test_damaged_export(tmp_path_factory, name, suffix, options, data, compress):
    damage = data.draw(damaged(name))
    path = tmp_path_factory.mktemp("fuzz") / ("x" + suffix + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(damage) if compress else damage)
    check(path, **options)
