"""The event store: ingest accounting, idempotence, rejected table, log, lock, crashes, pruning."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import DATA, TEST_DATA

from activation_kb import (
    StoreLockedError,
    StoreVersionError,
    ingest,
    load_events,
    simulate_fleet,
    store_info,
    write_events,
)
from activation_kb.cli import cli
from activation_kb.store import read_log, read_rejected, read_store
from activation_kb.store._lock import store_lock

SAMPLE = DATA / "sample" / "events.parquet"
TELEMETRY = TEST_DATA / "telemetry"


def _exports(tmp_path: Path, devices: int = 60, days: int = 6, seed: int = 3) -> Path:
    """One XML export per machine, as a fleet's share holds them."""
    events, _ = simulate_fleet(devices, days, seed=seed)
    folder = tmp_path / "exports"
    folder.mkdir()
    for host, part in events.groupby(events["host"].astype(str), sort=True):
        write_events(part, folder / f"{host}.xml")
    return folder


def _stored(store: Path) -> int:
    return sum(len(pd.read_parquet(p)) for p in store.glob("day=*/*.parquet"))


def test_ingest_accounts_for_every_record_and_partitions_by_utc_day(tmp_path):
    folder = _exports(tmp_path)
    store = tmp_path / "store"
    result = ingest(folder, store)
    reference = load_events(folder)
    assert result.records == result.loaded + result.rejected + result.duplicates
    assert result.records == reference.records and result.loaded == reference.loaded
    days = sorted(p.name for p in store.glob("day=*"))
    expected = sorted({f"day={d}" for d in reference.events["event_time"].dt.strftime("%Y-%m-%d")})
    assert days == expected
    for part in store.glob("day=*/*.parquet"):  # each file holds its own UTC day only
        times = pd.read_parquet(part, columns=["event_time"])["event_time"]
        assert set(times.dt.strftime("%Y-%m-%d")) == {part.parent.name[4:]}
    assert _stored(store) == reference.loaded
    stored = read_store(store).drop(columns=["source_record"])
    pd.testing.assert_frame_equal(stored, reference.events.drop(columns=["source_record"]))


def test_ingesting_the_same_folder_twice_adds_nothing_and_skips_every_file(tmp_path):
    folder = _exports(tmp_path)
    store = tmp_path / "store"
    first = ingest(folder, store)
    second = ingest(folder, store)
    assert second.records == 0 and second.loaded == 0
    assert len(second.skipped) == len(first.files) == len(list(folder.iterdir()))
    assert all("already ingested" in f["reason"] for f in second.skipped)
    assert _stored(store) == first.loaded
    assert len(read_log(store)) == len(first.files)  # skipped files are not logged again


def test_records_already_stored_are_duplicates_whatever_file_brings_them(tmp_path):
    folder = _exports(tmp_path)
    store = tmp_path / "store"
    first = ingest(folder, store)
    merged = load_events(folder).events
    write_events(merged, tmp_path / "all.csv")  # the same records, another file and format
    again = ingest(tmp_path / "all.csv", store)
    assert again.records == len(merged)
    assert again.duplicates == len(merged) and again.loaded == 0
    assert _stored(store) == first.loaded
    log = read_log(store)
    row = log[log["path"] == str((tmp_path / "all.csv").resolve())].iloc[0]
    assert (row["records"], row["loaded"], row["duplicates"]) == (len(merged), 0, len(merged))


def test_rejected_records_go_to_the_rejected_table_with_file_record_and_reason(tmp_path):
    store = tmp_path / "store"
    files = [TELEMETRY / "synthetic_damaged_middle.xml", TELEMETRY / "synthetic_truncated.xml",
             TELEMETRY / "synthetic_client.xml"]
    result = ingest(files, store)
    rejected = read_rejected(store)
    assert result.rejected == len(rejected) == 2
    assert set(rejected["source_file"]) == {str(files[0].resolve()), str(files[1].resolve())}
    assert rejected["source_record"].notna().all()
    assert rejected["reason"].str.contains("malformed XML").any()
    assert rejected["reason"].str.startswith("truncated").any()
    log = read_log(store)
    assert list(log.columns[:8]) == ["path", "sha256", "format", "bytes", "records", "loaded",
                                     "rejected", "duplicates"]
    assert (log["records"] == log["loaded"] + log["rejected"] + log["duplicates"]).all()
    assert log["sha256"].str.fullmatch(r"[0-9a-f]{64}").all()


