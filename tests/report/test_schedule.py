"""The README's "Daily run", run as pasted: cron, systemd, Task Scheduler files, mail body.

The cron block is read from README.md and run the way cron runs a job: ``/bin/sh -c`` with the
block's variables, PATH=/usr/bin:/bin, HOME as working folder. Only the values of the two paths
the block says to set are replaced (the clone, the exports); the clone is a folder of links to
this checkout's ``.venv`` and ``docs`` so that the reports land in a fresh temporary folder.
``mail`` is a stand-in on PATH that records what it is sent (there is no mail server here).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from lxml import etree

from activation_kb.report.summary import summary_text

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("report")]
SCHEDULING = ROOT / "docs" / "scheduling"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (ok, (?P<n>\d+) incidents?: (?P<html>\S+)"
                      r"|failed \(exit (?P<code>\d)\): (?P<why>.+))$")


def readme_block(heading: str, language: str) -> str:
    """The first ```language block under ``### heading`` of the README's "Daily run"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    daily = text[text.index("\n## Daily run\n"):]
    section = daily[daily.index(f"\n### {heading}\n"):]
    match = re.search(rf"```{language}\n(.*?)\n```", section, re.S)
    assert match, f"no ```{language} block under '### {heading}'"
    return match.group(1)


def parse_crontab(block: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Variables and (schedule, command) jobs of a crontab, as cron reads them."""
    variables, jobs = {}, []
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assignment = re.match(r"^([A-Za-z_]\w*)\s*=\s*(.*)$", line)
        if assignment:
            variables[assignment[1]] = assignment[2].strip().strip('"')
            continue
        fields = line.split(None, 5)
        jobs.append((" ".join(fields[:5]), fields[5]))
    return variables, jobs


@pytest.fixture
def site(tmp_path):
    """A clone (links to this checkout), exports with incidents, and a recording `mail`."""
    home = tmp_path / "srv" / "activation-kb"
    home.mkdir(parents=True)
    (home / ".venv").symlink_to(ROOT / ".venv")
    (home / "docs").symlink_to(ROOT / "docs")
    exports = tmp_path / "srv" / "exports" / "paris"
    exports.mkdir(parents=True)
    shutil.copy(ROOT / "data" / "sample" / "events.parquet", exports / "events.parquet")
    # a share as it really is: what is not an export is listed, never a failure (issue 12)
    (exports.parent / "README.md").write_text("# Activation exports, one folder per site\n")
    (exports / "desktop.ini").write_text("[.ShellClassInfo]\r\n")
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "mail").write_text(
        "#!/bin/sh\n"
        f'n=$(ls {tmp_path}/mail-* 2>/dev/null | wc -l)\n'
        f'{{ echo "$@"; cat; }} > {tmp_path}/mail-$n\n')
    (tools / "mail").chmod(0o755)
    user = tmp_path / "user"
    user.mkdir()
    return {"home": home, "exports": exports.parent, "tools": tools, "user": user,
            "tmp": tmp_path}


def mails(tmp: Path) -> list[str]:
    return [p.read_text() for p in sorted(tmp.glob("mail-*"))]


def run_cron_job(command: str, variables: dict[str, str], site: dict) -> int:
    env = {"SHELL": "/bin/sh", "PATH": f"{site['tools']}:/usr/bin:/bin",
           "HOME": str(site["user"]), "LOGNAME": "root", **variables}
    return subprocess.run(["/bin/sh", "-c", command], cwd=site["user"], env=env,
                          timeout=900).returncode


def test_readme_cron_block_runs_as_cron_runs_it(site):
    variables, jobs = parse_crontab(readme_block("cron", "cron"))
    assert set(variables) >= {"AKB_HOME", "AKB_EVENTS"} and len(jobs) == 1
    schedule, command = jobs[0]
    from croniter import croniter

    assert croniter.is_valid(schedule) and schedule == "30 6 * * *"
    variables.update(AKB_HOME=str(site["home"]), AKB_EVENTS=str(site["exports"]))
    reports = site["home"] / "reports"
    assert not reports.exists()  # the wrapper must create it (was: "Directory nonexistent")

    assert run_cron_job(command, variables, site) == 3  # report written, incidents found
    lines = (reports / "daily.log").read_text().splitlines()
    first = LOG_LINE.match(lines[0])
    assert len(lines) == 1 and first and first["n"], lines
    assert Path(first["html"]) == reports / "latest" / "fleet_report.html"
    manifest = json.loads((reports / "latest" / "manifest.json").read_text())
    assert int(first["n"]) == manifest["incidents"] > 0 and manifest["status"] == "ok"
    assert sorted(Path(f["path"]).name for f in manifest["skipped_files"]) == ["README.md",
                                                                             "desktop.ini"]
    assert "Error" not in (reports / "last-run.txt").read_text()  # a success says so
    (sent,) = mails(site["tmp"])
    summary = (reports / "latest" / "summary.txt").read_text()
    n = manifest["incidents"]
    word = "incident" if n == 1 else "incidents"
    assert sent.startswith(f"-s KMS activation: {n} {word} ")
    assert sent.endswith(summary) and not summary.startswith("incident_id,")  # text, not CSV
    assert summary.startswith(f"Activation errors: {n} {word}")
    assert "\n2 file(s) skipped, not event exports (not read):\n" in summary

    variables["AKB_EVENTS"] = str(site["tmp"] / "nowhere")
    assert run_cron_job(command, variables, site) == 2
    second = LOG_LINE.match((reports / "daily.log").read_text().splitlines()[1])
    assert second and second["code"] == "2" and "nowhere" in second["why"]
    assert second["why"].startswith("Error: events:")
    assert "failed (exit 2)" in mails(site["tmp"])[1].splitlines()[0]
    # the last good report is still published
    assert json.loads((reports / "latest" / "manifest.json").read_text()) == manifest


def test_systemd_units_verify_and_their_command_runs(site):
    units = site["tmp"] / "units"
    units.mkdir()
    for name in ("activation-report.service", "activation-report.timer"):
        text = (SCHEDULING / name).read_text()
        text = text.replace("/srv/activation-kb", str(site["home"])).replace(
            "/srv/exports", str(site["exports"]))
        (units / name).write_text(text)
    service = (units / "activation-report.service").read_text()
    assert "SuccessExitStatus=3" in service
    assert "OnCalendar=*-*-* 06:30:00" in (units / "activation-report.timer").read_text()
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "verify", *sorted(map(str, units.iterdir()))],
                               capture_output=True, text=True)
        assert check.returncode == 0 and not check.stderr.strip(), check.stderr
    env = {"PATH": f"{site['tools']}:/usr/bin:/bin"}  # systemd's default PATH, and our `mail`
    for value in re.findall(r"^Environment=\"?(\w+=[^\"\n]*)\"?$", service, re.M):
        key, _, val = value.partition("=")
        env[key] = val
    (exec_start,) = re.findall(r"^ExecStart=(.+)$", service, re.M)
    run = subprocess.run(exec_start.split(), env=env, cwd="/", timeout=900)
    success = {0} | {int(c) for c in re.findall(r"^SuccessExitStatus=(.+)$", service,
                                                 re.M)[0].split()}
    assert run.returncode in success
    line = (site["home"] / "reports" / "daily.log").read_text().splitlines()[-1]
    assert LOG_LINE.match(line)["n"]


def test_task_scheduler_task_runs_the_powershell_twin():
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    task = etree.parse(str(SCHEDULING / "activation-report.xml"))
    assert task.getroot().tag == f"{{{ns['t']}}}Task"
    start = task.findtext(".//t:CalendarTrigger/t:StartBoundary", namespaces=ns)
    assert start.endswith("T06:30:00")
    assert task.findtext(".//t:ScheduleByDay/t:DaysInterval", namespaces=ns) == "1"
    assert task.findtext(".//t:MultipleInstancesPolicy", namespaces=ns) == "IgnoreNew"
    assert task.findtext(".//t:Exec/t:Command", namespaces=ns) == "powershell.exe"
    arguments = task.findtext(".//t:Exec/t:Arguments", namespaces=ns)
    script = re.search(r'-File "([^"]+)"', arguments)[1]
    assert script.endswith(r"\docs\scheduling\activation-report.ps1")
    ps1 = (SCHEDULING / "activation-report.ps1").read_text()
    declared = {name.lower() for name in re.findall(r"^\s*\[\w+\]\$(\w+)", ps1, re.M)}
    passed = {name.lower() for name in re.findall(r"\s-(\w+)", arguments.split(".ps1")[1])}
    assert passed and passed <= declared, passed - declared
    # the same log lines and exit status as daily-report.sh
    sh = (SCHEDULING / "daily-report.sh").read_text()
    for fragment in ('ok, $incidents $word: ', 'failed (exit $status): ', "--fail-on-spike"):
        assert fragment in ps1 and fragment in sh
    assert "exit $status" in ps1 and 'exit "$status"' in sh


def test_exit_codes_are_documented_in_one_table():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("\n### Exit codes\n"):text.index("\n## Daily run\n")]
    rows = dict(re.findall(r"^\| (\d) \| ([^|]+) \|", table, re.M))
    assert sorted(rows) == ["0", "1", "2", "3", "4"]
    assert "--fail-on-spike" in rows["3"] and "--fail-on-risk" in rows["4"]
    assert "reserved" in rows["4"]
    assert len(re.findall(r"^\| code \| meaning", text, re.M)) == 1


def test_summary_text_lists_incidents_readably():
    incidents = [{"incident_id": f"INC-{i:03d}", "severity": "high", "codes": ["0xC004F074"],
                  "category_label": "KMS unreachable", "start": "2026-03-02T08:00:00+00:00",
                  "end": "2026-03-02T11:00:00+00:00", "devices": 1200 + i, "failures": 4000,
                  "scope": "site=paris (90% of failing devices)",
                  "cause": "The **KMS host** could not be reached. " * 20,
                  "resolution": "See [the article](https://example.invalid/x) and run `nslookup`."}
                 for i in range(12)]
    text = summary_text({"summary": {"devices": 5000, "attempts": 9000, "failure_rate": 0.25,
                                     "records": 12, "period_start": "2026-03-01T00:00:00",
                                     "period_end": "2026-03-08T00:00:00"}},
                        incidents, "/srv/r/latest")
    lines = text.splitlines()
    assert lines[0] == "Activation errors: 12 incidents, 2026-03-01 to 2026-03-08"
    assert "25.0% failed" in lines[1] and max(map(len, lines)) <= 100
    assert "1. INC-000 high: 0xC004F074 KMS unreachable" in lines
    assert "... and 2 more: see incidents.csv" in lines and "INC-010" not in text
    assert "**" not in text and "`" not in text and "(https://" not in text
    assert "See the article and run nslookup." in text
    assert lines[-2] == "Report: /srv/r/latest/fleet_report.html"


def test_wrapper_without_a_venv_says_what_to_do(tmp_path):
    home = tmp_path / "clone"
    (home / "docs").mkdir(parents=True)
    shutil.copytree(SCHEDULING, home / "docs" / "scheduling")
    run = subprocess.run([str(home / "docs/scheduling/daily-report.sh")], capture_output=True,
                         text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60)
    assert run.returncode == 1
    line = (home / "reports" / "daily.log").read_text().strip()
    assert LOG_LINE.match(line)["code"] == "1" and "make venv" in line
    assert sys.executable  # the wrapper needs nothing but sh and the clone's .venv
    assert os.access(SCHEDULING / "daily-report.sh", os.X_OK)
