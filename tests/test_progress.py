"""Progress: named stages on a terminal (a pty), nothing when piped or with --quiet; -v lines."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest

from activation_kb import progress

CLI = [sys.executable, "-m", "activation_kb"]


def on_terminal(args: list[str], timeout: float = 600) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin, stdout and stderr; return its screen text."""
    master, slave = pty.openpty()
    # a terminal of 40 x 120 characters (a new pty is 0 x 0, where a bar has no room)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(CLI + args, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            proc.kill()
            raise AssertionError("no output before the timeout")
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(), b"".join(chunks).decode("utf-8", "replace")


def piped(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)


SIMULATE = ["simulate", "--devices", "300", "--days", "5", "--format", "xml"]


def test_simulate_shows_named_stages_on_a_terminal(tmp_path):
    code, screen = on_terminal([*SIMULATE, "--out", str(tmp_path / "a")])
    assert code == 0, screen
    assert "simulating fleet" in screen and "writing XML files" in screen
    assert "files" in screen  # the bar counts files


def test_silent_when_piped_or_quiet(tmp_path):
    run = piped([*SIMULATE, "--out", str(tmp_path / "b")])
    assert run.returncode == 0 and run.stderr == ""
    assert "simulating fleet" not in run.stdout
    code, screen = on_terminal([*SIMULATE, "--out", str(tmp_path / "c"), "--quiet"])
    assert code == 0 and "simulating fleet" not in screen and "writing XML" not in screen


def test_verbose_prints_finished_stages_even_in_a_log(tmp_path):
    run = piped([*SIMULATE, "--out", str(tmp_path / "d"), "-v"])
    assert run.returncode == 0
    lines = run.stderr.splitlines()
    assert any(line.startswith("simulating fleet: ") and line.endswith(" s") for line in lines)
    written = [line for line in lines if line.startswith("writing XML files: ")]
    assert written and " events)" in written[0]


def test_events_summarize_shows_loading(tmp_path):
    piped([*SIMULATE, "--out", str(tmp_path / "e")])
    run = piped(["events", "summarize", str(tmp_path / "e" / "events"), "-v"])
    assert run.returncode == 0 and any(line.startswith("loading exports: ")
                                       for line in run.stderr.splitlines())


@pytest.mark.notebook
@pytest.mark.xdist_group("report")
def test_report_shows_its_stages_not_cell_numbers(tmp_path):
    code, screen = on_terminal(["report", "run", "--out", str(tmp_path / "r"), "--since", "7D"])
    assert code == 0, screen
    for name in ("loading exports", "grouping attempts", "detecting spikes", "writing HTML"):
        assert name in screen, (name, screen[-2000:])
    assert "Executing" not in screen and "cell/s" not in screen  # papermill's counter
    run = piped(["report", "run", "--out", str(tmp_path / "s"), "--since", "7D", "-v"])
    assert run.returncode == 0
    stages = [line.split(":")[0] for line in run.stderr.splitlines() if line.endswith(" s")
              or " s (" in line]
    assert stages[:1] == ["loading exports"] and stages[-2:] == ["writing HTML", "publishing"]


def test_relay_round_trip(tmp_path, monkeypatch):
    """Stages of a kernel, written to the relay file, come back as stages here."""
    relay = tmp_path / "relay.jsonl"
    monkeypatch.setenv(progress.RELAY_ENV, str(relay))
    with progress.stage("loading exports", total=10, unit="files") as s:
        s.advance(4)
        s.detail("4 files")
    monkeypatch.delenv(progress.RELAY_ENV)
    events = relay.read_text().splitlines()
    assert [line.split('"event": "')[1].split('"')[0] for line in events] == [
        "start", "advance", "end"]
    import io

    out = io.StringIO()
    progress.configure(verbose=1, stream=out)
    try:
        for line in events:
            progress.replay(line)
    finally:
        progress.configure()
    assert out.getvalue().startswith("loading exports: ") and "(4 files)" in out.getvalue()
