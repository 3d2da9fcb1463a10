"""lookup.ipynb in a real JupyterLab server, driven by real headless Chromium through Playwright.

One JupyterLab server (a subprocess on a free localhost port, with a token, offline: no news,
update checks or extension manager) serves a temporary folder holding a copy of the notebook and a
copy parameterised with a small events file whose host is named ``<img src=x onerror=alert(1)>``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from browser import PageWatch, launch_chromium
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from activation_kb import load_catalogue, write_events
from activation_kb.analysis.attempts import activation_attempts

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("jupyterlab")]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "lookup.ipynb"
EXPLORE = NOTEBOOK.with_name("explore.ipynb")
HOSTILE = "<img src=x onerror=alert(1)>"
CODE = "0xC004F074"
TIMEOUT_MS = 120_000
NEVER_CHECK = "jupyterlab.handlers.announcements.NeverCheckForUpdate"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _offline_jupyter_dirs(home: Path) -> dict[str, str]:
    """Private Jupyter config, data and settings folders: no news, no update check."""
    settings = home / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"})
    )
    config = home / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "ServerApp": {"terminals_enabled": False},
                "LabApp": {
                    "news_url": None,
                    "check_for_updates_class": NEVER_CHECK,
                    "extension_manager": "readonly",
                },
            }
        )
    )
    return {
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }


def _hostile_events(path: Path, events: pd.DataFrame) -> dict:
    """Write the shared fleet's first week with its busiest 0xC004F074 device renamed HOSTILE."""
    events = events[events["event_time"] < events["event_time"].min() + pd.Timedelta("7D")].copy()
    errors = activation_attempts(events).errors
    device = errors.loc[errors["code"] == CODE, "device"].value_counts().index[0]
    for column in ("host", "client_name"):
        named = events[column].str.lower().eq(device).fillna(False)
        events.loc[named, column] = HOSTILE
    write_events(events, path)
    errors = activation_attempts(events).errors
    affected = errors.loc[errors["code"] == CODE, "device"]
    assert HOSTILE in set(affected), "the renamed device must have failed with the code"
    return {"devices": affected.nunique(), "failures": int((affected == HOSTILE).sum())}


