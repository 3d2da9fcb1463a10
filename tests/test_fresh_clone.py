"""A fresh clone, in CI's own terms: the README's first two commands pass in a new directory.

The clone is made with git from the current HEAD into a temporary folder, so it holds exactly
what is committed: no .venv, no reports, no caches. ``make report`` and ``make test`` run there
for real (a new virtual environment, the whole suite); the nested suite sees
``ACTIVATION_KB_NESTED_SUITE`` and does not start another clone. The branch of ``make test`` that
cannot get Chromium (not root, or no apt-get) must stop before anything runs, with one line that
says what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT

NESTED = "ACTIVATION_KB_NESTED_SUITE"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fresh_clone")]


def readme_first_commands() -> list[str]:
    """The commands of the README's first block, which must open the README (after the title)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.match(r"# [^\n]+\n+```(?:sh|console|bash)\n(.*?)\n```", text, re.S)
    assert match, "README.md must start with its title, then a ```sh block of commands"
    lines = [line.split("#", 1)[0].strip() for line in match.group(1).splitlines()]
    return [line for line in lines if line]


def clone(dest: Path) -> Path:
    """Clone this repository's HEAD (committed files only) into ``dest``."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", head], check=True)
    return dest


def fresh_env(**extra: str) -> dict[str, str]:
    """The environment of a new shell: nothing from this pytest run, make or the venv."""
    venv_bin = str(Path(sys.prefix) / "bin")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "COV_", "JUPYTER", "MAKE")) and k not in (
               "VIRTUAL_ENV", "PYTHONPATH", "CHROMIUM", "MFLAGS")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
                                  if p != venv_bin)
    env.update(extra)
    return env


def test_readme_starts_with_the_two_commands():
    assert readme_first_commands() == ["make report", "make test"]


@pytest.mark.skipif(bool(os.environ.get(NESTED)),
                    reason="this is the suite of a fresh clone: it does not clone itself again")
def test_readme_commands_pass_in_a_fresh_clone(tmp_path):
    repo = clone(tmp_path / "activation-kb")
    junit = tmp_path / "junit.xml"
    env = fresh_env(**{NESTED: "1", "PYTEST_ADDOPTS": f"--junitxml={junit}"})
    for command in readme_first_commands():
        run = subprocess.run(["sh", "-c", command], cwd=repo, env=env, capture_output=True,
                             text=True, timeout=40 * 60)
        tail = "\n".join((run.stdout + run.stderr).splitlines()[-40:]) + _failures(junit)
        assert run.returncode == 0, f"{command!r} failed in a fresh clone:\n{tail}"
        if command == "make report":
            assert (repo / "reports/latest/fleet_report.html").stat().st_size > 1_000_000
            assert '"status": "ok"' in (repo / "reports/latest/manifest.json").read_text()
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert int(suite.get("tests")) > 300
    assert int(suite.get("failures")) == 0 and int(suite.get("errors")) == 0
    cases = {f"{c.get('classname')}.{c.get('name')}": c for c in suite.iter("testcase")}
    browser = [name for name in cases if "browser" in name]
    assert len(browser) >= 3, "the fresh clone's suite ran no browser test"
    skipped_browser = [n for n in browser if cases[n].find("skipped") is not None]
    assert not skipped_browser, f"browser tests skipped in a fresh clone: {skipped_browser}"


def _no_apt_path(tmp: Path) -> str:
    """A PATH with make and id, and no apt-get."""
    tools = tmp / "bin"
    tools.mkdir()
    for name in ("make", "id"):
        (tools / name).symlink_to(shutil.which(name))
    return str(tools)


@pytest.fixture
def open_clone():
    """A clone in a folder that any user may read (for the not-root case)."""
    top = Path(tempfile.mkdtemp(prefix="akb-clone-"))
    try:
        top.chmod(0o755)
        yield clone(top / "activation-kb")
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.parametrize("why", ["no apt-get on PATH", "not root"])
def test_make_test_without_chromium_stops_first_with_one_line(open_clone, why, tmp_path):
    env = fresh_env(CHROMIUM="/nowhere/chromium")
    command = ["make", "test"]
    if why == "no apt-get on PATH":
        env["PATH"] = _no_apt_path(tmp_path)
    elif os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    run = subprocess.run(command, cwd=open_clone, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Chromium at /nowhere/chromium" in lines[0]
    assert 'apt-get install -y chromium' in lines[0] and "CHROMIUM=" in lines[0]
    assert run.stdout == ""
    assert not (open_clone / ".venv").exists()  # stopped before the environment was made
    assert not (open_clone / ".pytest_cache").exists()  # and before any test


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("apt-get"),
                    reason="installing Chromium needs root and apt-get (as CI has)")
def test_make_test_as_root_installs_chromium_before_anything_else(open_clone):
    plan = subprocess.run(["make", "-n", "test"], cwd=open_clone, capture_output=True, text=True,
                          env=fresh_env(CHROMIUM="/nowhere/chromium"), timeout=60).stdout
    assert "apt-get update" in plan and "apt-get install -y -qq chromium" in plan
    assert plan.index("apt-get install") < plan.index("-m venv") < plan.index("pytest")
    present = subprocess.run(["make", "-n", "test"], cwd=open_clone, capture_output=True,
                             text=True, env=fresh_env(CHROMIUM=sys.executable), timeout=60).stdout
    assert "apt-get update" not in present and "pytest" in present


def _failures(junit: Path) -> str:
    """The failed tests of the fresh clone's suite with their messages (for the assertion)."""
    if not junit.is_file():
        return ""
    lines = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for bad in case:
            if bad.tag in ("failure", "error"):
                lines.append(f"\n{case.get('classname')}.{case.get('name')}: "
                             f"{(bad.get('message') or '')[:500]}")
    return "".join(lines)
