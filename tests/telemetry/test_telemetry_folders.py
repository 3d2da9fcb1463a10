"""Issue 12: export folders as they really are. Files that are not exports are skipped and
listed with the reason; ``strict=True`` makes them an error; an export-looking file that is not
one is always an error."""

from __future__ import annotations

import gzip
import pickle
import shutil

import pandas as pd
import pytest
from conftest import TEST_DATA
from test_telemetry_load import balanced, event_xml

from activation_kb.errors import TelemetryError
from activation_kb.telemetry import load_events
from activation_kb.telemetry._file import FileResult, read_file
from activation_kb.telemetry._source import SkippedFile as Skipped

D = TEST_DATA / "telemetry"


def _folder(tmp_path):
    (tmp_path / "site1").mkdir()
    (tmp_path / "pc1.xml").write_text(event_xml(rid=1, host="pc1"))
    (tmp_path / "site1" / "pc2.xml.gz").write_bytes(gzip.compress(event_xml(rid=1, host="pc2")
                                                                 .encode()))
    (tmp_path / "README.md").write_text("<p align='center'>Exports of March</p>\n# Exports\n")
    (tmp_path / "notes.txt").write_text("Collected by Bob on Monday; pc3 was off.\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "desktop.ini").write_text("[.ShellClassInfo]\n")
    (tmp_path / "site1" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (tmp_path / "~$report.docx").write_bytes(b"lock")
    (tmp_path / "old-exports.zip").write_bytes(b"PK\x03\x04" + bytes(40))
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    return tmp_path


EXPECTED_SKIPS = {
    ".git": "hidden folder", ".DS_Store": "hidden file",
    "desktop.ini": "Windows folder settings, not an event export",
    "~$report.docx": "Office lock file, not an event export",
    "Thumbs.db": "Windows thumbnail cache, not an event export",
    "README.md": "cannot tell the format (starts with b\"<p align='center\"); not an event "
                 "export",
    "notes.txt": "cannot tell the format (starts with b'Collected by Bob'); not an event export",
    "empty.txt": "empty file, not an event export",
    "old-exports.zip": "cannot tell the format (a zip archive: extract it to load the exports "
                       "inside); not an event export",
}


def test_folder_as_it_really_is(tmp_path):
    r = balanced(load_events(_folder(tmp_path)))
    assert sorted(r.events["host"]) == ["pc1", "pc2"] and len(r.files) == 2
    got = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in r.skipped_files}
    assert got == EXPECTED_SKIPS
    assert r.summary()["skipped_files"] == r.skipped_files


def test_strict_makes_a_skipped_file_an_error(tmp_path):
    (tmp_path / "pc1.xml").write_text(event_xml(rid=1))
    (tmp_path / "notes.txt").write_text("not an export")
    assert len(load_events(tmp_path).skipped_files) == 1
    with pytest.raises(TelemetryError, match=r"1 file\(s\) are not event exports \(strict\): "
                                             r".*notes.txt \(cannot tell the format"):
        load_events(tmp_path, strict=True)
    (tmp_path / "notes.txt").unlink()
    (tmp_path / ".DS_Store").write_bytes(b"\x00")
    with pytest.raises(TelemetryError, match=r"\.DS_Store \(hidden file\)"):
        load_events(tmp_path, strict=True)


@pytest.mark.parametrize("name, content", [
    ("notes.csv", "just some notes, nothing else\n"),
    ("table.json", '{"a": 1}'),
    ("page.xml", "<html><body>not events</body></html>"),
    ("other.parquet.gz", "x"),
])
def test_an_export_looking_file_that_is_not_one_is_an_error(tmp_path, name, content):
    (tmp_path / "pc1.xml").write_text(event_xml(rid=1))
    (tmp_path / name).write_bytes(gzip.compress(content.encode()) if name.endswith(".gz")
                                  else content.encode())
    with pytest.raises(TelemetryError, match=name.replace(".", r"\.")):
        load_events(tmp_path)


def test_only_non_exports_is_an_error_naming_them(tmp_path):
    (tmp_path / "README.md").write_text("# nothing here yet\n")
    with pytest.raises(TelemetryError, match=r"README.md: cannot tell the format .*expected an "
                                             r"event export"):
        load_events(tmp_path)
    (tmp_path / "notes.txt").write_text("still nothing\n")
    with pytest.raises(TelemetryError, match=r"none of the 2 files is an event export"):
        load_events(tmp_path)


def test_named_files_and_globs_follow_the_same_rules(tmp_path):
    folder = _folder(tmp_path)
    shell_glob = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    r = balanced(load_events(shell_glob))
    assert len(r.files) == 1 and {s["path"].rsplit("/", 1)[1] for s in r.skipped_files} == {
        "README.md", "notes.txt", "empty.txt", "desktop.ini", "~$report.docx", "old-exports.zip"}
    r = balanced(load_events(str(folder / "**" / "*"), format=None))
    assert len(r.files) == 2
    # a hidden file named on its own is read: the user asked for it
    hidden = folder / ".pc9.xml"
    hidden.write_text(event_xml(rid=9, host="pc9"))
    assert list(balanced(load_events(hidden)).events["host"]) == ["pc9"]


def test_forced_format_reads_every_file_found(tmp_path):
    (tmp_path / "pc1.xml").write_text(event_xml(rid=1))
    (tmp_path / "notes.txt").write_text("not an export")
    (tmp_path / "desktop.ini").write_text("[x]")
    with pytest.raises(TelemetryError, match=r"notes.txt: no <Event> element found"):
        load_events(tmp_path, format="xml")


def test_per_file_path_pickles(tmp_path):
    """Worker processes read files apart: what they return must pickle."""
    got = read_file(D / "synthetic_damaged_middle.xml")
    assert isinstance(got, FileResult)
    back = pickle.loads(pickle.dumps(got))
    assert back.stats == got.stats and len(back.rejected) == 1
    assert back.frames[0].equals(got.frames[0])
    (tmp_path / "notes.txt").write_text("hello")
    skipped = read_file(tmp_path / "notes.txt")
    assert isinstance(skipped, Skipped) and pickle.loads(pickle.dumps(skipped)) == skipped


def test_grouped_and_parallel_reading_agree_with_one_by_one(tmp_path):
    """Folders read in groups (worker processes) give what files read one by one give."""
    import numpy as np

    from activation_kb.telemetry._load import _load_each, combine_parts
    from activation_kb.telemetry._parallel import read_files
    from activation_kb.telemetry._source import expand_paths

    folder = _folder(tmp_path)
    (folder / "pc3.xml").write_text(event_xml(rid=3, host="pc3")
                                    + event_xml(8198, 4, host="pc3", data=("hr=0x1C004F074",))
                                    + event_xml(rid=5, host="pc3", time="1601-01-01T00:00:00Z"))
    skipped = []
    files = expand_paths(folder, skipped)
    reference = _load_each(files, None, None, "quarantine", skipped)
    assert reference.n_rejected == 1 and len(reference.unreadable_values) == 1
    by_load = load_events(folder)
    parts = read_files(files, None, None, "quarantine", workers=2)
    frames = [p.frame for p in parts if len(p.frame)]
    owner = np.concatenate([p.owner for p in parts if len(p.frame)])
    by_workers = combine_parts(frames, owner, [s for p in parts for s in p.stats],
                               [r for p in parts for r in p.rejected],
                               unreadable=[u for p in parts for u in p.unreadable],
                               skipped_files=skipped, raw_cut=sum(p.raw_cut for p in parts))
    for other in (by_load, by_workers):
        pd.testing.assert_frame_equal(other.events, reference.events)
        pd.testing.assert_frame_equal(other.rejected, reference.rejected)
        pd.testing.assert_frame_equal(other.unreadable_values, reference.unreadable_values)
        assert other.files == reference.files
        assert sorted(map(str, other.skipped_files)) == sorted(map(str,
                                                                   reference.skipped_files))
        assert (other.records, other.loaded, other.duplicates) == (
            reference.records, reference.loaded, reference.duplicates)


# ---- a whole share: every path a user takes (issue 12, point 3) ------------------------------


def _hosts_and_skips(share, result):
    return (sorted(result.events["host"].astype(str).unique()),
            {share.rel(s["path"]): s["reason"] for s in result.skipped_files})


def test_a_share_as_it_really_is(tmp_path):
    from export_share import make_share

    share = make_share(tmp_path / "share")
    r = balanced(load_events(share.folder))
    hosts, skipped = _hosts_and_skips(share, r)
    # counted from what was written, not from the loader
    assert sorted(share.rel(f["path"]) for f in r.files) == sorted(share.exports)
    assert r.records == r.loaded == len(share.events) and r.n_rejected == r.duplicates == 0
    assert hosts == sorted(share.events["host"].astype(str).unique())
    assert set(skipped) == set(share.not_exports)
    for name, word in share.not_exports.items():
        assert word in skipped[name], (name, skipped[name])
    assert r.summary()["skipped_files"] == r.skipped_files


def test_strict_names_every_file_that_is_not_an_export_before_reading_any(tmp_path):
    from export_share import make_share

    share = make_share(tmp_path / "share")
    (share.folder / "page.xml").write_text("<html><body>not events</body></html>")
    with pytest.raises(TelemetryError, match=r"page\.xml"):  # read: an export's name, an error
        load_events(share.folder)
    with pytest.raises(TelemetryError) as info:  # strict fails first, before page.xml is read
        load_events(share.folder, strict=True)
    text = str(info.value)
    assert text.startswith(f"{len(share.not_exports)} file(s) are not event exports (strict): ")
    assert "page.xml" not in text and f"and {len(share.not_exports) - 5} more" in text
    assert text.count(" (") >= 5 and "\n" not in text


def test_scan_finds_what_the_readers_skip(tmp_path):
    """scan_exports(strict) and the readers agree on which files are not exports."""
    from export_share import make_share

    from activation_kb.telemetry._scan import scan_exports

    share = make_share(tmp_path / "share")
    found, skipped = scan_exports(share.folder)  # stops looking at the first export
    assert {share.rel(s.path) for s in skipped} == {".git", ".DS_Store", ".sync.lock",
                                                    "Thumbs.db", "desktop.ini", "~$notes.docx",
                                                    "00-README.txt"}
    assert len(found) + len(skipped) == len(share.exports) + len(share.not_exports)
    with pytest.raises(TelemetryError, match=rf"^{len(share.not_exports)} file\(s\) are not"):
        scan_exports(share.folder, strict=True)  # strict looks at every file
    for name in share.not_exports:  # tidied up: strict finds nothing to refuse
        path = share.folder / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    found, skipped = scan_exports(share.folder, strict=True)
    assert skipped == [] and sorted(share.rel(p) for p in found) == sorted(share.exports)


def test_only_clutter_fails_before_reading(tmp_path):
    from activation_kb.telemetry._scan import scan_exports

    (tmp_path / "README.md").write_text("# nothing yet\n")
    (tmp_path / "desktop.ini").write_text("[x]\n")
    (tmp_path / ".DS_Store").write_bytes(b"\x00")
    with pytest.raises(TelemetryError, match=r"none of the 3 files is an event export"):
        scan_exports(tmp_path)


def test_pipes_and_broken_links_are_listed_not_dropped(tmp_path):
    import os

    (tmp_path / "pc1.xml").write_text(event_xml(rid=1))
    os.mkfifo(tmp_path / "feed.pipe")
    (tmp_path / "gone.xml").symlink_to(tmp_path / "nowhere.xml")
    r = balanced(load_events(tmp_path))
    reasons = {s["path"].rsplit("/", 1)[1]: s["reason"] for s in r.skipped_files}
    assert reasons == {"feed.pipe": "not a regular file (a pipe, socket or device), not an "
                                    "event export",
                       "gone.xml": "broken link (its target does not exist)"}
    r = balanced(load_events(str(tmp_path / "*")))  # a glob: the same
    assert sorted(s["path"].rsplit("/", 1)[1] for s in r.skipped_files) == ["feed.pipe",
                                                                            "gone.xml"]
    with pytest.raises(TelemetryError, match=r"feed.pipe: not a regular file"):
        load_events(tmp_path / "feed.pipe")
