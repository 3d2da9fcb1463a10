"""Figures: what they show (sums, peaks, hover, colours, languages); data stays text."""

from __future__ import annotations

import html
import os
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activation_kb import (
    UnsupportedLanguageError,
    detect_spikes,
    error_frequency,
    explain_spikes,
    load_catalogue,
    load_categories,
)
from activation_kb.analysis.attempts import activation_attempts
from activation_kb.catalogue.categories import CATEGORY_NAMES, category_of
from activation_kb.errors import AnalysisError, ChoiceError, NumberError
from activation_kb.views.figures import (
    CATEGORY_COLORS,
    TEMPLATE,
    plot_code_heatmap,
    plot_frequency,
    plot_incident,
    plot_top_codes,
)
from activation_kb.views.style import LABELS, escape, hover_paragraph

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = '<a href="https://evil.example/">click</a>'
ENTITY = "R&amp;D &lt;lab&gt; <b>bold</b>"
# text that looks like markup, mixed with any text
MARKUPISH = st.one_of(
    st.text(),
    st.lists(
        st.sampled_from(["<", ">", "</", "&", "&lt;", "&#39;", "b", "br", "a href=x", "script",
                         "span", " ", "\n", "'", '"', "é", "%{y}", "x"]),
        max_size=30,
    ).map("".join),
).filter(lambda t: t.strip())
# the only markup the figures may write themselves
ALLOWED_TAG = re.compile(r'^<(/?b|br|/?extra|span style="color:#[0-9A-F]{6}"|/span)>$')


def _analyse(events: pd.DataFrame, by=("code",)) -> SimpleNamespace:
    table = activation_attempts(events)
    code_counts = error_frequency(table, freq="h", by=list(by))
    spikes = detect_spikes(code_counts, 0.8)
    return SimpleNamespace(
        events=events,
        table=table,
        counts=error_frequency(table, freq="h", by="category"),
        code_counts=code_counts,
        spikes=spikes,
        incidents=explain_spikes(spikes, table),
    )


@pytest.fixture(scope="module")
def fleet(small_fleet) -> SimpleNamespace:
    """The shared simulated fleet (conftest) with its spikes and incidents."""
    return _analyse(small_fleet.events)


@pytest.fixture(scope="module")
def hostile(small_fleet) -> SimpleNamespace:
    """The same fleet where sites and a KMS host carry markup or entities in their names."""
    events = small_fleet.events
    events = events.assign(
        site=events["site"].replace({"paris": SCRIPT, "berlin": IMG, "lyon": LINK,
                                     "madrid": ENTITY}),
        kms_host=events["kms_host"].replace({"kms02.contoso.com": IMG}),
    )
    return _analyse(events, by=("code", "site"))


def _xs(trace) -> pd.DatetimeIndex:
    """The x values of a trace, whether given as an array or as x0 and dx (ms)."""
    if trace.x is not None:
        return pd.DatetimeIndex(pd.to_datetime(list(trace.x)))
    start = pd.Timestamp(trace.x0)
    return pd.DatetimeIndex([start + pd.Timedelta(milliseconds=trace.dx * i)
                             for i in range(len(trace.y))])


def _strings(obj, path=()):
    """Every string in a figure dict, with where it sits (the template left out)."""
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if key != "template":
                yield from _strings(value, (*path, key))
    elif isinstance(obj, (list, tuple, np.ndarray)):
        for i, value in enumerate(obj):
            yield from _strings(value, (*path, i))


def _plain(text: str) -> str:
    """What plotly shows of a text: tags removed, line breaks as spaces, entities decoded."""
    text = re.sub(r"<br>", " ", text)
    return " ".join(html.unescape(re.sub(r"<[^>]*>", "", text)).split())


def _squash(text: str) -> str:
    return " ".join(str(text).replace("**", "").split())


def _stacked(fig: go.Figure) -> list:
    return [t for t in fig.data if getattr(t, "stackgroup", None)]


def _markers(fig: go.Figure) -> list:
    return [t for t in fig.data if t.type == "scatter" and t.mode == "markers" and t.hovertext]


