"""The explorer app (activation_kb.explore) driven from Python: filters, measure, incidents."""

from __future__ import annotations

import pytest

from activation_kb import UnsupportedLanguageError, explore


@pytest.fixture(scope="module")
def app(small_analysis):
    return explore(small_analysis)


def _ys(fig) -> float:
    return sum(float(sum(t.y)) for t in fig.data if t.y is not None and t.stackgroup)


def test_picking_a_site_changes_chart_summary_and_incidents(app, small_analysis):
    whole = _ys(app.figure)
    site = app.site.options[0][1]
    app.site.value = (site,)
    try:
        assert app.view.filters == {"site": (site,)}
        expected = small_analysis.where(site=site)
        assert _ys(app.figure) == pytest.approx(expected.counts["value"].sum())
        assert _ys(app.figure) < whole
        ids = [value for _, value in app.incident_list.options]
        assert ids == list(expected.incidents["incident_id"])
        assert f"{expected.summary['attempts']:,}" in app.summary.value
    finally:
        app.site.value = ()
    assert _ys(app.figure) == pytest.approx(whole)


def test_selecting_an_incident_shows_its_resolution(app, small_analysis):
    first = app.incident_list.options[0][1]
    app.incident_list.value = first
    row = small_analysis.incidents.set_index("incident_id").loc[first]
    assert first in app.detail.value
    assert row["resolution"].split()[0] in app.detail.value
    assert row["scope"].split("(")[0].strip() in app.detail.value


def test_codes_categories_hosts_and_period_filter_like_where(app, small_analysis):
    code = app.code.options[0][1]
    host = app.kms_host.options[0][1]
    app.code.value, app.kms_host.value = (code,), (host,)
    app.period.index = (1, len(app.period.options) - 2)
    try:
        f = app.filters()
        assert f["code"] == [code] and f["kms_host"] == [host] and "since" in f and "until" in f
        expected = small_analysis.where(**f)
        assert app.view.summary == expected.summary
    finally:
        app.reset.click()
    assert app.filters() == {} and app.view is small_analysis


def test_measure_switches_the_y_axis(app):
    app.measure.value = "rate"
    try:
        assert app.figure.layout.yaxis.tickformat == ".0%"
    finally:
        app.measure.value = "events"
    assert app.figure.layout.yaxis.tickformat is None


def test_french_app_and_bad_language(small_analysis):
    fr = explore(small_analysis, lang="fr")
    assert fr.period.description == "Période" and fr.measure.options[0][0] == "Tentatives en échec"
    assert "tentatives" in fr.summary.value
    with pytest.raises(UnsupportedLanguageError):
        explore(small_analysis, lang="de")
