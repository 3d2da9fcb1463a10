"""``activation-kb explore`` (Voilà) in real Chromium: the explorer as a web app, no code shown."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import PageWatch, launch_chromium
from test_browser_lab import _free_port, _offline_jupyter_dirs

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("jupyterlab")]

@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    """The explorer served by ``activation-kb explore`` on the bundled sample; its URL and log."""
    if shutil.which("voila", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("voila is not installed (pip install -e '.[lab]')")
    root = tmp_path_factory.mktemp("voila-root")
    home = tmp_path_factory.mktemp("voila-home")
    port = _free_port()
    log_path = home / "voila.log"
    log = log_path.open("w")
    command = [str(Path(sys.executable).parent / "activation-kb"), "explore", "--no-browser",
               f"--port={port}", "--show-tracebacks"]
    server = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, **_offline_jupyter_dirs(home)},
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"activation-kb explore exited: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs",
                                            timeout=2):
                    break
            except urllib.error.HTTPError:  # it answers (the API wants a token): it is up
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("voila did not answer within 90 s")
                time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/", log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


def test_voila_serves_the_explorer_and_its_chart(voila):
    from playwright.sync_api import Error, sync_playwright

    url, log = voila

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(180_000)
        watch = PageWatch.on(page)
        try:
            page.goto(url)
            page.wait_for_selector(".akb-explore-site select")
            page.wait_for_selector(".akb-explore-chart .js-plotly-plot .main-svg")
        except Error as exc:
            pytest.fail(f"the explorer did not load ({exc.message.splitlines()[0]}); "
                        f"the server's log ends: {log.read_text()[-3000:]}")
        before = page.locator(".akb-explore-incidents option").count()
        page.locator(".akb-explore-site select").select_option(index=0)
        page.wait_for_function(
            "(n) => document.querySelectorAll('.akb-explore-incidents option').length !== n",
            arg=before)
        body = page.inner_text("body")
        assert "from activation_kb import explore" not in body  # the app, not its code
        assert "Incidents of this view" in body
        browser.close()
    # Voila's own page template links Font Awesome's CSS from jsdelivr (icons only; the app
    # works without it, as here, offline): that link and nothing else may go to another host
    template = ("https://cdn.jsdelivr.net/npm/@fortawesome/",)
    watch.failed_requests = [r for r in watch.failed_requests if not r.startswith(template)]
    watch.foreign_requests = [r for r in watch.foreign_requests if not r.startswith(template)]
    watch.assert_clean()
