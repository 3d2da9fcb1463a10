"""A report run's folder: atomic publishing, cleanup on every exit path, a kernel that dies with it.

Issue 11, defect 8: publishing with two renames let a reader find no report (97 of 25,751
polls); late failures and SIGTERM left ``.OUT.staging-*`` folders; a killed CLI left its kernel
running at 90 % CPU; ``--events DIR`` refused exports in subfolders; the manifest hashed hidden
files that the loader skips.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from conftest import TEST_DATA

from activation_kb.errors import ReportError
from activation_kb.report import _publish
from activation_kb.report._publish import new_staging, publish, remove_abandoned, runs_dir
from activation_kb.report.runner import REPORTS, ReportSpec, run_report

XML = TEST_DATA / "telemetry" / "synthetic_client.xml"


def stage(out: Path, label: str) -> Path:
    staging = new_staging(out)
    (staging / "manifest.json").write_text(json.dumps({"label": label}))
    (staging / "fleet_report.html").write_text(f"<p>{label}</p>" * 1000)
    return staging


# ---- publishing -----------------------------------------------------------------------------

READER = textwrap.dedent("""
    import json, sys, time
    out, stop = sys.argv[1], sys.argv[2]
    polls = misses = broken = 0
    seen = set()
    import os
    while not os.path.exists(stop):
        polls += 1
        try:
            with open(os.path.join(out, "manifest.json")) as fh:
                seen.add(json.load(fh)["label"])
        except FileNotFoundError:
            misses += 1
        except (ValueError, KeyError):
            broken += 1
    print(json.dumps({"polls": polls, "misses": misses, "broken": broken, "seen": len(seen)}))
""")


def test_a_reader_polling_during_publishing_always_finds_a_complete_report(tmp_path):
    out = tmp_path / "reports" / "latest"
    out.parent.mkdir()
    publish(stage(out, "first"), out)
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(out), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        for i in range(400):
            publish(stage(out, f"run {i}"), out)
    finally:
        stop.touch()
        result = json.loads(reader.communicate(timeout=60)[0])
    assert result["polls"] > 2000 and result["seen"] > 20  # the reader really raced the writer
    assert result["misses"] == 0 and result["broken"] == 0, result
    assert json.loads((out / "manifest.json").read_text())["label"] == "run 399"
    assert out.is_symlink() and not list(out.parent.glob(".latest.link-*"))
    assert not list(runs_dir(out).glob("*.staging"))


def test_replaced_runs_are_kept_for_a_while_then_pruned(tmp_path, monkeypatch):
    out = tmp_path / "latest"
    for i in range(4):
        publish(stage(out, f"run {i}"), out)
    assert len([p for p in runs_dir(out).iterdir() if p.is_dir()]) == 4  # within the grace
    monkeypatch.setattr(_publish, "_GRACE", -1.0)
    publish(stage(out, "run 4"), out)
    labels = sorted(json.loads((p / "manifest.json").read_text())["label"]
                    for p in runs_dir(out).iterdir() if p.is_dir())
    assert labels == ["run 3", "run 4"]  # the current run and the one before it


def test_a_report_folder_of_an_older_version_is_replaced_by_the_link(tmp_path, monkeypatch):
    monkeypatch.setattr(_publish, "_GRACE", -1.0)
    out = tmp_path / "latest"
    out.mkdir()
    (out / "manifest.json").write_text('{"label": "old"}')
    assert publish(stage(out, "new"), out) == "symlink"
    assert out.is_symlink() and json.loads((out / "manifest.json").read_text())["label"] == "new"
    publish(stage(out, "newer"), out)
    publish(stage(out, "newest"), out)
    labels = {json.loads((p / "manifest.json").read_text())["label"]
              for p in runs_dir(out).iterdir() if p.is_dir()}
    assert labels == {"newer", "newest"}  # the old folder was pruned like any run


def test_a_file_in_the_way_is_refused_and_the_run_kept(tmp_path):
    out = tmp_path / "latest"
    out.write_text("not a report")
    staging = stage(out, "new")
    with pytest.raises(FileExistsError, match="is not a report folder"):
        publish(staging, out)
    assert staging.is_dir() and out.read_text() == "not a report"


def test_staging_of_a_dead_run_is_removed_by_the_next_run(tmp_path):
    out = tmp_path / "latest"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    runs = runs_dir(out)
    runs.mkdir(parents=True)
    abandoned = runs / f"20260101T000000Z-0123abcd.{dead}.staging"
    abandoned.mkdir()
    alive = runs / f"20260101T000000Z-4567abcd.{os.getppid()}.staging"  # pytest's parent: alive
    alive.mkdir()
    staging = new_staging(out)
    assert not abandoned.exists() and alive.exists() and staging.exists()
    assert remove_abandoned(out) == []


# ---- the kernel dies with its parent ------------------------------------------------------------


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")


def _children(pid: int, word: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid and word in cmd:
                found.append(int(entry.name))
    return found


def _wait(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and prctl")
def test_die_with_parent_survives_a_gil_holding_child(tmp_path):
    """A child stuck in C code with the GIL (catastrophic regex) still dies with its parent."""
    child = tmp_path / "child.py"
    child.write_text(
        "import re\nfrom activation_kb._kernel_launcher import die_with_parent\n"
        "print(die_with_parent(), flush=True)\n"
        "re.match(r'(a+)+$', 'a' * 64 + 'b')\n")
    code = (f"import subprocess, sys, time\n"
            f"child = subprocess.Popen([sys.executable, {str(child)!r}], stdout=subprocess.PIPE, "
            f"text=True)\n"
            f"print(child.pid, child.stdout.readline().strip(), flush=True)\n"
            f"time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid, how = parent.stdout.readline().split()
    pid = int(pid)
    try:
        assert how == "pdeathsig" and _alive(pid)
        time.sleep(0.5)
        parent.kill()
        parent.wait()
        assert _wait(lambda: not _alive(pid), 10), "the child outlived its parent"
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_die_with_parent_exits_when_the_parent_is_already_gone():
    run = subprocess.run([sys.executable, "-c", (
        "from activation_kb._kernel_launcher import die_with_parent\n"
        "die_with_parent(parent=1)\nprint('still here')")], capture_output=True, text=True)
    assert run.returncode == 1 and "still here" not in run.stdout


# ---- whole runs: SIGTERM, SIGKILL, late failures ---------------------------------------------

RUNNER = textwrap.dedent("""
    import sys
    from activation_kb.report.runner import REPORTS, ReportSpec
    REPORTS["fleet_report"] = ReportSpec(notebook=sys.argv[1], description="test", outputs=())
    from activation_kb.cli import cli
    cli(sys.argv[2:], prog_name="activation-kb")
