"""Issue 11, loader defects 1-7: each damage costs the damaged record only, counted and named.

Every test checks completeness: the records a file holds, counted from how it was built (see
``telemetry_exports``), equal loaded + rejected + duplicates, and every intact record loads.
Property tests (hypothesis) vary formats, encodings, damage and gzip; tests of what could hang
run in a child process with a hard time limit.
"""

from __future__ import annotations

import gzip
import os
import stat
import sys

import pandas as pd
import pytest
from conftest import TEST_DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telemetry_exports import FORMATS, OUT_OF_RANGE, Export, build, run_bounded
from test_telemetry_load import balanced, event_xml

from activation_kb.errors import TelemetryError
from activation_kb.telemetry import load_events

D = TEST_DATA / "telemetry"
SUFFIX = {"wevtutil_xml": ".xml", "winevent_csv": ".csv", "eventviewer_csv": ".csv",
          "la_event": ".csv", "la_windowsevent": ".json", "evtx_json": ".jsonl",
          "canonical_csv": ".csv"}
FIXED = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 40)), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def load(export: Export, tmp_path, name="x", **kwargs):
    path = tmp_path / (name + SUFFIX[export.fmt] + (".gz" if export.data[:2] == b"\x1f\x8b"
                                                    else ""))
    path.write_bytes(export.data)
    return load_events(path, format=export.fmt, tz="UTC", **kwargs)


def complete(r, export: Export):
    """The completeness check: nothing lost, nothing counted twice, every intact record loaded."""
    balanced(r)
    assert r.records == export.records, (r.records, export.records, r.rejected["reason"].tolist())
    assert r.n_rejected == len(export.damaged) + export.junk, r.rejected["reason"].tolist()
    expected = [pd.Timestamp(t) for t in export.intact_times()]
    assert sorted(r.events["event_time"]) == expected
    return r


# ---- 1. no hang on text between records (was exponential: 13 s at 24 spaces) -------------------


def test_text_between_xml_records_does_not_hang():
    out = run_bounded(f"""
import time, tempfile, pathlib
from activation_kb.telemetry import load_events
ev = {event_xml(rid=1)!r}
d = pathlib.Path(tempfile.mkdtemp())
for n in (26, 30, 1000, 100_000):
    p = d / f"x{{n}}.xml"
    p.write_text(ev + " " * n + "Page 2" + ev.replace("<EventRecordID>1", "<EventRecordID>2"))
    t = time.perf_counter()
    r = load_events(p)
    print(n, r.records, r.loaded, r.n_rejected, round(time.perf_counter() - t, 3), flush=True)
""", 60)
    for line in out.strip().splitlines():
        n, records, loaded, rejected, seconds = line.split()
        assert (records, loaded, rejected) == ("3", "2", "1")
        assert float(seconds) < 2.0, line


# ---- 2. undecodable text costs its record only -----------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "shift_jis", "windows-1252",
                                      "utf-8"])
@pytest.mark.parametrize("where", [0, 1, 200, 365])
def test_xml_undecodable_text_rejects_only_its_record(tmp_path, encoding, where):
    # 366 records: the damage sits in the first 4 KB (0, 1), in the middle or in the last one
    export = build("wevtutil_xml", 366, encoding=encoding, bad_bytes={where})
    r = complete(load(export, tmp_path), export)
    reason = r.rejected.iloc[0]["reason"]
    assert f"not valid {encoding.replace('windows-', 'cp')}" in reason or \
        f"not valid {encoding}" in reason, reason


@pytest.mark.parametrize("fmt", ["winevent_csv", "eventviewer_csv", "la_windowsevent",
                                 "evtx_json"])
@pytest.mark.parametrize("where", [0, 150, 299])
def test_utf16_lone_surrogate_rejects_only_its_record(tmp_path, fmt, where):
    export = build(fmt, 300, encoding="utf-16-le", bad_bytes={where})
    r = complete(load(export, tmp_path), export)
    assert "not valid" in r.rejected.iloc[0]["reason"]


# ---- 3. out-of-range times reject their record, naming file and record -----------------------


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_out_of_range_times_reject_their_record(tmp_path, fmt):
    style = FORMATS[fmt][1]
    bad = {3 * k + 1: text for k, text in enumerate(OUT_OF_RANGE[style])}
    export = build(fmt, 20, bad_times=bad)
    r = complete(load(export, tmp_path), export)
    assert r.rejected["reason"].str.contains("outside the range").all(), r.rejected["reason"]
    assert r.rejected["source_file"].str.endswith(SUFFIX[fmt]).all()


