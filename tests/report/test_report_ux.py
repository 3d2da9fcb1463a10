"""The French report in real headless Chromium at phone and desktop width: French everywhere, no
element wider than the screen, no legend over a plot, each fact once.

One French report of the bundled sample is built with the real runner (papermill + nbconvert);
Chromium (offline) renders it at 390 px and 1400 px. Set ``AKB_SCREENSHOTS`` to a folder to keep
the screenshots (the README's come from there).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from browser import PageWatch, launch_chromium

from activation_kb.catalogue.article import cached_catalogue
from activation_kb.catalogue.categories import CATEGORY_NAMES, category_label
from activation_kb.l10n import DIMENSION_LABELS, VALUE_LABELS
from activation_kb.report.runner import default_events, run_report
from activation_kb.views import display, style

pytestmark = [pytest.mark.browser, pytest.mark.notebook, pytest.mark.xdist_group("report")]

WIDTHS = (390, 1400)
_WORD = re.compile(r"[A-Za-zÀ-ÿ’']+")

# every visible text node: SVG text of the charts included, hidden and script text left out
_VISIBLE_TEXT = """() => {
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, el = node.parentElement;
    if (!el || !node.textContent.trim()) continue;
    if (el.closest('script,style,noscript,title')) continue;
    const css = getComputedStyle(el);
    if (css.display === 'none' || css.visibility === 'hidden') continue;
    if (!el.getClientRects().length) continue;
    out.push(node.textContent);
  }
  return out;
}"""

# elements reaching beyond the viewport that no scrolling or clipping box of theirs contains
_TOO_WIDE = """() => {
  const vw = document.documentElement.clientWidth, bad = [];
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden' || a.tagName === 'svg') {
        const r = a.getBoundingClientRect();
        if (r.left >= -1 && r.right <= vw + 1) return true;
      }
    }
    return false;
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('#js-plotly-tester')) continue;  // plotly's off-screen text measurer
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    if ((r.right > vw + 1 || r.left < -1) && !clipped(el)) {
      bad.push(`${el.tagName}.${el.className && el.className.baseVal !== undefined
        ? el.className.baseVal : el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  return {vw, scroll: document.documentElement.scrollWidth, bad: bad.slice(0, 10)};
}"""

# per chart: the legend's box against every plot area (drag layer) of the chart
_LEGEND_OVERLAP = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map((gd) => {
  const legend = gd.querySelector('.legend');
  if (!legend) return null;
  const l = legend.getBoundingClientRect();
  const hits = Array.from(gd.querySelectorAll('.nsewdrag')).filter((d) => {
    const p = d.getBoundingClientRect();
    return l.left < p.right - 1 && p.left < l.right - 1 && l.top < p.bottom - 1
      && p.top < l.bottom - 1;
  });
  return hits.length ? (gd.layout.title && gd.layout.title.text) || gd.id : null;
}).filter((x) => x)"""


@pytest.fixture(scope="module")
def french_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("fr") / "report"
    return run_report(default_events(), out, lang="fr")


def _english_words() -> set[str]:
    """Words of the product's own English labels that its French labels never use."""
    english, french = [], []
    for table, lang in ((display.LABELS, "en"), (style.LABELS, "en"), (display.LABELS, "fr"),
                        (style.LABELS, "fr")):
        (english if lang == "en" else french).extend(table[lang].values())
    english += list(DIMENSION_LABELS["en"].values()) + list(VALUE_LABELS["en"].values())
    french += list(DIMENSION_LABELS["fr"].values()) + list(VALUE_LABELS["fr"].values())
    english += [category_label(c, lang="en") for c in CATEGORY_NAMES]
    french += [category_label(c, lang="fr") for c in CATEGORY_NAMES]
    english += ["low", "medium", "high", "critical", "ongoing", "ended", "Spike", "peaks"]
    # the French article keeps some English names (Network Time Protocol, Active Directory)
    article = cached_catalogue("fr")
    french += [str(v) for col in ("message", "cause", "resolution") for v in article[col]]

    def words(texts: list[str]) -> set[str]:
        return {w.casefold() for t in texts for w in _WORD.findall(re.sub(r"\{[^}]*\}", " ", t))
                if len(w) >= 3}

    return words(english) - words(french)


def _open(page, html: Path, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(html.as_uri())
    page.wait_for_selector(".plotly-graph-div .main-svg", timeout=30_000)
    count = page.locator(".plotly-graph-div").count()
    page.wait_for_function(
        f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {count}",
        timeout=30_000)
    page.wait_for_timeout(800)  # the narrow-screen relayout runs after each chart is drawn


def test_french_report_has_no_english_label_and_each_fact_once(french_report):
    from playwright.sync_api import sync_playwright

    english = _english_words()
    assert {"failed", "attempts", "devices", "severity", "ongoing", "rate"} <= english
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(offline=True).new_page()
        watch = PageWatch.on(page)
        _open(page, french_report.html, 1400)
        texts = page.evaluate(_VISIBLE_TEXT)
        html = page.content()
        browser.close()
    watch.assert_clean()
    shown = [t for t in texts if not re.fullmatch(r"\s*(/|[A-Za-z]:\\)\S*\s*", t)]  # paths
    found = {w for t in shown for w in _WORD.findall(t) if w.casefold() in english}
    assert not found, f"English words in the French report: {sorted(found)}"
    joined = " ".join(" ".join(texts).split())
    assert re.search(r"\d{1,3}\u202f\d{3}", " ".join(texts))  # 46 526: French thousands
    assert re.search(r"\d+,\d\u202f%", " ".join(texts))  # 38,4 %
    assert re.search(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", joined)  # 11/01/2026 05:00
    assert "À traiter en premier" in joined and ("terminé" in joined or "en cours" in joined)
    # cause and resolution once per incident: the umbrella text may recur, the lead's may not
    incidents = json.loads((french_report.html.parent / "incidents.json").read_text())
    for inc in incidents:
        lead = " ".join(inc["resolution"].split())[:60]
        if lead and not any(lead in " ".join(o["resolution"].split())
                            for o in incidents if o is not inc):
            # shown in its detail, and as the first step in "act first" at most
            assert joined.count(lead[:40]) <= 2, inc["incident_id"]
        assert html.count(f'id="{inc["incident_id"]}"') == 1


@pytest.mark.parametrize("width", WIDTHS)
def test_report_fits_the_screen_and_legends_leave_plots_clear(french_report, width, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_context(offline=True).new_page()
        _open(page, french_report.html, width)
        wide = page.evaluate(_TOO_WIDE)
        overlaps = page.evaluate(_LEGEND_OVERLAP)
        orientations = page.evaluate(
            "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".map(g => (g.layout.legend || {}).orientation || 'v')")
        scrollers = page.locator(".akb-scroll").count()
        shots = Path(os.environ.get("AKB_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"report-fr-{width}.png"))
        browser.close()
    assert wide["scroll"] <= wide["vw"], wide
    assert not wide["bad"], wide
    assert not overlaps, f"legend over the plot area at {width} px: {overlaps}"
    assert scrollers >= 3
    if width < 640:
        assert set(orientations) == {"h"}  # every legend below its plot on a phone
    else:
        assert "v" in orientations


def test_incidents_csv_lists_are_json(french_report):
    csv = pd.read_csv(french_report.html.parent / "incidents.csv")
    assert csv["codes"].map(json.loads).map(lambda v: isinstance(v, list)).all()
    assert csv["dimensions"].map(json.loads).map(lambda v: isinstance(v, list)).all()
    assert csv["status"].isin(["ongoing", "ended"]).all()
    assert csv["incident_id"].str.match(r"^INC-\d{8}-\d{4}-[0-9A-F]{4}-[0-9a-f]{4}$").all()