def _all_figures(fleet, lang="en") -> dict[str, go.Figure]:
    return {
        "frequency": plot_frequency(fleet.counts, fleet.spikes, incidents=fleet.incidents,
                                    lang=lang),
        "heatmap": plot_code_heatmap(fleet.code_counts, lang=lang),
        "top": plot_top_codes(fleet.table, lang=lang),
        "incident": plot_incident(fleet.incidents.iloc[0], fleet.table, lang=lang),
    }


# --- look -----------------------------------------------------------------------------------


def test_every_category_has_its_own_colour():
    assert set(CATEGORY_COLORS) == set(CATEGORY_NAMES)
    assert len(set(CATEGORY_COLORS.values())) == len(CATEGORY_COLORS)


def test_every_figure_uses_the_package_template(fleet):
    assert TEMPLATE in pio.templates
    expected = pio.templates[TEMPLATE].to_plotly_json()
    for name, fig in _all_figures(fleet).items():
        assert fig.layout.template.to_plotly_json() == expected, name


def test_importing_figures_leaves_plotly_defaults_alone():
    assert pio.templates.default != TEMPLATE


def test_a_category_has_the_same_colour_in_every_figure(fleet):
    seen: dict[str, set[str]] = {}
    for fig in _all_figures(fleet).values():
        for trace in fig.data:
            if trace.legendgroup in CATEGORY_COLORS:
                color = (trace.line.color if trace.type == "scatter" and trace.mode == "lines"
                         else trace.marker.color)
                seen.setdefault(trace.legendgroup, set()).add(color)
    assert len(seen) >= 4  # several categories were drawn ...
    for category, colors in seen.items():  # ... each in its one colour
        assert colors == {CATEGORY_COLORS[category]}, category


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_titles_and_axes_follow_the_language(fleet, lang):
    figs = _all_figures(fleet, lang)
    words = LABELS[lang]
    assert figs["frequency"].layout.title.text == escape(words["frequency_title"])
    assert figs["heatmap"].layout.title.text == escape(words["heatmap_title"])
    assert figs["top"].layout.title.text == escape(words["top_title"])
    assert figs["frequency"].layout.yaxis.title.text == escape(words["events"])
    assert figs["top"].layout.xaxis.title.text == escape(words["events"])
    subplot_titles = {a.text for a in figs["incident"].layout.annotations}
    assert escape(words["dimensions"]) in subplot_titles


def test_french_figures_are_in_french(fleet):
    figs = _all_figures(fleet, "fr")
    assert "catégorie" in figs["frequency"].layout.title.text
    assert html.unescape(figs["heatmap"].layout.yaxis.title.text) == "Code d'erreur"
    assert figs["top"].layout.separators == ", "
    legend = {t.name for t in figs["frequency"].data}
    assert "Clé de produit" in legend


@pytest.mark.parametrize("lang", ["de", "EN", 1])
def test_other_languages_are_refused(fleet, lang):
    calls = [
        lambda: plot_frequency(fleet.counts, lang=lang),
        lambda: plot_code_heatmap(fleet.code_counts, lang=lang),
        lambda: plot_top_codes(fleet.table, lang=lang),
        lambda: plot_incident(fleet.incidents.iloc[0], fleet.table, lang=lang),
    ]
    for call in calls:
        with pytest.raises(UnsupportedLanguageError):
            call()


