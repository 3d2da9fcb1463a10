"""The HTML report in real headless Chromium, offline: every chart drawn, nothing fetched, no script
injected through telemetry."""

from __future__ import annotations

import pytest
from browser import PageWatch, launch_chromium

from activation_kb.report.runner import run_report
from activation_kb.simulate import simulate_fleet
from activation_kb.telemetry import write_events

pytestmark = [pytest.mark.browser, pytest.mark.notebook, pytest.mark.xdist_group("report")]

HOSTILE_HOST = "<img src=x onerror=alert(1)>"
HOSTILE_SITE = "<script>alert('site')</script>"


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    """A report on a fleet where one failing machine and one site have hostile names."""
    events, _ = simulate_fleet(400, 35, seed=6)
    failing = events.loc[events["event_id"] == 8198, "host"].value_counts().index[0]
    events["host"] = events["host"].where(events["host"] != failing, HOSTILE_HOST)
    events["site"] = events["site"].where(events["site"] != "madrid", HOSTILE_SITE)
    tmp = tmp_path_factory.mktemp("hostile")
    path = write_events(events, tmp / "events.parquet")
    result = run_report(path, tmp / "report", title=f"Report for {HOSTILE_SITE}")
    return result


def test_report_renders_offline_with_every_chart(hostile_report):
    from playwright.sync_api import sync_playwright

    html = hostile_report.html
    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(offline=True)  # networking cut off
        page = context.new_page()
        watch = PageWatch.on(page)
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html.as_uri())
        page.wait_for_selector(".plotly-graph-div .main-svg", timeout=30_000)
        graphs = page.locator(".plotly-graph-div")
        count = graphs.count()
        assert count >= 4  # frequency, top codes, heatmap, one per incident
        page.wait_for_function(
            f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {count}",
            timeout=30_000,
        )
        for i in range(count):  # every chart has its SVG and drew something
            graph = graphs.nth(i)
            assert graph.locator(".main-svg").count() >= 1
            assert graph.locator(".main-svg .plot, .main-svg .cartesianlayer").count() >= 1
        # hostile names are shown as text, and no script of theirs ran
        text = page.inner_text("body")
        assert HOSTILE_SITE in text
        assert HOSTILE_HOST in text
        assert page.locator("img[src='x']").count() == 0
        assert not errors, errors
        browser.close()
    watch.assert_clean()
    assert requests == [html.as_uri()], requests  # the page itself and nothing else
