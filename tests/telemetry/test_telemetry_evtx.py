"""Tests for binary EVTX reading (Rust ``evtx`` parser) and its evtx_dump JSON rendering.

The real sample (``../shared/activation-samples``, skipped when absent) holds 2,216 records, 418
of them from the Software Protection provider. Records present are counted here without the
reader: from the chunk headers (first and last record identifiers, checksums checked with zlib)
and by walking each chunk's chain of records (``**\\0\\0``, size, copy of the size).
"""

from __future__ import annotations

import gzip
import os
import re
import struct
import time
import zlib

import evtx
import pandas as pd
import pytest
from conftest import SHARED, TEST_DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation_kb.errors import TelemetryError
from activation_kb.schema import validate_events
from activation_kb.telemetry import PROVIDERS, load_events
from activation_kb.telemetry import _evtxrows as rows
from activation_kb.telemetry._xml import safe_parser

D = TEST_DATA / "telemetry"
SAMPLES = SHARED / "activation-samples"
SAMPLE = SAMPLES / "hayabusa-sample-evtx_DeepBlueCLI_many-events-application.evtx"
H, C = 0x1000, 0x10000
SPP = re.compile('<Provider Name="(?:' + "|".join(map(re.escape, PROVIDERS)) + ')"')
PROVENANCE = ["source_file", "source_format", "source_record"]
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 25)), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def balanced(r):
    assert r.records == r.loaded + r.n_rejected + r.duplicates
    assert r.skipped == sum(f["skipped"] for f in r.files)
    for f in r.files:
        assert f["records"] == f["loaded"] + f["rejected"] + f["duplicates"]
    validate_events(r.events)
    assert r.rejected["reason"].str.len().gt(0).all()
    assert r.rejected["source_record"].notna().all()
    return r


def accounted(r) -> int:
    """Every record the reader met: loaded, rejected, duplicate or skipped."""
    return r.loaded + r.n_rejected + r.duplicates + r.skipped


# ---- counting records without the reader ---------------------------------------------------