def test_library_code_never_shows_a_figure(fleet, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a library function called show()")

    monkeypatch.setattr(go.Figure, "show", refuse)
    assert all(isinstance(f, go.Figure) for f in _all_figures(fleet).values())


def test_figures_reference_no_external_resource(fleet):
    for lang in ("en", "fr"):
        for name, fig in _all_figures(fleet, lang).items():
            text = fig.to_json()
            assert "http://" not in text and "https://" not in text, name
            assert not fig.layout.images


# --- frequency --------------------------------------------------------------------------------


def test_stacked_traces_are_the_counts(fleet):
    fig = plot_frequency(fleet.counts)
    traces = _stacked(fig)
    expected = fleet.counts.pivot(index="time", columns="category", values="value")
    assert [t.legendgroup for t in traces] == [c for c in CATEGORY_NAMES if c in expected]
    buckets = expected.index.tz_localize(None)
    total = np.zeros(len(buckets))
    for trace in traces:
        assert (_xs(trace) == buckets).all()
        np.testing.assert_array_equal(trace.y, expected[trace.legendgroup].to_numpy())
        total += trace.y
    np.testing.assert_array_equal(total, fleet.counts.groupby("time")["value"].sum().to_numpy())


def test_counts_by_site_are_added_up_to_categories(fleet):
    by_site = error_frequency(fleet.table, freq="h", by=["category", "site"])
    plain = {t.legendgroup: t.y for t in _stacked(plot_frequency(fleet.counts))}
    summed = {t.legendgroup: t.y for t in _stacked(plot_frequency(by_site))}
    assert plain.keys() == summed.keys()
    for category in plain:
        np.testing.assert_array_equal(plain[category], summed[category])


def _largest_per_key(spikes: pd.DataFrame) -> list:
    keys = [k for k in ("code", "category", "site") if k in spikes.columns]
    ordered = spikes.sort_values("excess", ascending=False, kind="stable")
    return list(ordered.drop_duplicates(keys).itertuples())


def _with_a_second_rise(spikes: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """The spikes and a smaller second rise of the first one's code, a day away from it."""
    first = spikes.iloc[[0]].copy()
    day = pd.Timedelta(days=1)
    shift = day if first["peak"].iloc[0] + day <= counts["time"].max() else -day
    for column in ("start", "end", "detected", "peak"):
        first[column] = first[column] + shift
    first["excess"] = first["excess"] / 2
    return pd.concat([spikes, first], ignore_index=True)


def test_spike_marker_sits_at_its_peak_with_the_code_text(fleet):
    spikes = _with_a_second_rise(fleet.spikes, fleet.counts)
    fig = plot_frequency(fleet.counts, spikes)
    catalogue = load_catalogue("en").set_index("code")
    traces = _stacked(fig)
    tops = np.cumsum([t.y for t in traces], axis=0)
    order = [t.legendgroup for t in traces]
    times = _xs(traces[0])
    points = [(x, y, text) for m in _markers(fig) for x, y, text in zip(m.x, m.y, m.hovertext)]
    largest = _largest_per_key(spikes)
    # one marker per key (a code that rose twice outside any incident is marked once)
    assert len(points) == len(largest) >= 3 and len(largest) < len(spikes)
    for spike in largest:
        peak = spike.peak.tz_convert("UTC").tz_localize(None)
        mine = [p for p in points if pd.Timestamp(p[0]) == peak and spike.code in p[2]]
        assert len(mine) == 1, spike.code
        _, y, text = mine[0]
        top = tops[order.index(category_of(spike.code)), times.get_loc(peak)]
        assert y == top
        row = catalogue.loc[spike.code]
        shown = _plain(text)
        for field in ("message", "cause"):
            assert _squash(row[field])[:60] in shown


def test_one_marker_per_incident_with_that_incidents_text(fleet):
    fig = plot_frequency(fleet.counts, fleet.spikes, incidents=fleet.incidents)
    texts = [t for m in _markers(fig) for t in m.hovertext]
    for inc in fleet.incidents.to_dict(orient="records"):
        mine = [t for t in texts if inc["incident_id"] in t]
        assert len(mine) == 1, inc["incident_id"]
        (text,) = mine
        # the hover leads with the incident's main code and gives that code's advice only
        assert re.match(rf"<b>{re.escape(inc['top_code'])}</b>", text)
        assert _squash(inc["message"])[:40] in _plain(text)
        others = [d for d in inc["codes_detail"][1:] if d["message"] != inc["message"]]
        for other in others:
            assert _squash(other["message"])[:40] not in _plain(text)
    assert len(texts) < len(fleet.spikes) + len(fleet.incidents)


def test_spike_marker_hover_uses_the_incident_text(fleet):
    incidents = fleet.incidents.copy()
    incidents.loc[0, "codes_detail"][0]["cause"] = "Cause written for this incident " + SCRIPT
    fig = plot_frequency(fleet.counts, fleet.spikes, incidents=incidents)
    texts = [t for m in _markers(fig) for t in m.hovertext]
    top = incidents.loc[0, "top_code"]
    mine = [t for t in texts if f"<b>{top}</b>" in t]
    assert mine and all(incidents.loc[0, "incident_id"] in t for t in mine)
    assert any("Cause written for this incident " + escape(SCRIPT) in _plain_br(t) for t in mine)


def _plain_br(text: str) -> str:
    return " ".join(text.replace("<br>", " ").split())


def test_incidents_alone_are_marked_once_each(fleet):
    fig = plot_frequency(fleet.counts, incidents=fleet.incidents)
    texts = [t for m in _markers(fig) for t in m.hovertext]
    assert len(texts) == len(fleet.incidents)
    for incident in fleet.incidents.itertuples():
        assert sum(incident.incident_id in t for t in texts) == 1


def test_category_spikes_are_marked_on_their_category(fleet):
    spikes = detect_spikes(fleet.counts, 0.8)
    fig = plot_frequency(fleet.counts, spikes)
    marked = {t.legendgroup for t in _markers(fig)}
    assert marked == set(spikes["category"]) and len(marked) >= 2
    codes = load_categories().groupby("category")["code"].nunique()
    several = [t for t in _markers(fig) if codes[t.legendgroup] > 1]
    assert several  # a category of several codes: none is invented for its marker
    for trace in several:
        assert not any(re.search(r"<b>0x[0-9A-F]{8}</b>", t) for t in trace.hovertext)


def test_a_category_of_one_code_names_that_code(fleet):
    spike = detect_spikes(fleet.counts, 0.8).iloc[[0]].assign(category="clock")
    fig = plot_frequency(fleet.counts, spike)
    (text,) = [t for m in _markers(fig) for t in m.hovertext]
    message = load_catalogue("en").set_index("code").loc["0xC004F06C", "message"]
    assert "<b>0xC004F06C</b>" in text and _squash(message)[:50] in _plain(text)


def test_spike_windows_are_shaded(fleet):
    fig = plot_frequency(fleet.counts, fleet.spikes)
    windows = {(pd.Timestamp(s.x0), pd.Timestamp(s.x1)) for s in fig.layout.shapes}
    for spike in _largest_per_key(fleet.spikes):
        assert (spike.start.tz_localize(None), spike.end.tz_localize(None)) in windows


def test_hover_text_is_wrapped_and_truncated(fleet):
    fig = plot_frequency(fleet.counts, fleet.spikes, incidents=fleet.incidents)
    for text in (t for m in _markers(fig) for t in m.hovertext):
        for line in text.split("<br>"):
            assert len(html.unescape(re.sub(r"<[^>]*>", "", line))) <= 80
    long = "word " * 200
    wrapped = hover_paragraph(long, width=60, max_lines=4, lead="Cause")
    lines = wrapped.split("<br>")
    assert len(lines) == 4 and lines[0].startswith("<b>Cause</b>: word")
    assert lines[-1].endswith("…") and all(len(_plain(line)) <= 60 for line in lines)


def test_y_axis_is_named_by_the_measure(fleet):
    devices = error_frequency(fleet.table, freq="h", by="category", measure="devices")
    assert plot_frequency(devices).layout.yaxis.title.text == escape(LABELS["en"]["devices"])
    rate = error_frequency(fleet.table, freq="D", by="category", measure="rate")
    fig = plot_frequency(rate, lang="fr")
    assert fig.layout.yaxis.title.text == escape(LABELS["fr"]["rate"])
    assert fig.layout.yaxis.tickformat == ".0%"


def test_local_time_zone_is_named_and_used(fleet):
    counts = error_frequency(fleet.table, freq="h", by="category", tz="Europe/Paris")
    fig = plot_frequency(counts)
    assert "Europe/Paris" in fig.layout.xaxis.title.text
    first = counts["time"].min().tz_localize(None)  # wall-clock time in Paris
    assert _xs(_stacked(fig)[0])[0] == first


def test_wrong_counts_are_refused_with_a_clear_message(fleet):
    with pytest.raises(AnalysisError, match="by='category'"):
        plot_frequency(fleet.code_counts)
    with pytest.raises(AnalysisError, match="by='code'"):
        plot_code_heatmap(fleet.counts)
    rate = error_frequency(fleet.table, freq="D", by=["category", "site"], measure="rate")
    with pytest.raises(AnalysisError, match="cannot add up 'rate'"):
        plot_frequency(rate)
    with pytest.raises(AnalysisError, match="detect_spikes"):
        plot_frequency(fleet.counts, fleet.spikes.drop(columns="peak"))
    with pytest.raises(NumberError, match="top_n=0: expected a whole number >= 1"):
        plot_top_codes(fleet.table, top_n=0)
    with pytest.raises(ChoiceError, match="measure='often'"):
        plot_frequency(fleet.counts, measure="often")


# --- heatmap and top codes ---------------------------------------------------------------------


def test_heatmap_shows_the_top_codes_by_failures(fleet):
    fig = plot_code_heatmap(fleet.code_counts, top_n=3)
    totals = fleet.code_counts.groupby("code")["failures"].sum()
    expected = totals.reset_index().sort_values(["failures", "code"], ascending=[False, True])
    codes = expected["code"].head(3).tolist()
    heat = fig.data[0]
    assert list(heat.y) == codes
    wide = fleet.code_counts.pivot(index="code", columns="time", values="value")
    np.testing.assert_array_equal(np.asarray(heat.z), wide.loc[codes].to_numpy())
    assert (_xs(SimpleNamespace(x=heat.x, x0=heat.x0, dx=heat.dx, y=wide.columns))
            == wide.columns.tz_localize(None)).all()
    for code, tick in zip(codes, fig.layout.yaxis.ticktext):
        assert CATEGORY_COLORS[category_of(code)] in tick and tick.endswith(code)
    assert fig.layout.yaxis.type == "category"  # "0x..." must not be read as numbers


def test_top_codes_count_failed_attempts_not_records(fleet):
    fig = plot_top_codes(fleet.events, top_n=5)
    bars = {y: x for trace in fig.data for y, x in zip(trace.y, trace.x)}
    per_attempt = fleet.table.errors.groupby("code")["attempt"].nunique()
    expected = per_attempt.reset_index().sort_values(["attempt", "code"],
                                                     ascending=[False, True]).head(5)
    assert bars == dict(zip(expected["code"], expected["attempt"]))
    assert list(fig.layout.yaxis.categoryarray) == expected["code"].tolist()
    records = fleet.events[fleet.events["code"].isin(list(bars))].groupby("code").size()
    assert (records > pd.Series(bars).reindex(records.index)).any()  # records per attempt: 2-4


def test_top_codes_bars_take_their_category_colour_and_message(fleet):
    fig = plot_top_codes(fleet.table, lang="fr")
    catalogue = load_catalogue("fr").set_index("code")
    for trace in fig.data:
        assert trace.marker.color == CATEGORY_COLORS[trace.legendgroup]
        for code, text in zip(trace.y, trace.hovertext):
            assert category_of(code) == trace.legendgroup
            if code in catalogue.index:
                assert _squash(catalogue.loc[code, "message"])[:50] in _plain(text)


def test_top_codes_of_one_attempt_with_several_records(fleet):
    table = fleet.table
    fig = plot_top_codes(table, top_n=50)
    shown = sum(sum(trace.x) for trace in fig.data)
    assert shown == len(table.errors)  # one per (failed attempt, code)


# --- one incident ------------------------------------------------------------------------------


def test_incident_view_names_the_incident_and_shades_its_window(fleet):
    incident = fleet.incidents.iloc[0]
    fig = plot_incident(incident, fleet.table)
    assert incident["incident_id"] in fig.layout.title.text
    assert incident["top_code"] in fig.layout.title.text
    subtitle = _plain(fig.layout.title.subtitle.text)
    # where it happened is the dimensions panel below, not repeated in the subtitle
    assert f"{incident['devices']} devices" in subtitle and incident["scope"][:20] not in subtitle
    lines = [t for t in fig.data if t.type == "scatter"]
    assert [t.name for t in lines] == [c for c in incident["codes"]]
    window = fig.layout.shapes[0]
    assert pd.Timestamp(window.x0) == incident["start"].tz_localize(None)
    assert pd.Timestamp(window.x1) == incident["end"].tz_localize(None)
    for trace in lines:  # the series covers the window and more on both sides
        xs = _xs(trace)
        assert xs[0] < pd.Timestamp(window.x0) and xs[-1] > pd.Timestamp(window.x1)


def test_incident_view_ranks_its_dimensions(fleet):
    incident = fleet.incidents.iloc[0]
    fig = plot_incident(incident, fleet.table, lang="fr")
    bars = [t for t in fig.data if t.type == "bar"]
    dims = incident["dimensions"][:8]
    assert list(bars[0].x) == [d["share"] for d in dims]
    assert list(bars[1].x) == [d["fleet_share"] for d in dims]
    assert bars[0].y[0].startswith(escape(dims[0]["dimension"]))
    assert bars[0].name == escape(LABELS["fr"]["failing_share"])


def test_incident_view_counts_match_error_frequency(fleet):
    incident = fleet.incidents.iloc[0]
    fig = plot_incident(incident, fleet.table, freq="D")
    counts = error_frequency(fleet.table, freq="D", by="code")
    for trace in (t for t in fig.data if t.type == "scatter"):
        series = counts[counts["code"] == trace.name].set_index("time")["value"]
        series.index = series.index.tz_localize(None)
        np.testing.assert_array_equal(trace.y, series.loc[_xs(trace)].to_numpy())


def test_incident_must_be_one_row(fleet):
    with pytest.raises(AnalysisError, match="one incident"):
        plot_incident(fleet.incidents, fleet.table)
    with pytest.raises(AnalysisError, match="lacks field"):
        plot_incident({"incident_id": "INC-001"}, fleet.table)
    assert plot_incident(fleet.incidents.iloc[[1]], fleet.table).layout.title.text


# --- empty input -----------------------------------------------------------------------------


def _says_no_data(fig: go.Figure, lang: str = "en") -> bool:
    return any(a.text == escape(LABELS[lang]["no_data"]) for a in fig.layout.annotations)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_empty_input_gives_a_figure_that_says_so(fleet, lang):
    none = fleet.events.iloc[:0]
    assert _says_no_data(plot_frequency(error_frequency(none, freq="h"), lang=lang), lang)
    assert _says_no_data(plot_code_heatmap(error_frequency(none, freq="h", by="code"), lang=lang),
                         lang)
    assert _says_no_data(plot_top_codes(none, lang=lang), lang)
    empty_spikes = fleet.spikes.iloc[:0]
    fig = plot_frequency(fleet.counts, empty_spikes, lang=lang)
    assert not _markers(fig) and not _says_no_data(fig, lang)
    incident = fleet.incidents.iloc[0].copy()
    incident["dimensions"] = []
    assert _says_no_data(plot_incident(incident, none, lang=lang), lang)


# --- data is text --------------------------------------------------------------------------


def _check_markup(fig: go.Figure) -> list[str]:
    """Assert that every tag in the figure is the figures' own; return all its strings."""
    strings = []
    for path, text in _strings(fig.to_dict()):
        for tag in re.findall(r"<[^<>]*>", text):
            assert ALLOWED_TAG.match(tag), (path, text)
        assert "<script" not in text and "<img" not in text and "<a " not in text, path
        strings.append(text)
    return strings


def test_markup_in_host_and_site_names_is_shown_as_text(hostile):
    site_spikes = hostile.spikes  # keyed by code and site
    assert {SCRIPT, IMG} & set(site_spikes["site"])
    figs = [
        plot_frequency(hostile.counts, site_spikes, incidents=hostile.incidents, title=SCRIPT),
        plot_code_heatmap(hostile.code_counts, title=IMG),
        plot_top_codes(hostile.table, title=LINK),
        *(plot_incident(i, hostile.table) for _, i in hostile.incidents.iterrows()),
    ]
    shown = " ".join(s for fig in figs for s in _check_markup(fig))
    for name in (SCRIPT, IMG, LINK, ENTITY):
        assert escape(name) in shown, name
    incident_text = " ".join(
        _plain(s) for fig in figs[3:] for s in _check_markup(fig)
    )
    assert SCRIPT in incident_text and IMG in incident_text  # shown, as text


def test_data_never_enters_a_hover_template(fleet):
    odd = "odd %{y} <b>"  # plotly would expand %{...} inside a template
    counts = fleet.counts.assign(category=fleet.counts["category"].replace({"dns": odd}))
    incident = fleet.incidents.iloc[0]
    for fig, data in ((plot_frequency(counts), [odd]),
                      (plot_incident(incident, fleet.table), list(incident["codes"])),
                      (plot_code_heatmap(fleet.code_counts), list(fleet.code_counts["code"]))):
        templates = [t.hovertemplate for t in fig.data if t.hovertemplate]
        assert templates
        assert not any(value in t for value in data for t in templates)
    assert escape(odd) in {t.name for t in plot_frequency(counts).data}


def test_catalogue_placeholders_stay_visible(fleet):
    # 0x8007232B's French resolution says "slmgr.vbs /skms <kms_host_name>"
    text = hover_paragraph(load_catalogue("fr").set_index("code").loc["0x8007232B",
                                                                      "resolution"])
    assert "&lt;kms_host_name&gt;" in text and "<kms_host_name>" in _plain(text)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=MARKUPISH, name=MARKUPISH)
def test_any_dimension_value_is_shown_as_itself(fleet, value, name):
    incident = fleet.incidents.iloc[0].to_dict()
    incident["incident_id"] = name
    incident["scope"] = f"site={value}"
    incident["dimensions"] = [dict(incident["dimensions"][0], value=value)]
    fig = plot_incident(incident, fleet.table)
    _check_markup(fig)
    assert " ".join(name.split()) in _plain(fig.layout.title.text)
    hover = next(t for t in fig.data if t.type == "bar").hovertext[0]
    assert " ".join(value.split()) in _plain(hover)


@settings(max_examples=200, deadline=None)
@given(MARKUPISH)
def test_hover_paragraph_never_writes_markup_from_its_text(text):
    out = hover_paragraph(text, width=40, max_lines=50, lead="Cause")
    for tag in re.findall(r"<[^<>]*>", out):
        assert tag in ("<b>", "</b>", "<br>")
    assert html.unescape(escape(text)) == text
    assert "<" not in escape(text) and ">" not in escape(text)


# --- in a real browser -------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
def test_markup_in_data_renders_as_text_in_chromium(hostile, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    playwright = pytest.importorskip("playwright.sync_api")
    incident = next(i for _, i in hostile.incidents.iterrows() if IMG in i["scope"])
    pages = {
        "frequency.html": plot_frequency(hostile.counts, hostile.spikes, title=ENTITY),
        "incident.html": plot_incident(incident, hostile.table, lang="fr"),
    }
    hover = {"frequency.html": escape(LINK), "incident.html": escape(IMG)}
    points = {}
    for name, fig in pages.items():
        fig.write_html(tmp_path / name, include_plotlyjs=True, full_html=True)
        points[name] = next(
            [c, i, (t.xaxis or "x") + (t.yaxis or "y")]
            for c, t in enumerate(fig.data) for i, h in enumerate(t.hovertext or ())
            if hover[name] in h
        )
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        dialogs, outside = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
            "file://") else (outside.append(route.request.url), route.abort()))
        shown = {}
        for name in pages:
            page.goto((tmp_path / name).as_uri())
            page.wait_for_selector(".main-svg")
            page.evaluate(
                "([c, i, s]) => Plotly.Fx.hover(document.querySelector('.js-plotly-plot'),"
                " [{curveNumber: c, pointNumber: i}], s)", points[name])
            page.wait_for_selector(".hoverlayer .hovertext")
            shown[name] = page.evaluate(
                "() => [document.querySelector('.js-plotly-plot').textContent,"
                " document.querySelector('.hoverlayer').textContent,"
                " [...document.querySelectorAll(['img', 'script', 'a', 'iframe', 'foreignObject']"
                ".map(t => `.main-svg ${t}`).join(','))].map(e => e.outerHTML)]")
        browser.close()
    assert dialogs == [] and outside == []
    text, hovered, injected = shown["frequency.html"]
    assert injected == []  # no link, image or script made from data
    assert ENTITY in text  # the title, entities and all, as written
    assert LINK in hovered and "site" in hovered  # the spike's site in its hover, as text
    text, hovered, injected = shown["incident.html"]
    assert injected == [] and IMG in hovered and f"site: {IMG}" in text
