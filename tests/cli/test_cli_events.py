"""Tests for the ``events summarize`` and ``events convert`` commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import TEST_DATA

from activation_kb.cli import cli
from activation_kb.telemetry import load_events

D = TEST_DATA / "telemetry"


def run(*args):
    return CliRunner().invoke(cli, ["events", *map(str, args)])


def test_summarize_json():
    res = run("summarize", D / "synthetic_client.xml", D / "synthetic_host.xml",
              D / "synthetic_truncated.xml", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert (data["records"], data["loaded"], data["rejected"], data["duplicates"]) == (10, 8, 1, 1)
    assert data["first_event_time"] == "2024-03-01T08:00:00.123456700+00:00"
    assert data["last_event_time"] == "2024-03-01T11:00:00+00:00"
    assert data["by_event_kind"] == {"kms_request": 2, "kms_host_request": 2, "other": 2,
                                     "kms_response": 1, "activation_failure": 1}
    assert data["by_code"] == {"0x00000000": 3, "0x800704CF": 1, "0xC004F06C": 1,
                               "0xC004F074": 1}
    assert [f["duplicates"] for f in data["files"]] == [0, 0, 1]


def test_summarize_text_and_rejected_file(tmp_path):
    out = tmp_path / "rejected.csv"
    res = run("summarize", D / "synthetic_damaged_middle.xml", "--rejected", out)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[:4] == [f"{'records':<16}{5:>10}", f"{'loaded':<16}{4:>10}",
                         f"{'rejected':<16}{1:>10}", f"{'duplicates':<16}{0:>10}"]
    assert lines[5] == f"{'files':<16}{1:>10}"
    assert "first event     2024-03-01T08:00:00.123456700+00:00" in lines
    assert "  activation_failure             1" in lines
    assert "  0xC004F074                     1" in lines
    rejected = pd.read_csv(out)
    assert list(rejected.columns) == ["source_file", "source_record", "source_format", "reason",
                                      "raw"]
    assert rejected.loc[0, "source_record"] == 3 and "EventRecordIX" in rejected.loc[0, "reason"]


def test_directory_glob_and_tz():
    by_glob = run("summarize", str(D / "synthetic_winevent_*.csv"), "--tz", "Europe/Paris",
                  "--json")
    assert by_glob.exit_code == 0, by_glob.output
    data = json.loads(by_glob.output)
    assert (data["records"], data["loaded"], data["duplicates"]) == (15, 5, 10)
    assert len(data["files"]) == 3


def test_convert_round_trip(tmp_path):
    out = tmp_path / "events.parquet"
    res = run("convert", D / "synthetic_client.xml", D / "synthetic_host.xml", "-o", out)
    assert res.exit_code == 0, res.output
    assert res.output.strip() == (f"wrote 8 events to {out} (8 records: 0 rejected, "
                                  "0 duplicates)")
    back = load_events(out).events
    direct = load_events([D / "synthetic_client.xml", D / "synthetic_host.xml"]).events
    pd.testing.assert_frame_equal(back, direct)


@pytest.mark.parametrize("args, expected", [
    (["summarize", D / "garbage.bin"], "garbage.bin: cannot tell the format"),
    (["summarize", D / "malicious_xxe.xml"], "malicious_xxe.xml: refused"),
    (["summarize", D / "missing.xml"], "missing.xml: no such file or directory"),
    (["summarize", D / "synthetic_empty.xml"], "synthetic_empty.xml: empty file"),
    (["summarize", D / "synthetic_eventlog.csv"], "pass tz= (CLI: --tz)"),
    (["summarize", D / "synthetic_client.xml", "--format", "json"], "unknown format 'json'"),
    (["summarize", D / "synthetic_client.xml", "--tz", "Nowhere"], "unknown time zone"),
    (["convert", D / "synthetic_client.xml", "-o", "x.json"], "format '.json' is not supported"),
])
def test_bad_input_one_line_exit_2(args, expected):
    res = run(*args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.output.startswith("Error: ") and expected in res.output
    assert res.output.count("\n") == 1


def _script() -> str:
    found = Path(sys.executable).with_name("activation-kb")
    return str(found) if found.exists() else shutil.which("activation-kb") or ""


@pytest.mark.skipif(not _script(), reason="the activation-kb script is not installed")
def test_installed_script_in_a_real_process(tmp_path):
    ok = subprocess.run([_script(), "events", "summarize", str(D / "synthetic_client.xml.gz"),
                         "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["loaded"] == 5
    bad = subprocess.run([_script(), "events", "convert", str(D / "garbage.bin"), "-o",
                          str(tmp_path / "x.parquet")], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.startswith("Error: ") and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr and not (tmp_path / "x.parquet").exists()


# ---- issue 11 (clear errors) and issue 12 (folders as they really are) ------------------------


def _export_folder(tmp_path):
    shutil.copy(D / "synthetic_client.xml", tmp_path / "pc1.xml")
    (tmp_path / "README.md").write_text("# March exports\n")
    (tmp_path / "desktop.ini").write_text("[.ShellClassInfo]\n")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return tmp_path


def test_summarize_lists_skipped_files_and_strict_fails(tmp_path):
    folder = _export_folder(tmp_path)
    res = run("summarize", folder)
    assert res.exit_code == 0, res.output
    assert "skipped (not event exports): 3" in res.output
    assert f"  SKIPPED {folder / 'README.md'}: cannot tell the format" in res.output
    assert f"  SKIPPED {folder / 'desktop.ini'}: Windows folder settings" in res.output
    data = json.loads(run("summarize", folder, "--json").output)
    assert sorted(s["path"] for s in data["skipped_files"]) == sorted(
        str(folder / n) for n in (".DS_Store", "README.md", "desktop.ini"))
    assert data["loaded"] == 5
    strict = run("summarize", folder, "--strict")
    # every file that is not an export is named at once, before any is read, on one line
    assert strict.exit_code == 2 and strict.output.startswith("Error: 3 file(s) are not event "
                                                              "exports (strict)")
    assert strict.output.count("\n") == 1 and all(
        f"{folder / n} (" in strict.output for n in (".DS_Store", "README.md", "desktop.ini"))
    out = tmp_path / "out.parquet"
    conv = run("convert", folder, "-o", out)
    assert conv.exit_code == 0 and "3 files skipped (not exports)" in conv.output and out.exists()


def test_unreadable_values_are_listed(tmp_path):
    path = tmp_path / "x.xml"
    text = (D / "synthetic_client.xml").read_text().replace("hr=0x800704CF", "hr=0x1800704CF")
    path.write_text(text)
    res = run("summarize", path)
    assert res.exit_code == 0, res.output
    assert "values present but unreadable (record loaded, value left empty):" in res.output
    assert "  result_code                    1" in res.output
    assert json.loads(run("summarize", path, "--json").output)["unreadable_values"] == {
        "result_code": 1}


@pytest.mark.parametrize("name, content, expected", [
    ("rot.xml", b'<?xml version="1.0" encoding="rot13"?><Events/>', "unknown XML encoding"),
    ("dup.csv", b'"Message","Id","Id","MachineName","TimeCreated"\n"m","1","2","pc","x"\n',
     "column 'Id' appears twice"),
    ("short.evtx", b"ElfFile\x00" + bytes(34), "short.evtx: "),
    ("only.txt", b"notes only", "only.txt: cannot tell the format"),
])
def test_damaged_inputs_exit_2_naming_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    res = run("summarize", path, "--tz", "UTC")
    assert res.exit_code == 2, res.output
    assert res.output.startswith("Error: ") and expected in res.output
    assert name in res.output and res.output.count("\n") == 1