def test_out_of_range_time_in_a_multi_file_load(tmp_path):
    good = build("wevtutil_xml", 5)
    bad = build("evtx_json", 5, bad_times={2: "1601-01-01T00:00:00.000000Z"})
    (tmp_path / "a.xml").write_bytes(good.data)
    (tmp_path / "b.jsonl").write_bytes(bad.data)
    r = balanced(load_events(tmp_path))
    assert (r.records, r.loaded, r.n_rejected) == (10, 5, 1)  # b's other records duplicate a's
    assert r.rejected.iloc[0]["source_file"].endswith("b.jsonl")
    assert r.rejected.iloc[0]["source_record"] == 3
    assert "outside the range of event times" in r.rejected.iloc[0]["reason"]


@pytest.mark.parametrize("time", ["2024-03-01T08:00:00+25:00", "2024-03-01T08:00:00.1234567Z",
                                  "2024-03-01T08:00:00.123456789Z", "2024-03-01T08:00:00.123Z"])
def test_offsets_and_fraction_digits(tmp_path, time):
    path = tmp_path / "x.xml"
    path.write_text(event_xml(rid=1) + event_xml(rid=2, time=time))
    r = balanced(load_events(path))
    if "+25:00" in time:
        assert r.n_rejected == 1 and "not a valid time" in r.rejected.iloc[0]["reason"]
    else:
        assert r.loaded == 2


# ---- 4. canonical CSV: one bad byte costs one record, nothing on stderr ----------------------


def test_canonical_csv_invalid_utf8_rejects_one_record(tmp_path, capfd):
    export = build("canonical_csv", 500, bad_bytes={0, 250, 499})
    r = complete(load(export, tmp_path), export)
    assert set(r.rejected["source_record"]) == {1, 251, 500}
    assert r.rejected["reason"].str.contains("column host: bytes that are not valid").all()
    assert capfd.readouterr().err == ""


def test_canonical_csv_damage_of_every_kind_together(tmp_path, capfd):
    from activation_kb.telemetry import write_events

    src = load_events(D / "synthetic_client.xml").events
    lines = write_events(src, tmp_path / "c.csv").read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"pc1", b"pc\xff1")              # invalid UTF-8
    lines[-2] = lines[-2] + b',"extra",\xfe'                     # wrong field count + bad byte
    (tmp_path / "c.csv").write_bytes(b"\n".join(lines))
    r = balanced(load_events(tmp_path / "c.csv"))
    assert (r.records, r.loaded, r.n_rejected) == (5, 3, 2)
    assert capfd.readouterr().err == ""


# ---- 5. gzip around BOM and UTF-16 text ------------------------------------------------------


@pytest.mark.parametrize("fmt, encoding", [(f, e) for f, (encs, _) in FORMATS.items()
                                           for e in encs])
def test_gzip_around_every_format_and_encoding(tmp_path, fmt, encoding):
    plain = build(fmt, 30, encoding=encoding)
    packed = build(fmt, 30, encoding=encoding, compress=True)
    (tmp_path / "plain").mkdir()
    (tmp_path / "packed").mkdir()
    a = complete(load(plain, tmp_path / "plain"), plain).events
    b = complete(load(packed, tmp_path / "packed"), packed).events
    pd.testing.assert_frame_equal(a.drop(columns="source_file"), b.drop(columns="source_file"))


def test_gzipped_winevent_csv_sniffed_without_format(tmp_path):
    for encoding in ("utf-8-sig", "utf-16-le", "utf-16-be"):
        export = build("winevent_csv", 10, encoding=encoding, compress=True)
        path = tmp_path / f"{encoding}.csv.gz"
        path.write_bytes(export.data)
        r = complete(load_events(path, tz="UTC"), export)
        assert r.files[0]["format"] == "winevent_csv"


# ---- 6. long fields, codes in every spelling -------------------------------------------------


def test_csv_field_longer_than_the_csv_module_limit(tmp_path):
    export = build("winevent_csv", 5)
    text = export.data.decode()
    huge = "x" * 300_000
    text = text.replace("machine.\r\nInfo:", f"machine. {huge}\r\nInfo:", 1)
    path = tmp_path / "long.csv"
    path.write_text(text)
    r = balanced(load_events(path, tz="UTC"))
    assert (r.records, r.loaded, r.n_rejected) == (5, 5, 0)
    assert len(r.events.iloc[0]["message"]) > 300_000


