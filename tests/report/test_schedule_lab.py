"""jupyter-scheduler, for real: a local Jupyter server with the extension, driven by its REST API.

The job is created from a job definition with a cron schedule (what "Run on a schedule" of the
notebook toolbar's "Create a job" makes) and run from it at once, with parameters typed as a
user types them in the form (``lang = fr``, ``since = 7D``, ``sensitivity = 0.5``). Its HTML
must be the code-free offline page of ``report run``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from activation_kb.report.notebook_params import quote_text_values, report_parameters, text_value

pytestmark = [pytest.mark.slow, pytest.mark.notebook, pytest.mark.xdist_group("lab")]
TOKEN = "activation-kb-test"


# ---- parameters typed as text (no server) ----------------------------------------------------


def test_injected_text_values_are_quoted_and_literals_kept():
    cell = ["lang = fr\n", "since = 7D\n", "sensitivity = 0.5\n", "tz = Europe/Paris\n",
            'title = "Weekly"\n', "events = ['/srv/a', '/srv/b']\n", "until = 2026-03-01\n",
            "top_n = 5"]
    namespace: dict = {}
    exec("".join(quote_text_values(cell)), namespace)
    assert {k: namespace[k] for k in ("lang", "since", "sensitivity", "tz", "title", "events",
                                      "until", "top_n")} == {
        "lang": "fr", "since": "7D", "sensitivity": 0.5, "tz": "Europe/Paris",
        "title": "Weekly", "events": ["/srv/a", "/srv/b"], "until": "2026-03-01", "top_n": 5}


def test_cells_that_are_not_parameters_are_left_alone():
    for cell in (["x = fr\n"], ["lang = fr\n", "print(lang)\n"], ["display(view)\n"]):
        assert quote_text_values(cell) == cell
    commented = ["# Parameters\n", "events = None  # a comment\n", 'lang = "en"  # en or fr\n']
    assert quote_text_values(commented) == commented


def test_report_parameters_types_text_and_refuses_bad_values():
    typed = report_parameters({"lang": "fr", "since": "7D", "sensitivity": "0.5", "top_n": "3",
                               "freq": "D", "title": "", "tz": "None", "output_dir": "."})
    assert typed["sensitivity"] == 0.5 and typed["top_n"] == 3 and typed["lang"] == "fr"
    assert typed["title"] is None and typed["tz"] is None and typed["since"] == "7D"
    from activation_kb.errors import ReportParameterError

    with pytest.raises(ReportParameterError, match="sensitivity='abc'; expected a number"):
        report_parameters({"sensitivity": "abc"})
    with pytest.raises(ReportParameterError, match="lang"):
        report_parameters({"lang": "de"})
    assert text_value('"Weekly"') == "Weekly" and text_value("Weekly report") == "Weekly report"


# ---- a real jupyter-scheduler ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A Jupyter server on localhost with jupyter-scheduler, and its REST API."""

    def __init__(self, root: Path, home: Path) -> None:
        self.port = _free_port()
        self.root = root
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        env.update(HOME=str(home), JUPYTER_DATA_DIR=str(home / "data"),
                   JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_CONFIG_DIR=str(home / "cfg"))
        self.log = open(home / "server.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={self.port}",
             *(["--allow-root"] if os.geteuid() == 0 else []),
             "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
             f"--ServerApp.root_dir={root}",
             f"--SchedulerApp.db_url=sqlite:///{home / 'scheduler.sqlite'}"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=root)  # jupyter-scheduler downloads job files relative to the server's folder
        deadline = time.monotonic() + 120
        while True:
            try:
                self.call("GET", "api/status")
                self.call("GET", "scheduler/runtime_environments")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Jupyter server did not start: "
                                       + (home / "server.log").read_text()[-3000:]) from None
                time.sleep(0.5)

    def call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path}", data=data, method=method,
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def wait_for(self, job_id: str, seconds: float = 600) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            job = self.call("GET", f"scheduler/jobs/{job_id}")
            # a new job reads STOPPED (the table's default) until its process starts
            if job["status"] in ("COMPLETED", "FAILED") or (
                    job["status"] == "STOPPED" and job["start_time"]):
                return job
            time.sleep(1)
        raise AssertionError(f"job {job_id} did not finish in {seconds} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    home = tmp_path_factory.mktemp("home")
    shutil.copy(ROOT / "notebooks" / "fleet_report.ipynb", root / "fleet_report.ipynb")
    lab = Server(root, home)
    try:
        yield lab
    finally:
        lab.stop()


def _run_from_definition(server: Server, parameters: dict[str, str]) -> dict:
    definition = server.call("POST", "scheduler/job_definitions", {
        "input_uri": "fleet_report.ipynb", "name": "activation errors",
        "runtime_environment_name": Path(sys.executable).name, "output_formats": ["ipynb", "html"],
        "parameters": parameters, "schedule": "30 6 * * *", "timezone": "UTC",
        "package_input_folder": True,  # "Run job with input folder": incidents.json comes back
    })["job_definition_id"]
    listed = server.call("GET", f"scheduler/job_definitions/{definition}")
    assert listed["schedule"] == "30 6 * * *" and listed["active"]
    job_id = server.call("POST", f"scheduler/job_definitions/{definition}/jobs", {})["job_id"]
    return server.wait_for(job_id)


def test_scheduled_job_with_text_parameters_writes_the_offline_report(server):
    job = _run_from_definition(server, {"lang": "fr", "since": "7D", "sensitivity": "0.5",
                                        "title": "Rapport hebdomadaire"})
    assert job["status"] == "COMPLETED", job.get("status_message")
    server.call("GET", f"scheduler/jobs/{job['job_id']}/download_files?redownload=true")
    deadline = time.monotonic() + 60  # the files are copied by a process of their own
    while True:
        job = server.call("GET", f"scheduler/jobs/{job['job_id']}")
        files = {f["file_format"]: server.root / f["file_path"] for f in job["job_files"]
                 if f.get("file_path")}
        if {"html", "ipynb"} <= set(files) and all(p.is_file() for p in files.values()) or (
                time.monotonic() > deadline):
            break
        time.sleep(0.5)
    html = files["html"].read_text(encoding="utf-8")
    assert "<title>Rapport hebdomadaire</title>" in html
    assert "globals().update" not in html and "accept_text_parameters" not in html  # code-free
    assert not re.findall(r"<script[^>]+src=[\"']?https?:", html)  # nothing from a CDN
    assert "Content-Security-Policy" in html and "plotly" in html.lower()
    executed = nbformat.read(files["ipynb"], as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "lang = fr" in injected[0].source  # typed as text, as the form sends it
    outputs = files["html"].parent
    summary = json.loads((outputs / "run_summary.json").read_text())
    assert summary["parameters"]["lang"] == "fr"
    assert summary["parameters"]["sensitivity"] == 0.5
    assert (outputs / "incidents.json").is_file()


def test_scheduled_job_with_a_bad_parameter_fails_with_its_name(server):
    job = _run_from_definition(server, {"sensitivity": "high"})
    assert job["status"] == "FAILED"
    assert "sensitivity='high'; expected a number" in (job.get("status_message") or "")