@pytest.fixture(scope="module")
def lab(tmp_path_factory, small_fleet):
    """A running JupyterLab server over a folder with lookup.ipynb and a hostile copy."""
    root = tmp_path_factory.mktemp("lab-root")
    home = tmp_path_factory.mktemp("lab-home")
    shutil.copy(NOTEBOOK, root / "lookup.ipynb")
    shutil.copy(EXPLORE, root / "explore.ipynb")
    expected = _hostile_events(root / "hostile.parquet", small_fleet.events)
    nb = parameterize_notebook(load_notebook_node(str(NOTEBOOK)), {"events": "hostile.parquet"})
    nbformat.write(nb, root / "lookup_hostile.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    log = (home / "server.log").open("w")
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    env = {**os.environ, **_offline_jupyter_dirs(home)}
    server = subprocess.Popen(
        command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(home / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2
                ):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not answer within 90 s")
                time.sleep(0.25)
        yield {"url": f"http://127.0.0.1:{port}", "token": token, **expected}
    finally:
        server.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        try:  # a kernel left behind by a server that had to be killed
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def _open_and_run(chromium, lab, notebook: str, ready: str = ".akb-lookup-query input",
                  height: int = 1000):
    """Open ``notebook`` in JupyterLab, run all cells, wait for the widget; return the page."""
    context = chromium.new_context(viewport={"width": 1400, "height": height})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch = PageWatch.on(page)
    # A workspace of its own, so that no tab restored from another test's page opens too.
    workspace = Path(notebook).stem
    page.goto(f"{lab['url']}/lab/workspaces/{workspace}/tree/{notebook}?token={lab['token']}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    # Cells sent before the kernel is ready can be lost: wait for "Python 3 ... | Idle".
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\|\s*Idle$")).wait_for()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_selector(ready)
    return context, page, watch


def _show_code(page, code: str) -> None:
    box = page.locator(".akb-lookup-query input")
    box.click()
    box.press_sequentially(code, delay=25)  # keystrokes, as a person types
    page.wait_for_function(
        "code => document.querySelector('.akb-lookup-detail .akb-code')?.textContent === code",
        arg=code,
    )


def _text(page, selector: str) -> str:
    return " ".join(" ".join(page.locator(selector).all_inner_texts()).split())


def test_type_a_code_read_resolution_then_french(chromium, lab):
    catalogues = {lang: load_catalogue(lang).set_index("code").loc[CODE] for lang in ("en", "fr")}
    expected = {lang: " ".join(row["resolution"].split()) for lang, row in catalogues.items()}
    assert not re.search(r"[*_`\[<]", expected["en"] + expected["fr"]), "plain-text resolutions"
    assert expected["en"] != expected["fr"]
    context, page, watch = _open_and_run(chromium, lab, "lookup.ipynb")
    try:
        _show_code(page, CODE)
        assert _text(page, ".akb-lookup-detail .akb-resolution h4") == "Resolution"
        assert _text(page, ".akb-lookup-detail .akb-resolution p") == expected["en"]
        page.locator(".akb-lookup-lang button", has_text="Français").click()
        page.wait_for_selector(".akb-lookup-detail .akb-resolution h4:text-is('Résolution')")
        assert _text(page, ".akb-lookup-detail .akb-resolution p") == expected["fr"]
        message = " ".join(catalogues["fr"]["message"].split())
        assert _text(page, ".akb-lookup-detail .akb-message p") == message
        assert page.locator(".akb-lookup-query input").input_value() == CODE
        watch.assert_clean()
    finally:
        context.close()


def test_hostile_host_name_is_shown_as_text_and_never_runs(chromium, lab):
    context, page, watch = _open_and_run(chromium, lab, "lookup_hostile.ipynb")
    try:
        _show_code(page, CODE)
        rows = ".akb-lookup-activity .akb-hosts > table tbody tr"
        page.wait_for_selector(rows)
        hosts = [" ".join(t.split()) for t in page.locator(rows).all_inner_texts()]
        assert f"{HOSTILE} {lab['failures']}" in hosts
        assert len(hosts) == min(lab["devices"], 10)  # the top ten; all of them on demand
        assert f"({min(lab['devices'], 10)} of {lab['devices']} hosts" in _text(
            page, ".akb-lookup-activity .akb-hosts")
        assert page.locator(".akb-lookup-activity .akb-sparkline rect").count() > 0
        page.wait_for_timeout(500)  # give an injected onerror handler the time to fire
        assert page.locator('img[src="x"]').count() == 0
        assert page.locator(".akb-lookup-activity img").count() == 0
        watch.assert_clean()
    finally:
        context.close()


# --- the explorer (notebooks/explore.ipynb) -------------------------------------------------------

_CHART = ".akb-explore-chart .js-plotly-plot"
# what the chart shows: the sum of every stacked trace
_CHART_TOTAL = f"""() => {{
  const gd = document.querySelector('{_CHART}');
  if (!gd || !gd._fullData) return null;  // y decoded from plotly's base64 arrays
  return gd._fullData.filter(t => t.stackgroup).reduce((s, t) => s + Array.from(t.y || [])
    .reduce((a, b) => a + b, 0), 0);
}}"""


def _options(page, selector: str) -> list[str]:
    return [" ".join(t.split()) for t in page.locator(f"{selector} option").all_inner_texts()]


def test_explore_pick_a_site_then_read_an_incidents_resolution(chromium, lab):
    catalogue = load_catalogue("en").set_index("code")
    context, page, watch = _open_and_run(chromium, lab, "explore.ipynb",
                                         ready=".akb-explore-site select", height=2000)
    try:
        page.wait_for_selector(f"{_CHART} .main-svg")
        before = page.evaluate(_CHART_TOTAL)
        incidents_before = _options(page, ".akb-explore-incidents")
        assert before and len(incidents_before) >= 3
        sites = _options(page, ".akb-explore-site")
        page.locator(".akb-explore-site select").select_option(label="branch-oslo"
                                                               if "branch-oslo" in sites
                                                               else sites[0])
        page.wait_for_function(f"(b) => {{ const t = ({_CHART_TOTAL})(); "
                               "return t !== null && Math.abs(t - b) > 0.5; }", arg=before)
        after = page.evaluate(_CHART_TOTAL)
        assert 0 < after < before  # the chart now counts one site only
        page.wait_for_function(
            "(n) => document.querySelectorAll('.akb-explore-incidents option').length !== n",
            arg=len(incidents_before))
        incidents = _options(page, ".akb-explore-incidents")
        assert incidents and set(incidents) < set(incidents_before)
        page.locator(".akb-explore-incidents select").select_option(index=0)
        page.wait_for_selector(".akb-explore-detail h3")
        code = re.search(r"0x[0-9A-F]{8}", incidents[0]).group(0)
        detail = _text(page, ".akb-explore-detail")
        assert incidents[0].split(" · ")[0].lstrip("● ") in detail
        assert "Resolution:" in detail
        resolution = " ".join(catalogue.loc[code, "resolution"].split())
        assert resolution[:60] in detail
        shots = os.environ.get("AKB_SCREENSHOTS")
        if shots:
            page.locator(".akb-explore-detail").scroll_into_view_if_needed()
            page.locator(".akb-explore").screenshot(path=str(Path(shots) / "explore.png"))
        watch.assert_clean()
    finally:
        context.close()