@pytest.mark.parametrize("written, code", [
    ("hr=0x8007232B", "0x8007232B"), ("hr=-1073418124", "0xC004F074"),
    ("hr=3221549172", "0xC004F074"), ("hr=0x0C004F074", "0xC004F074"),
    ("hr = 0x800704cf", "0x800704CF"), ("code hr=0x8007232B;", "0x8007232B"),
])
def test_rules_engine_codes_in_every_spelling(tmp_path, written, code):
    path = tmp_path / "x.xml"
    path.write_text(event_xml(8198, 1, data=(written, "RuleId=x;Trigger=UserLogon")))
    r = balanced(load_events(path))
    assert r.events.iloc[0]["code"] == code and len(r.unreadable_values) == 0


@pytest.mark.parametrize("eid, data, value", [
    (8198, ("hr=0x1C004F074", "Trigger=UserLogon"), "0x1C004F074"),   # 9 digits: not cut to 8
    (8198, ("hr=4294967296", ""), "4294967296"),                       # 2**32
    (8198, ("hr=-2147483649", ""), "-2147483649"),
    (8233, ("Reason:0xZZZ", ""), "0xZZZ"),
    (12288, ("0x1C004F074, 0x00000000, kms01:1688",), "0x1C004F074"),
    (12293, ("banana", "contoso.com"), "banana"),
])
def test_unreadable_codes_are_reported_never_dropped(tmp_path, eid, data, value):
    path = tmp_path / "x.xml"
    path.write_text(event_xml(eid, 1, data=data) + event_xml(eid, 2, data=data))
    r = balanced(load_events(path))
    assert r.loaded == 2 and r.events["code"].isna().all()  # records kept, code not guessed
    found = r.unreadable_values[r.unreadable_values["column"] == "result_code"]
    assert list(found["source_record"]) == [1, 2] and set(found["value"]) == {value}
    assert found.iloc[0]["reason"].startswith("not a 32-bit HRESULT")
    assert r.summary()["unreadable_values"]["result_code"] == 2


def test_decimal_and_negative_codes_in_info_fields(tmp_path):
    info = "-1073418124, 8, kms01:1688, {}, 2024/03/01 08:00, 0, 2, 41760, {}, 5"
    path = tmp_path / "x.xml"
    path.write_text(event_xml(12288, 1, data=(info.format("x", "y"),)))
    ev = balanced(load_events(path)).events
    assert (ev.iloc[0]["code"], ev.iloc[0]["status_flags"]) == ("0xC004F074", 8)


def test_out_of_range_client_time_is_reported(tmp_path):
    info = "0x0, 0x0, kms01:1688, 36f27b39-2fd5-440b-be67-a09996d27a38, 1601/01/01 00:00, 0, 2"
    path = tmp_path / "x.xml"
    path.write_text(event_xml(12288, 1, data=(info,)))
    r = balanced(load_events(path))
    assert r.loaded == 1 and pd.isna(r.events.iloc[0]["client_time"])
    assert list(r.unreadable_values["column"]) == ["client_time"]


# ---- 7. clear errors naming the file ---------------------------------------------------------


needs_permissions = pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0,
    reason="file permissions do not stop this user (root or Windows)")


@needs_permissions
def test_unreadable_file_and_folder_are_clear_errors(tmp_path):
    (tmp_path / "ok.xml").write_text(event_xml(rid=1))
    locked = tmp_path / "locked.xml"
    locked.write_text(event_xml(rid=2))
    locked.chmod(0)
    with pytest.raises(TelemetryError, match=r"locked.xml: cannot read the file"):
        load_events(locked)
    locked.chmod(stat.S_IRUSR | stat.S_IWUSR)
    sub = tmp_path / "site2"
    sub.mkdir()
    (sub / "pc.xml").write_text(event_xml(rid=3))
    sub.chmod(0)
    try:
        with pytest.raises(TelemetryError, match=r"site2: cannot list this folder"):
            load_events(tmp_path)
    finally:
        sub.chmod(stat.S_IRWXU)


def test_unreadable_file_and_folder_as_root(tmp_path, monkeypatch):
    """The same errors where permissions do not apply (root): the OS error is simulated."""
    import builtins
    import os as os_module

    path = tmp_path / "locked.xml"
    path.write_text(event_xml(rid=1))
    real_open = builtins.open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(TelemetryError, match=r"locked.xml: cannot read the file \(Permission"):
        load_events(path)
    monkeypatch.setattr(builtins, "open", real_open)
    real_scandir = os_module.scandir
    sub = tmp_path / "site2"
    sub.mkdir()

    def deny_dir(p="."):
        if str(p) == str(sub):
            raise PermissionError(13, "Permission denied", str(p))
        return real_scandir(p)

    monkeypatch.setattr(os_module, "scandir", deny_dir)
    with pytest.raises(TelemetryError, match=r"site2: cannot list this folder"):
        load_events(tmp_path)


