"""Ingesting a share as it really is (issue 12, point 3): files that are not exports are listed
as skipped with the reason, never stored nor logged, and do not fail the ingest; ``strict`` makes
them an error before anything is written. A store's analysis does not change."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner
from export_share import assert_strict_refusal, make_share

from activation_kb import analyze_fleet, ingest
from activation_kb.cli import cli
from activation_kb.errors import TelemetryError
from activation_kb.store import read_log


@pytest.fixture
def share(tmp_path):
    return make_share(tmp_path / "share")


def _stored(store) -> int:
    return sum(len(pd.read_parquet(p)) for p in store.glob("day=*/*.parquet"))


def test_ingest_skips_what_is_not_an_export_and_says_why(share, tmp_path):
    store = tmp_path / "store"
    result = ingest(share.folder, store, workers=2)
    skipped = {share.rel(s["path"]): s["reason"] for s in result.skipped_files}
    assert set(skipped) == set(share.not_exports)
    for name, word in share.not_exports.items():
        assert word in skipped[name], (name, skipped[name])
    # counted from what was written: every export ingested, every record stored once
    assert sorted(share.rel(f["path"]) for f in result.files) == sorted(share.exports)
    assert {f["status"] for f in result.files} == {"ingested"}
    assert result.records == result.loaded == len(share.events) == _stored(store)
    log = read_log(store)
    assert sorted(share.rel(p) for p in log["path"]) == sorted(share.exports)
    assert (log["format"] == "wevtutil_xml").all()  # no README logged as an empty "ingest"
    assert result.summary()["skipped_files"] == result.skipped_files

    again = ingest(share.folder, store)  # the clutter is looked at again, never logged
    assert {share.rel(s["path"]) for s in again.skipped_files} == set(share.not_exports)
    assert len(again.skipped) == len(share.exports) and again.records == 0
    assert len(read_log(store)) == len(share.exports) and _stored(store) == len(share.events)


def test_ingest_strict_refuses_before_writing_anything(share, tmp_path):
    store = tmp_path / "store"
    with pytest.raises(TelemetryError, match=rf"^{len(share.not_exports)} file\(s\) are not "
                                             r"event exports \(strict\): "):
        ingest(share.folder, store, strict=True)
    assert not store.exists()
    clutter = tmp_path / "clutter"
    clutter.mkdir()
    (clutter / "README.md").write_text("# exports arrive tomorrow\n")
    (clutter / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
    with pytest.raises(TelemetryError, match=r"none of the 2 files is an event export"):
        ingest(clutter, store)  # no export at all: an error, not an empty success
    assert not store.exists()


def test_cli_ingest_lists_skipped_files_and_strict_exits_2(share, tmp_path):
    store = tmp_path / "store"
    run = CliRunner().invoke(cli, ["events", "ingest", str(share.folder), "--store", str(store),
                                   "--workers", "1"])
    assert run.exit_code == 0, run.output
    assert run.output.startswith(f"ingested {len(share.exports)} file(s) into ")
    assert f"skipped (not event exports): {len(share.not_exports)}\n" in run.output
    listed = [line for line in run.output.splitlines() if line.startswith("  SKIPPED ")]
    assert {share.rel(line[10:].split(": ", 1)[0]) for line in listed} == set(share.not_exports)
    data = json.loads(CliRunner().invoke(cli, ["events", "ingest", str(share.folder), "--store",
                                               str(store), "--json"]).output)
    assert len(data["skipped_files"]) == len(share.not_exports) and data["records"] == 0

    other = tmp_path / "strict-store"
    strict = subprocess.run([sys.executable, "-m", "activation_kb", "events", "ingest",
                             str(share.folder), "--store", str(other), "--strict"],
                            capture_output=True, text=True, timeout=120)
    assert_strict_refusal(strict, f"{len(share.not_exports)} file(s) are not event exports "
                                  "(strict): ")
    assert not other.exists()


def test_a_store_analysis_is_unaffected(share, tmp_path):
    store = tmp_path / "store"
    ingest(share.folder, store, workers=1)
    from_store = analyze_fleet(store, freq="D")
    from_share = analyze_fleet(share.folder, freq="D")
    assert from_store.skipped_files == [] and from_store.quality["skipped_files"] == []
    assert {share.rel(s["path"]) for s in from_share.skipped_files} == set(share.not_exports)
    assert from_store.summary == from_share.summary
    assert {k: v for k, v in from_store.quality.items() if k != "skipped_files"} == \
        {k: v for k, v in from_share.quality.items() if k != "skipped_files"}
    pd.testing.assert_frame_equal(from_store.incidents, from_share.incidents)