""")


def notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell("output_dir = '.'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


HANG = ("import os, re\nopen(os.path.join(output_dir, 'started'), 'w').close()\n"
        "re.match(r'(a+)+$', 'a' * 64 + 'b')  # holds the GIL for hours")


@pytest.fixture
def hanging_run(tmp_path):
    """Start ``activation-kb report run`` on a notebook that hangs; yield (process, out, kernel)."""
    nb = notebook(tmp_path / "hang.ipynb", HANG)
    out = tmp_path / "reports" / "latest"
    cli = subprocess.Popen([sys.executable, "-c", RUNNER, str(nb), "report", "run", "--events",
                            str(XML), "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kernels: list[int] = []
    try:
        started = lambda: list(runs_dir(out).glob("*.staging/started"))  # noqa: E731
        assert _wait(started, 120), "the notebook never started"
        kernels += _children(cli.pid, "activation_kb._kernel_launcher")
        assert len(kernels) == 1, "no kernel of ours under the CLI"
        yield cli, out, kernels[0]
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
        for pid in kernels:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.notebook
@pytest.mark.xdist_group("report")
def test_sigterm_cleans_up_and_takes_the_kernel(hanging_run):
    cli, out, kernel = hanging_run
    cli.send_signal(signal.SIGTERM)
    _, err = cli.communicate(timeout=60)
    assert cli.returncode == -signal.SIGTERM  # ended by the signal, as asked, after cleanup
    assert "Traceback" not in err
    assert not list(runs_dir(out).glob("*.staging")) and not out.exists()
    failed = json.loads((out.parent / "latest.failed" / "manifest.json").read_text())
    assert failed["status"] == "failed" and "SIGTERM" in failed["error"]
    assert _wait(lambda: not _alive(kernel), 15), "the kernel outlived the CLI"


@pytest.mark.notebook
@pytest.mark.xdist_group("report")
def test_killed_cli_takes_its_kernel_and_the_next_run_cleans_up(hanging_run, tmp_path):
    cli, out, kernel = hanging_run
    time.sleep(1)
    cli.kill()
    cli.wait()
    assert _wait(lambda: not _alive(kernel), 10), "the kernel outlived the killed CLI"
    assert len(list(runs_dir(out).glob("*.staging"))) == 1  # SIGKILL: nothing could run
    assert len(remove_abandoned(out)) == 1
    assert not list(runs_dir(out).glob("*.staging"))


@pytest.mark.notebook
@pytest.mark.xdist_group("report")
def test_failure_after_the_notebook_finished_leaves_no_staging(tmp_path, monkeypatch):
    nb = notebook(tmp_path / "quiet.ipynb", "x = 1  # writes none of the outputs")
    monkeypatch.setitem(REPORTS, "silent", ReportSpec(str(nb), "test", ()))
    out = tmp_path / "r" / "latest"
    with pytest.raises(ReportError, match="run_summary.json"):
        run_report(XML, out, name="silent")
    assert not list(runs_dir(out).glob("*.staging"))
    failed = json.loads((out.parent / "latest.failed" / "manifest.json").read_text())
    assert failed["failed_at"] == "manifest" and failed["status"] == "failed"
    assert not out.exists()


@pytest.mark.notebook
@pytest.mark.xdist_group("report")
def test_events_folder_with_subfolders_and_hidden_files(tmp_path):
    exports = tmp_path / "exports"
    for site in ("paris", "lyon/floor2"):
        (exports / site).mkdir(parents=True)
    shutil.copy(XML, exports / "paris" / "pc1.xml")
    shutil.copy(TEST_DATA / "telemetry" / "synthetic_host.xml", exports / "lyon/floor2" / "k.xml")
    (exports / ".sync.lock").write_text("locked by the sync client")
    (exports / ".git").mkdir()
    (exports / ".git" / "HEAD").write_text("ref: refs/heads/main")
    result = run_report(exports, tmp_path / "out", since="2024-01-01")
    inputs = {Path(i["path"]).relative_to(exports).as_posix(): i for i in
              result.manifest["inputs"]}
    assert set(inputs) == {"paris/pc1.xml", "lyon/floor2/k.xml"}  # what the loader read
    assert all(len(i["sha256"]) == 64 and i["records"] > 0 for i in inputs.values())


@pytest.mark.notebook
@pytest.mark.xdist_group("report")
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file: nothing is unreadable")
def test_unreadable_hidden_file_does_not_fail_a_finished_run(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    shutil.copy(XML, exports / "pc1.xml")
    lock = exports / ".sync.lock"
    lock.write_text("x")
    lock.chmod(0)
    try:
        result = run_report(exports, tmp_path / "latest", since="2024-01-01")
    finally:
        lock.chmod(0o600)
    assert [Path(i["path"]).name for i in result.manifest["inputs"]] == ["pc1.xml"]


def test_a_file_that_cannot_be_hashed_any_more_is_listed_with_the_reason(tmp_path):
    from activation_kb.report.runner import _inputs

    kept = tmp_path / "pc1.xml"
    shutil.copy(XML, kept)
    gone = tmp_path / "pc2.xml"  # read by the kernel, removed by the sync client since
    listed = _inputs([{"path": str(kept), "records": 3, "loaded": 3},
                      {"path": str(gone), "records": 2, "loaded": 2}])
    assert len(listed[0]["sha256"]) == 64 and listed[0]["records"] == 3
    assert listed[1]["sha256"] is None and listed[1]["error"].startswith("not hashed")
    assert listed[1]["records"] == 2


def test_relative_glob_is_read_from_the_callers_folder(tmp_path, monkeypatch):
    from activation_kb.report.runner import check_parameters

    (tmp_path / "exports").mkdir()
    shutil.copy(XML, tmp_path / "exports" / "pc1.xml")
    monkeypatch.chdir(tmp_path)
    params = check_parameters("exports/*.xml")
    assert params["events"] == [str(tmp_path / "exports" / "*.xml")]


def test_terminate_as_exception_only_takes_default_handlers():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with _publish.terminate_as_exception():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)
    with _publish.terminate_as_exception():
        assert signal.getsignal(signal.SIGTERM) is _publish._raise_terminated
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