def test_duplicate_columns_and_rot13_are_clear_errors(tmp_path):
    text = build("winevent_csv", 3).data.decode().replace('"Version"', '"Id"', 1)
    (tmp_path / "dup.csv").write_text(text)
    with pytest.raises(TelemetryError, match=r"dup.csv: column 'Id' appears twice"):
        load_events(tmp_path / "dup.csv", tz="UTC")
    canonical = build("canonical_csv", 3).data.replace(b'"raw"', b'"message"', 1)
    (tmp_path / "dupc.csv").write_bytes(canonical)
    with pytest.raises(TelemetryError, match=r"dupc.csv: column 'message' appears twice"):
        load_events(tmp_path / "dupc.csv")
    (tmp_path / "rot.xml").write_text('<?xml version="1.0" encoding="rot13"?>' + event_xml())
    with pytest.raises(TelemetryError, match=r"rot.xml: unknown XML encoding 'rot13'"):
        load_events(tmp_path / "rot.xml")


def test_short_evtx_is_a_clear_error(tmp_path):
    path = tmp_path / "short.evtx"
    path.write_bytes(b"ElfFile\x00" + bytes(34))  # 42 bytes
    with pytest.raises(TelemetryError, match=r"short.evtx: "):
        load_events(path)


# ---- property tests: structured damage, counted independently --------------------------------

JUNK = st.one_of(st.text(" \t\r\n", min_size=1, max_size=40),
                 st.builds(lambda pad, word: pad + word + "\n",
                           st.text(" \t", max_size=30), st.from_regex(r"[A-Za-z][A-Za-z0-9 ]{0,20}",
                                                                       fullmatch=True)))


@st.composite
def damaged_exports(draw):
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    encodings, style = FORMATS[fmt]
    encoding = draw(st.sampled_from(encodings))
    n = draw(st.integers(1, 40))
    chosen = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=min(n, 6)))
    half = len(chosen) // 2
    bad_bytes = set(chosen[:half])
    bad_times = {i: draw(st.sampled_from(OUT_OF_RANGE[style])) for i in chosen[half:]}
    junk = draw(st.dictionaries(st.integers(0, n - 1), JUNK, max_size=4))
    if fmt not in ("wevtutil_xml", "la_windowsevent"):  # line formats: junk is whole lines
        junk = {i: t if t.endswith("\n") else t + "\n" for i, t in junk.items()}
    return build(fmt, n, encoding=encoding, bad_bytes=bad_bytes, bad_times=bad_times, junk=junk,
                 compress=draw(st.booleans()))


@FIXED
@given(export=damaged_exports())
def test_structured_damage_completeness(tmp_path_factory, export):
    complete(load(export, tmp_path_factory.mktemp("damage")), export)


def test_gzip_damage_keeps_what_came_before(tmp_path):
    export = build("winevent_csv", 2000, encoding="utf-16-le")
    data = bytearray(gzip.compress(export.data))
    data[len(data) * 3 // 4] ^= 0xFF
    path = tmp_path / "x.csv.gz"
    path.write_bytes(bytes(data))
    r = balanced(load_events(path, tz="UTC"))
    assert 0 < r.loaded < 2000 and "gzip" in r.rejected.iloc[-1]["reason"]


# ---- 9. rejected raw text is capped and counted ----------------------------------------------


def test_rejected_raw_text_is_capped_and_counted(tmp_path):
    from activation_kb.telemetry._build import CUT_MARK, RAW_LIMIT

    path = tmp_path / "x.xml"
    huge = event_xml(rid=2, data=("y" * 100_000,)).replace("<EventRecordID>2", "<EventRecordIX>2")
    path.write_text(event_xml(rid=1) + huge + event_xml(rid=3, time="yesterday"))
    r = balanced(load_events(path))
    assert r.n_rejected == 2 and r.rejected_raw_cut == 1
    assert r.rejected["raw"].str.len().max() <= RAW_LIMIT + len(CUT_MARK)
    assert r.rejected.iloc[0]["raw"].endswith(CUT_MARK)
    assert not r.rejected.iloc[1]["raw"].endswith(CUT_MARK)
    assert r.summary()["rejected_raw_cut"] == 1
