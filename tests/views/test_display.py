"""Report sections (activation_kb.views.display): what they say, in which language, and that
text from data stays text."""

from __future__ import annotations

import dataclasses

import lxml.html
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from activation_kb import UnsupportedLanguageError
from activation_kb.views import display as view

SCRIPT = "<script>alert(1)</script>"


def _tree(html) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(html.data, create_parent="div")


def _text(html) -> str:
    return " ".join(_tree(html).text_content().split())


def _squash_text(text: str) -> str:
    return " ".join(str(text).split())


@pytest.fixture(scope="module")
def french(small_analysis):
    return dataclasses.replace(small_analysis, lang="fr", tz="Europe/Paris")


def test_heading_names_the_period_in_the_analysis_time_zone(small_analysis, french):
    s = small_analysis.summary
    start = pd.Timestamp(s["period_start"])
    tree = _tree(view.heading(small_analysis, title=SCRIPT))
    assert tree.findtext(".//h1") == SCRIPT  # the title is text, not a tag
    english = " ".join(tree.find(".//p").text_content().split())
    assert f"Period {start:%Y-%m-%d %H:%M} to" in english and "(UTC)" in english
    assert f"{s['records']:,} records" in english
    assert _tree(view.heading(french)).findtext(".//h1") == "Erreurs d’activation Windows"
    local = _text(view.heading(french))
    paris = start.tz_convert("Europe/Paris")
    assert f"Période du {paris:%d/%m/%Y %H:%M}" in local and "(Europe/Paris)" in local
    records = f"{s['records']:,}".replace(",", "\u202f")
    assert f"{records} enregistrements" in view.heading(french).data
    assert not _tree(view.heading(small_analysis, title=SCRIPT)).findall(".//script")


def test_heading_in_its_old_form_warns(small_analysis):
    with pytest.warns(DeprecationWarning, match="heading\\(analysis, title="):
        old = view.heading("Weekly", small_analysis, "fr", "UTC")
    assert old.data == view.heading(small_analysis, title="Weekly", lang="fr", tz="UTC").data


def test_summary_lists_the_fleet_and_failures(small_analysis, french):
    s = small_analysis.summary
    rows = [[cell.text_content() for cell in row.findall("td")]
            for row in _tree(view.summary(small_analysis)).iter("tr")]
    table = {r[0]: r[1] for r in rows if len(r) >= 2}
    assert table["Devices"] == f"{s['devices']:,}"
    assert table["Failure rate"] == f"{s['failure_rate']:.1%}"
    assert table["Incidents found"] == str(s["incidents"])
    assert "Appareils" in _text(view.summary(french))  # the analysis' language by default
    assert "Devices" in _text(view.summary(french, lang="en"))


def test_incidents_table_shows_each_incident_and_escapes_data(small_analysis):
    incidents = small_analysis.incidents.copy()
    incidents.loc[0, "scope"] = SCRIPT
    html = view.incidents_table(incidents)
    tree = _tree(html)
    rows = tree.findall(".//tbody/tr")
    assert len(rows) == len(incidents)
    assert rows[0].findall("td")[0].text_content() == incidents.loc[0, "incident_id"]
    assert rows[0].find(".//a").get("href") == "#" + incidents.loc[0, "incident_id"]
    # cause and resolution are in the incident's detail only
    assert _squash_text(incidents.loc[0, "cause"])[:40] not in _text(html)
    assert SCRIPT in tree.text_content() and not tree.findall(".//script")
    assert view.incidents_table(small_analysis).data == view.incidents_table(
        small_analysis.incidents).data


def test_no_incident_is_said_in_each_language(small_analysis):
    empty = small_analysis.incidents.iloc[:0]
    assert "No incident" in _text(view.incidents_table(empty))
    assert "Aucun incident" in _text(view.incidents_table(empty, lang="fr"))
    with pytest.raises(UnsupportedLanguageError):
        view.incidents_table(empty, lang="de")


def test_incident_card_keeps_safe_links_only(small_analysis):
    row = small_analysis.incidents.iloc[0].to_dict()
    detail = dict(row["codes_detail"][0])
    detail["links"] = [{"text": "docs", "url": "https://learn.microsoft.com/x"},
                       {"text": "bad", "url": "javascript:alert(1)"}]
    detail["cause"] = f"{SCRIPT} **bold**"
    row["codes_detail"] = [detail]
    tree = _tree(view.incident(row))
    hrefs = [a.get("href") for a in tree.iter("a")]
    assert hrefs == ["https://learn.microsoft.com/x"]
    assert not tree.findall(".//script") and SCRIPT in tree.text_content()
    assert tree.find(".//b") is not None or tree.find(".//strong") is not None
    assert row["incident_id"] in tree.find(".//h3").text_content()
    assert tree.find(".//h3").get("id") == row["incident_id"]  # the tables link to it


def test_uncatalogued_and_quality_sections(small_analysis, french):
    assert "documented in the article" in _text(view.uncatalogued(
        small_analysis.uncatalogued.iloc[:0]))
    quality = dict(small_analysis.quality, unreadable_codes=2, unreadable_code_examples=[
        {"file": "a.xml", "record": 7, "event_id": 12288, "text": SCRIPT}])
    noted = dataclasses.replace(small_analysis, quality=quality)
    text = _text(view.quality(noted))
    assert "2 record(s) carry a result code that could not be read" in text
    assert SCRIPT in text and "a.xml" in text
    assert "could not be read" not in _text(view.quality(small_analysis))
    assert "illisible" in _text(view.quality(dataclasses.replace(french, quality=quality)))


def test_positional_language_still_works(small_analysis):
    with pytest.warns(DeprecationWarning, match="passing lang by position"):
        assert view.section("summary", "fr").data == "<h2>Synthèse</h2>"


def test_offline_renderer_embeds_no_cdn(monkeypatch):
    previous = pio.renderers.default
    try:
        assert view.use_offline_plotly() == "activation_kb"
        assert pio.renderers.default == "activation_kb"
        bundle = pio.renderers["activation_kb"].to_mimebundle(go.Figure().to_dict())
        html = bundle["text/html"]
        assert "plotly-graph-div" in html and "cdn" not in html.lower()
        assert "mathjax" not in html.lower() and '"displaylogo": false' in html
    finally:
        pio.renderers.default = previous
