"""The column-wise XML writer: same text as the row renderer, one file per host, speed path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation_kb import schema as S
from activation_kb.errors import TelemetryError
from activation_kb.simulate import simulate_fleet
from activation_kb.telemetry import _write, load_events
from activation_kb.telemetry._write import host_file_names, write_events, write_events_by_host
from activation_kb.telemetry._xmlrender import render_event_xml, render_events_xml


def rows_one_by_one(ev: pd.DataFrame) -> list[str]:
    """The reference: every row through render_event_xml, prepared as a dict."""
    cols = [c for c in S.EVENT_COLUMNS if c not in (S.EVENT_TIME, S.CLIENT_TIME)]
    records = ev[cols].astype(object).where(ev[cols].notna(), None).to_dict("records")
    out = []
    for r, t, ct in zip(records, ev[S.EVENT_TIME], ev[S.CLIENT_TIME]):
        ticks = t.microsecond * 10 + t.nanosecond // 100
        r["_st"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ticks:07d}Z"
        r[S.CLIENT_TIME] = None if pd.isna(ct) else (ct.year, ct.month, ct.day, ct.hour, ct.minute)
        out.append(render_event_xml(r))
    return out


def test_simulated_fleet_renders_exactly_like_the_row_renderer():
    events = S.coerce_events(simulate_fleet(150, 10, seed=3)[0])
    assert set(events["event_id"]) >= {12288, 12289, 12290, 8198, 8233, 1003}
    assert render_events_xml(events).to_pylist() == rows_one_by_one(events)


_CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"])
_TEXT = st.one_of(st.none(), st.text(alphabet=_CHARS, max_size=12),
                  st.sampled_from(["<b>", "a&b", '"q"', "\x01\x0b"]))
_IDS = st.one_of(st.none(), st.sampled_from([12288, 12289, 12290, 8198, 8233, 12293, 12308, 1003,
                                             12294, 7, 0]))
_INTS = st.one_of(st.none(), st.integers(0, 2**16 - 1))
_NS = st.integers(-2**62, 2**62)


@st.composite
def frames(draw):
    n = draw(st.integers(1, 25))
    col = lambda s: draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    frame = pd.DataFrame({
        S.EVENT_TIME: pd.to_datetime(col(_NS), unit="ns", utc=True),
        S.HOST: col(st.text(min_size=1, max_size=8)),
        S.EVENT_ID: col(_IDS),
        S.PROVIDER: col(st.one_of(_TEXT, st.sampled_from(["Microsoft-Windows-Security-SPP",
                                                          "Microsoft-Windows-Security-Licensing-SLC"]))),
        S.LEVEL: col(st.sampled_from([None, "error", "warning", "info"])),
        S.CHANNEL: col(_TEXT), S.RECORD_ID: col(st.one_of(st.none(), st.integers(0, 2**62))),
        S.RESULT_CODE: col(st.one_of(st.none(), st.integers(0, 2**32 - 1))),
        S.STATUS_FLAGS: col(st.one_of(st.none(), st.integers(0, 2**32 - 1))),
        S.KMS_HOST: col(_TEXT), S.KMS_PORT: col(_INTS), S.CMID: col(_TEXT),
        S.CLIENT_NAME: col(_TEXT), S.SKU_ID: col(_TEXT), S.APP_ID: col(_TEXT),
        S.TRIGGER: col(_TEXT),
        S.CLIENT_TIME: pd.to_datetime(col(st.one_of(st.none(), _NS)), unit="ns"),
        S.IS_VM: col(st.sampled_from([None, True, False])),
        S.IS_SUCCESS: col(st.sampled_from([None, True, False])),
        S.LICENSE_STATUS: col(st.one_of(st.none(), st.integers(-128, 127))),
        S.MINUTES_TO_EXPIRY: col(st.one_of(st.none(), st.integers(-2**31, 2**31 - 1))),
        S.MIN_COUNT: col(st.one_of(st.none(), st.integers(0, 2**15 - 1))),
        S.KMS_COUNT: col(st.one_of(st.none(), st.integers(0, 2**15 - 1))),
        S.ACTIVATION_INTERVAL_MIN: col(_INTS), S.RENEWAL_INTERVAL_MIN: col(_INTS),
    })
    return S.coerce_events(frame)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_any_frame_renders_exactly_like_the_row_renderer(events):
    assert render_events_xml(events).to_pylist() == rows_one_by_one(events)


def test_host_file_names_never_collide():
    names = host_file_names(["pc 1", "pc_1", "PC_1", "a/b", "", "pc_1"], ".xml")
    assert names[:4] == ["pc_1.xml", "pc_1~2.xml", "PC_1~3.xml", "a_b.xml"]
    assert len({n.casefold() for n in names}) == len(names)
    assert all("/" not in n for n in names)


@pytest.mark.parametrize("batch", [7, 100_000])
def test_one_file_per_host_loads_back_every_event(tmp_path, monkeypatch, batch):
    monkeypatch.setattr(_write, "_BATCH", batch)  # 7: hosts span several render batches
    events = S.coerce_events(simulate_fleet(40, 6, seed=2)[0])
    events.loc[events.index[:3], S.HOST] = ["PC<1>", "pc<1>", "pc&1"]  # names that collide
    seen = []
    files = write_events_by_host(events, tmp_path / "out",
                                 on_file=lambda path, n: seen.append((path, n)))
    hosts = sorted(events[S.HOST].unique())
    assert len(files) == len(hosts) == len({f.name.casefold() for f in files})
    assert [n for _, n in seen] == [int((events[S.HOST] == h).sum()) for h in hosts]
    back = load_events(tmp_path / "out")
    assert back.records == back.loaded == len(events) and back.n_rejected == 0
    skip = {"raw", "message", "source_format", "source_file", "source_record", "site"}
    cols = [c for c in events.columns if c not in skip]
    for path, host in zip(files, hosts):
        mine = events[events[S.HOST] == host].reset_index(drop=True)
        got = load_events(path).events
        pd.testing.assert_frame_equal(got[cols], mine[cols].sort_values(
            [S.EVENT_TIME, S.HOST], kind="stable").reset_index(drop=True))


def test_single_file_batches_and_gzip_give_the_same_text(tmp_path, monkeypatch):
    events = S.coerce_events(simulate_fleet(30, 4, seed=4)[0])
    whole = write_events(events, tmp_path / "a.xml").read_bytes()
    monkeypatch.setattr(_write, "_BATCH", 11)
    assert write_events(events, tmp_path / "b.xml").read_bytes() == whole
    import gzip

    assert gzip.decompress(write_events(events, tmp_path / "c.xml.gz").read_bytes()) == whole
    assert whole.decode().count("<Event ") == len(events)


def test_event_without_host_is_refused(tmp_path):
    events = S.coerce_events(simulate_fleet(5, 2, seed=1)[0])
    events[S.HOST] = events[S.HOST].astype(object)
    events.loc[4, S.HOST] = None
    with pytest.raises(TelemetryError, match="row 4 has no host"):
        write_events_by_host(events, tmp_path)
    assert not np.any([p.suffix == ".xml" for p in tmp_path.iterdir()])