def test_store_info_and_cli(tmp_path):
    folder = _exports(tmp_path)
    store = tmp_path / "store"
    runner = CliRunner()
    out = runner.invoke(cli, ["events", "ingest", str(folder), "--store", str(store), "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["ingested"] == len(list(folder.iterdir())) and summary["skipped"] == 0
    again = runner.invoke(cli, ["events", "ingest", str(folder), "--store", str(store)])
    assert again.exit_code == 0 and "skipped" in again.output and "0 stored" in again.output
    info = store_info(store)
    reference = load_events(folder)
    assert info["records"] == reference.loaded
    assert info["devices"] == reference.events["host"].nunique()
    assert info["days"] == len(list(store.glob("day=*")))
    assert info["last_ingest"]["files"] == len(list(folder.iterdir()))
    shown = runner.invoke(cli, ["events", "store", str(store)])
    assert shown.exit_code == 0
    assert f"{reference.loaded:,}" in shown.output and "last ingest" in shown.output
    missing = runner.invoke(cli, ["events", "store", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "not an event store" in missing.output


def test_a_store_written_by_a_newer_version_is_refused(tmp_path):
    store = tmp_path / "store"
    ingest(SAMPLE, store)
    meta = json.loads((store / "_store.json").read_text())
    meta["schema_version"] = 99
    (store / "_store.json").write_text(json.dumps(meta))
    for call in (lambda: ingest(SAMPLE, store), lambda: read_store(store),
                 lambda: store_info(store)):
        with pytest.raises(StoreVersionError, match="newer activation-kb.*99"):
            call()
    out = CliRunner().invoke(cli, ["events", "ingest", str(SAMPLE), "--store", str(store)])
    assert out.exit_code == 2 and "newer" in out.output


_HOLD = r"""
import sys, time
from pathlib import Path
from activation_kb.store._lock import store_lock
with store_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_ingest_exits_2_while_another_holds_the_lock_or_waits(tmp_path):
    store = tmp_path / "store"
    ingest(TELEMETRY / "synthetic_client.xml", store)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(store), "3"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError, match=f"pid {holder.pid}"):
            ingest(SAMPLE, store)
        out = CliRunner().invoke(cli, ["events", "ingest", str(SAMPLE), "--store", str(store)])
        assert out.exit_code == 2 and "locked by another ingest" in out.output
        started = time.monotonic()
        waited = ingest(SAMPLE, store, wait=30)  # waits for the holder to finish
        assert time.monotonic() - started > 0.5 and waited.loaded > 0
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_ingest_is_released(tmp_path):
    store = tmp_path / "store"
    ingest(TELEMETRY / "synthetic_client.xml", store)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(store), "60"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with store_lock(store):  # free again at once
        pass


_INGEST = r"""
import sys
from activation_kb import ingest
ingest(sys.argv[1], sys.argv[2], workers=1)
"""


def test_a_killed_ingest_leaves_a_readable_store_and_the_next_one_completes_it(tmp_path):
    folder = _exports(tmp_path, devices=150, days=10)
    clean = tmp_path / "clean"
    reference = ingest(folder, clean)
    store = tmp_path / "store"
    ingest(TELEMETRY / "synthetic_client.xml", store)
    before = read_store(store)
    for delay in (0.5, 1.5, 3.0):  # kill at several points of the run
        child = subprocess.Popen([sys.executable, "-c", _INGEST, str(folder), str(store)])
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        after = read_store(store)  # readable: whole files only, the old events all there
        assert len(after) >= len(before)
        left = list(store.glob("day=*/*.tmp"))  # pathlib's * also matches hidden names
        assert all(p.name.startswith(".") for p in left), left  # hidden: readers skip them
    ingest(folder, store)
    assert not list(store.glob("day=*/*.tmp"))  # the next ingest removed what a kill left
    final = read_store(store)
    assert len(final) == len(before) + reference.loaded
    log = read_log(store)
    assert log["path"].nunique() == len(log) == len(reference.files) + 1


def test_what_a_crash_left_uncommitted_is_removed_by_the_next_ingest(tmp_path):
    store = tmp_path / "store"
    ingest(TELEMETRY / "synthetic_client.xml", store)
    day = next(store.glob("day=*"))
    shutil.copy(next(day.glob("*.parquet")), day / "part-20990101T000000-deadbeef-000.parquet")
    (day / ".part-x.parquet.tmp").write_bytes(b"half")
    ingest(TELEMETRY / "synthetic_host.xml", store)
    assert not (day / "part-20990101T000000-deadbeef-000.parquet").exists()
    assert not (day / ".part-x.parquet.tmp").exists()
    assert len(read_store(store)) == 5 + 3


def test_reading_a_period_opens_only_its_days(tmp_path):
    store = tmp_path / "store"
    ingest(SAMPLE, store)
    sample = pd.read_parquet(SAMPLE)
    for part in store.glob("day=2026-01-2*/*.parquet"):  # days outside the period: unreadable
        part.write_bytes(b"not parquet")
    since, until = pd.Timestamp("2026-02-03", tz="UTC"), pd.Timestamp("2026-02-10 12:00", tz="UTC")
    got = load_events(store, since="2026-02-03", until="2026-02-10T12:00")
    want = sample[(sample["event_time"] >= since) & (sample["event_time"] < until)]
    assert got.loaded == len(want) == len(got.events)
    assert got.events["event_time"].min() >= since and got.events["event_time"].max() < until
    with pytest.raises(Exception):  # noqa: B017 - the damaged days are really unreadable
        load_events(store, since="2026-01-20", until="2026-01-22")
    with pytest.raises(ValueError, match="event store"):
        load_events(SAMPLE, since="2026-02-03")


def test_the_store_span_comes_from_footers_or_from_the_times(tmp_path):
    """First and last event times: the Parquet statistics when written, else the times read."""
    import pyarrow.parquet as pq

    from activation_kb.store._layout import day_dirs
    from activation_kb.store._read import store_span

    store = tmp_path / "store"
    ingest(_exports(tmp_path, devices=20, days=4), store)
    events = read_store(store)
    expected = (events["event_time"].min(), events["event_time"].max())
    assert store_span(store) == expected
    # the same days written without statistics: the times are read instead
    days = day_dirs(store)
    for folder in (days[min(days)], days[max(days)]):
        for path in folder.glob("*.parquet"):
            table = pq.read_table(path)
            pq.write_table(table, path, write_statistics=False)
            meta = pq.read_metadata(path)
            assert not any(meta.row_group(0).column(i).is_stats_set
                           for i in range(meta.num_columns))
    assert store_span(store) == expected