def chunk_ranges(data: bytes) -> list[tuple[int, int, int]]:
    """(chunk index, first, last record identifier) of each whole chunk with intact header."""
    out = []
    for k in range((len(data) - H) // C):
        chunk = data[H + k * C: H + (k + 1) * C]
        crc = zlib.crc32(chunk[:120] + chunk[128:512])
        if chunk[:8] == b"ElfChnk\x00" and struct.unpack_from("<I", chunk, 124)[0] == crc:
            first, last = struct.unpack_from("<2Q", chunk, 24)
            out.append((k, first, last))
    return out


def walked_ids(data: bytes) -> list[int]:
    """Record identifiers found by following each chunk's chain of records."""
    ids = []
    for k, _, _ in chunk_ranges(data):
        chunk = data[H + k * C: H + (k + 1) * C]
        pos, free = 512, struct.unpack_from("<I", chunk, 48)[0]
        while pos + 24 <= free and chunk[pos:pos + 4] == b"**\x00\x00":
            size, rid = struct.unpack_from("<IQ", chunk, pos + 4)
            assert struct.unpack_from("<I", chunk, pos + size - 4)[0] == size
            ids.append(rid)
            pos += size
    return ids


class _Sample(dict):
    def __repr__(self) -> str:  # hypothesis prints fixtures of a failing example
        return "<the real EVTX sample>"


@pytest.fixture(scope="module")
def sample() -> dict:
    """The real sample's bytes, its intact load, and the Software Protection record ids."""
    if not SAMPLE.is_file():
        pytest.skip(f"{SAMPLE} is not present (read-only material beside the project)")
    data = SAMPLE.read_bytes()
    spp = {r["event_record_id"] for r in evtx.PyEvtxParser(str(SAMPLE)).records()
           if SPP.search(r["data"])}
    return _Sample(data=data, present=sum(b - a + 1 for _, a, b in chunk_ranges(data)),
                   spp=spp, intact=load_events(SAMPLE))


def damaged(tmp_path, data: bytes, name: str = "damaged.evtx"):
    path = tmp_path / name
    path.write_bytes(data)
    return balanced(load_events(path))


def ids(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


# ---- the real sample -------------------------------------------------------------------------


def test_real_sample_loads_its_software_protection_records(sample):
    r = balanced(sample["intact"])
    assert sample["present"] == len(walked_ids(sample["data"])) == 2216
    assert (r.loaded, r.n_rejected, r.duplicates) == (418, 0, 0)
    assert r.records + r.skipped == accounted(r) == sample["present"]
    assert set(r.events["record_id"]) == sample["spp"]  # skipped: exactly the other providers
    assert list(r.events["source_record"]) == list(r.events["record_id"])
    assert set(r.events["provider"]) == {"Microsoft-Windows-Security-SPP"}
    assert r.files[0]["skipped"] == r.skipped == 2216 - 418
    checks = r.events[r.events["event_kind"] == "status_check"]
    assert len(checks) > 0 and checks["app_id"].notna().all()


def test_real_sample_equals_its_python_evtx_and_evtx_rs_renderings(sample):
    evtx_events = sample["intact"].events
    xml = balanced(load_events(SAMPLES / "many-events-application_Security-SPP_python-evtx.xml"))
    jsonl = balanced(load_events(SAMPLES / "many-events-application_Security-SPP_evtx-rs.jsonl"))
    assert [f["format"] for f in jsonl.files] == ["evtx_json"]
    assert set(jsonl.events["source_format"].astype(str)) == {"evtx"}  # EVTX records, other tool
    for other in (xml.events, jsonl.events):  # every canonical column, provenance aside
        pd.testing.assert_frame_equal(evtx_events.drop(columns=PROVENANCE),
                                      other.drop(columns=PROVENANCE))


def test_every_software_protection_record_of_the_sample_is_read_without_lxml(sample):
    records = [(r["event_record_id"], r["data"])
               for r in evtx.PyEvtxParser(str(SAMPLE), indent=False).records()]
    plain = {rid: rows._plain(rid, xml) for rid, xml in records}
    assert all(plain[rid] is not None for rid in sample["spp"])  # evtx still renders as read
    parsed = rows._parsed(records, safe_parser())
    assert [plain[rid] for rid, _ in records if plain[rid] is not None] == [
        got for (rid, _), got in zip(records, parsed) if plain[rid] is not None]


def test_overlapping_copies_and_gzip(sample, tmp_path):
    (tmp_path / "a.evtx").write_bytes(sample["data"])
    (tmp_path / "b.evtx.gz").write_bytes(gzip.compress(sample["data"]))
    r = balanced(load_events([tmp_path / "a.evtx", tmp_path / "b.evtx.gz"]))
    assert (r.loaded, r.duplicates, r.skipped) == (418, 418, 2 * 1798)
    assert [f["format"] for f in r.files] == ["evtx", "evtx"]
    gz = balanced(load_events(tmp_path / "b.evtx.gz")).events
    pd.testing.assert_frame_equal(gz.drop(columns="source_file"),
                                  sample["intact"].events.drop(columns="source_file"))


# ---- damage: every record present is loaded, skipped or rejected with its number -----------


def test_bad_chunk_signature_rejects_that_chunks_records(sample, tmp_path):
    data = bytearray(sample["data"])
    data[H + C: H + C + 8] = b"XXXXXXXX"
    r = damaged(tmp_path, bytes(data))
    _, first, last = chunk_ranges(sample["data"])[1]
    assert accounted(r) == sample["present"]
    assert list(r.rejected["source_record"]) == ids(first, last)
    assert r.rejected["reason"].str.startswith("damaged EVTX chunk 2 (bad ElfChnk signature)").all()
    assert r.loaded == len({i for i in sample["spp"] if not first <= i <= last})


@pytest.mark.parametrize("offset", [30, 60, 124], ids=["last-record-field", "unused", "checksum"])
def test_flipped_chunk_header_byte_keeps_intact_records(sample, tmp_path, offset):
    data = bytearray(sample["data"])
    data[H + C + offset] ^= 0xFF  # header checksum fails; the records' own checksum holds
    r = damaged(tmp_path, bytes(data))
    assert (r.loaded, r.n_rejected, accounted(r)) == (418, 0, sample["present"])


def test_changed_record_byte_rejects_its_chunk_and_nothing_wrong_loads(sample, tmp_path):
    data = bytearray(sample["data"])
    data[H + 2 * C + 0x3000] ^= 0x01  # inside a record of chunk 3
    r = damaged(tmp_path, bytes(data))
    _, first, last = chunk_ranges(sample["data"])[2]
    assert accounted(r) == sample["present"]
    assert sorted(r.rejected["source_record"]) == ids(first, last)
    assert r.rejected["reason"].str.contains("checksum of its records does not match").all()
    intact = sample["intact"].events.set_index("record_id")
    pd.testing.assert_frame_equal(r.events.drop(columns="source_file").set_index("record_id"),
                                  intact.drop(columns="source_file").loc[r.events["record_id"]])


def _checksums(data: bytearray, k: int) -> bytearray:
    """Recompute chunk ``k``'s checksums, as Windows does when it writes damaged records."""
    chunk = H + k * C
    free = struct.unpack_from("<I", data, chunk + 48)[0]
    struct.pack_into("<I", data, chunk + 52, zlib.crc32(data[chunk + 512: chunk + free]))
    struct.pack_into("<I", data, chunk + 124,
                     zlib.crc32(data[chunk: chunk + 120] + data[chunk + 128: chunk + 512]))
    return data


def test_unreadable_record_is_named_by_the_parser(sample, tmp_path):
    data = bytearray(sample["data"])
    data[H + C + 0x2000: H + C + 0x2100] = b"\xff" * 256  # binary XML of record 141 and after
    r = damaged(tmp_path, bytes(_checksums(data, 1)))
    assert accounted(r) == sample["present"]
    reasons = dict(zip(r.rejected["source_record"], r.rejected["reason"]))
    assert reasons[141].startswith("damaged EVTX record in chunk 2 (the parser says: Failed "
                                   "to parse record number 141")
    assert sorted(reasons) == ids(141, 222)  # the records before it load


@pytest.mark.parametrize("chunk", [1, 20], ids=["middle", "last-used"])
def test_zeroed_chunk_records_are_named_from_its_neighbours(sample, tmp_path, chunk):
    data = bytearray(sample["data"])
    data[H + chunk * C: H + (chunk + 1) * C] = bytes(C)
    r = damaged(tmp_path, bytes(data))
    _, first, last = chunk_ranges(sample["data"])[chunk]
    assert accounted(r) == sample["present"]
    assert list(r.rejected["source_record"]) == ids(first, last)
    assert r.rejected["reason"].str.startswith(f"damaged EVTX chunk {chunk + 1} (zeroed").all()


def test_zeroed_first_chunk_is_reported_though_its_records_cannot_be_counted(sample, tmp_path):
    data = bytearray(sample["data"])
    data[H: H + C] = bytes(C)
    r = damaged(tmp_path, bytes(data))
    _, first, last = chunk_ranges(sample["data"])[0]
    assert r.n_rejected == 1 and "chunk(s) 1 cannot be counted" in r.rejected.iloc[0]["reason"]
    assert accounted(r) == sample["present"] - (last - first + 1) + 1
    assert r.loaded == len({i for i in sample["spp"] if i > last})


def _whole_before(data: bytes, k: int, limit: int) -> list[int]:
    """Identifiers of the records of chunk ``k`` whose bytes all lie before ``limit``."""
    chunk, pos, out = data[H + k * C: H + (k + 1) * C], 512, []
    while chunk[pos:pos + 4] == b"**\x00\x00":
        size, rid = struct.unpack_from("<IQ", chunk, pos + 4)
        if pos + size > limit:
            break
        out.append(rid)
        pos += size
    return out


def test_file_cut_inside_a_chunk(sample, tmp_path):
    r = damaged(tmp_path, sample["data"][: H + 3 * C + 5000])
    _, first, last = chunk_ranges(sample["data"])[3]
    whole = _whole_before(sample["data"], 3, 5000)
    assert len(whole) > 0 and accounted(r) == sample["present"]
    reasons = r.rejected.set_index("source_record")["reason"]
    assert list(reasons.index) == ids(whole[-1] + 1, 2216)
    assert reasons.loc[last].startswith("truncated: the file ends inside chunk 4 (5,000 of")
    assert reasons.loc[2216].startswith("truncated: the header declares 21 chunks, the file "
                                        "holds 4")
    assert set(r.events["record_id"]) == {i for i in sample["spp"] if i <= whole[-1]}


def test_file_cut_at_a_chunk_boundary(sample, tmp_path):
    r = damaged(tmp_path, sample["data"][: H + 3 * C])
    _, _, last = chunk_ranges(sample["data"])[2]
    assert accounted(r) == sample["present"]
    assert list(r.rejected["source_record"]) == ids(last + 1, 2216)
    assert r.rejected.iloc[-1]["reason"].startswith("truncated: the header declares 21 chunks, "
                                                    "the file holds 3")
    assert r.loaded == len({i for i in sample["spp"] if i <= last})


def test_header_only_file(sample, tmp_path):
    r = damaged(tmp_path, sample["data"][:H])
    assert (r.loaded, r.n_rejected) == (0, 1)
    assert "cannot be counted" in r.rejected.iloc[0]["reason"]
    empty = bytearray(sample["data"][:H])
    struct.pack_into("<QQQ", empty, 8, 0, 0, 1)
    struct.pack_into("<H", empty, 42, 0)
    struct.pack_into("<I", empty, 124, zlib.crc32(empty[:120]))
    assert damaged(tmp_path, bytes(empty), "empty.evtx").records == 0  # a log never written


def test_42_byte_file_is_refused_with_its_name(sample, tmp_path):
    path = tmp_path / "cut.evtx"
    path.write_bytes(sample["data"][:42])
    with pytest.raises(TelemetryError, match=r"cut\.evtx: truncated EVTX file: 42 bytes, "
                                             r"shorter than its 4,096-byte file header"):
        load_events(path)
    with pytest.raises(TelemetryError, match=r"not an EVTX file"):
        load_events(D / "synthetic_client.xml", format="evtx")


def test_on_error_raise_names_the_file_and_record(sample, tmp_path):
    data = bytearray(sample["data"])
    data[H + C: H + 2 * C] = bytes(C)
    path = tmp_path / "zeroed.evtx"
    path.write_bytes(bytes(data))
    with pytest.raises(TelemetryError, match=r"zeroed\.evtx: record 126: damaged EVTX chunk 2"):
        load_events(path, on_error="raise")


def _rotated(data: bytes, oldest: int) -> bytearray:
    """The sample as a log that wrapped: its used chunks in a ring whose oldest is at ``oldest``."""
    used = [data[H + k * C: H + (k + 1) * C] for k, _, _ in chunk_ranges(data)]
    out = bytearray(data[:H]) + bytearray(len(used) * C)
    for logical, chunk in enumerate(used):
        slot = (oldest + logical) % len(used)
        out[H + slot * C: H + (slot + 1) * C] = chunk
    struct.pack_into("<QQ", out, 8, oldest, (oldest - 1) % len(used))
    struct.pack_into("<I", out, 124, zlib.crc32(out[:120]))
    return out


def test_damaged_chunk_after_a_damaged_header_loses_nothing(sample, tmp_path):
    data = bytearray(sample["data"])
    data[H + 384] = 1  # chunk 1: a header byte (its checksum fails, its records are intact)
    data[H + C + 19328] = 0  # chunk 2: a record byte (its records' checksum fails)
    r = damaged(tmp_path, bytes(data))
    _, first, last = chunk_ranges(sample["data"])[1]
    assert accounted(r) == sample["present"]
    assert list(r.rejected["source_record"]) == ids(first, last)
    assert set(r.events["record_id"]) == {i for i in sample["spp"] if not first <= i <= last}


def test_wrapped_log_with_zeroed_chunks(sample, tmp_path):
    data = _rotated(sample["data"], oldest=5)
    assert balanced(load_events(_write(tmp_path, data))).loaded == 418
    ranges = {k: (a, b) for k, a, b in chunk_ranges(bytes(data))}
    for slot in (20, 4):  # the last slot in the file, and the newest chunk
        data[H + slot * C: H + (slot + 1) * C] = bytes(C)
    r = balanced(load_events(_write(tmp_path, data)))
    assert accounted(r) == sample["present"]
    assert sorted(r.rejected["source_record"]) == sorted(ids(*ranges[20]) + ids(*ranges[4]))


def _write(tmp_path, data) -> os.PathLike:
    path = tmp_path / f"log{time.perf_counter_ns()}.evtx"
    path.write_bytes(bytes(data))
    return path


@FUZZ
@given(st.data())
def test_random_damage_never_loses_or_corrupts_a_record(sample, tmp_path_factory, data):
    blob = bytearray(sample["data"])
    for _ in range(data.draw(st.integers(1, 4))):  # the file signature aside (tested above)
        pos = data.draw(st.integers(8, len(blob) - 1))
        new = data.draw(st.binary(min_size=1, max_size=16))
        blob[pos: pos + len(new)] = new[: len(blob) - pos]
    path = tmp_path_factory.mktemp("evtx") / "x.evtx"
    path.write_bytes(bytes(blob))
    r = balanced(load_events(path))
    uncounted = int(r.rejected["reason"].str.contains("cannot be counted").sum())
    if uncounted:  # a chunk and both its neighbours' headers damaged: said, not hidden
        assert accounted(r) - uncounted < sample["present"]
    else:
        assert accounted(r) == sample["present"]
    intact = sample["intact"].events.drop(columns="source_file").set_index("record_id")
    got = r.events.drop(columns="source_file").set_index("record_id")
    assert got.index.isin(intact.index).all()
    pd.testing.assert_frame_equal(got, intact.loc[got.index])  # nothing changed loads


# ---- the fast reading of rendered records equals lxml's ------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


def _escape(text: str, quote: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


@settings(max_examples=300, deadline=None)
@given(name=_TEXT, source=st.none() | _TEXT, eid=st.sampled_from(["12288", "", "x&y", "1003"]),
       time_=_TEXT, host=_TEXT, items=st.lists(st.tuples(st.none() | _TEXT, _TEXT), max_size=5),
       binary=st.booleans())
def test_plain_reading_equals_lxml(name, source, eid, time_, host, items, binary):
    attrs = f' Name="{_escape(name, True)}"' + (
        f' EventSourceName="{_escape(source, True)}"' if source is not None else "")
    data = "".join((f'<Data Name="{_escape(n, True)}">' if n is not None else "<Data>")
                   + _escape(t) + "</Data>" for n, t in items)
    xml = ('<?xml version="1.0" encoding="utf-8"?>\n<Event xmlns="http://schemas.microsoft.com/'
           f'win/2004/08/events/event"><System><Provider{attrs}></Provider>'
           f'<EventID Qualifiers="16384">{_escape(eid)}</EventID><Version>0</Version>'
           f'<Level>4</Level><TimeCreated SystemTime="{_escape(time_, True)}"></TimeCreated>'
           "<EventRecordID>7</EventRecordID><Correlation></Correlation>"
           '<Execution ProcessID="0" ThreadID="0"></Execution><Channel>Application</Channel>'
           f"<Computer>{_escape(host)}</Computer><Security></Security></System>"
           + (f"<EventData>{data}{'<Binary></Binary>' if binary else ''}</EventData>"
              if items or binary else "") + "</Event>")
    plain = rows._plain(7, xml)
    (parsed,) = rows._parsed([(7, xml)], safe_parser())
    if plain is not None:
        assert plain == parsed
    else:  # only what XML forbids, or python-evtx's <string> shape, goes the slow way
        assert rows._NOT_XML.search(xml) or "&lt;string&gt;" in xml


def test_patterns_stay_linear_on_hostile_text():
    worst = ('<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
             "<Provider" + ' a=""' * 20000 + "<EventData>" + "<Data>x</Data>" * 10000)
    t = time.perf_counter()
    assert rows._plain(1, worst) is None
    for pattern in (rows._SYSTEM, rows._EVENT_DATA, rows._DATA_ITEM, rows._ATTR):
        pattern.search(worst)
    assert time.perf_counter() - t < 1.0


# ---- evtx_dump JSON lines --------------------------------------------------------------------


def test_evtx_json_lines():
    r = balanced(load_events(D / "synthetic_evtx_rs.jsonl"))
    assert list(r.events["event_kind"].astype(str)) == [
        "kms_request", "kms_host_request", "activation_failure"]
    assert list(r.events["code"]) == ["0xC004F074", "0xC004F06C", "0xC004F074"]
    assert r.events.iloc[2]["trigger"] == "UserLogon"  # named <Data> items
    assert list(r.rejected["source_record"]) == [4]


def test_evtx_json_lines_of_other_providers_are_skipped(tmp_path):
    lines = (D / "synthetic_evtx_rs.jsonl").read_text().splitlines()
    other = lines[0].replace("Microsoft-Windows-Security-SPP", "MsiInstaller")
    classic = lines[0].replace('"Name": "Microsoft-Windows-Security-SPP"',
                               '"EventSourceName": "Software Protection Platform Service"')
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([lines[0], other, other, classic]) + "\n")
    r = balanced(load_events(path))
    assert (r.loaded + r.duplicates, r.skipped, r.records) == (2, 2, 2)
    assert list(r.events["event_kind"].astype(str)) == ["kms_request"]  # same record twice
