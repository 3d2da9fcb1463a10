"""Many files load in groups on all cores with the same result as one by one."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
from conftest import TEST_DATA

from activation_kb import load_events, simulate_fleet, write_events
from activation_kb.telemetry._load import _load_each, combine_parts
from activation_kb.telemetry._parallel import read_files


def _folder(tmp_path):
    events, _ = simulate_fleet(80, 5, seed=9)
    folder = tmp_path / "exports"
    folder.mkdir()
    for i, (host, part) in enumerate(events.groupby(events["host"].astype(str), sort=True)):
        suffix = (".xml", ".csv", ".xml.gz")[i % 3]  # formats mixed in one folder
        write_events(part, folder / f"{host}{suffix}")
    for name in ("synthetic_damaged_middle.xml", "synthetic_truncated.xml",
                 "synthetic_client_cut.xml.gz", "synthetic_client.xml"):
        shutil.copy(TEST_DATA / "telemetry" / name, folder / name)
    write_events(events.head(200), folder / "overlap.parquet")  # duplicates of other files
    return sorted(p for p in folder.iterdir())


def _equal(a, b):
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.rejected, b.rejected)
    assert a.files == b.files
    assert (a.records, a.loaded, a.duplicates) == (b.records, b.loaded, b.duplicates)


def test_grouped_loading_matches_one_by_one(tmp_path):
    files = _folder(tmp_path)
    reference = _load_each(files, None, None, "quarantine")
    assert reference.n_rejected == 3 and reference.duplicates >= 200
    _equal(load_events(files), reference)


def test_two_worker_processes_match_one(tmp_path):
    files = _folder(tmp_path)
    reference = _load_each(files, None, None, "quarantine")
    parts = read_files(files, None, None, "quarantine", workers=2)
    assert len(parts) > 1  # really split between processes
    frames = [p.frame for p in parts if len(p.frame)]
    owner = np.concatenate([p.owner for p in parts if len(p.frame)])
    result = combine_parts(frames, owner, [s for p in parts for s in p.stats],
                           [r for p in parts for r in p.rejected])
    _equal(result, reference)


def test_local_time_files_keep_their_own_date_format(tmp_path):
    # US (%m/%d) and day-first (%d/%m) Get-WinEvent exports in one load: each file's times are
    # read in its own format, as one by one (built together, the first file's would be used)
    files = sorted((TEST_DATA / "telemetry").glob("synthetic_winevent_*.csv"))
    assert len(files) > 1
    reference = _load_each(files, None, "Europe/Paris", "quarantine")
    assert reference.n_rejected == 0 and reference.duplicates == 10
    _equal(load_events(files, tz="Europe/Paris"), reference)
