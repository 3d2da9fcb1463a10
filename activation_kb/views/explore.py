"""Explore a fleet's activation errors without writing code: filters, chart, incidents, detail.

:func:`explore` returns an ipywidgets app for JupyterLab and Voilà (``voila
notebooks/explore.ipynb``): a time range, multi-select filters for site, KMS host, category and
code, a measure (failed attempts, devices, failure rate), the frequency chart with its spikes,
the incidents of the filtered view as a list, and the selected incident's detail (codes,
devices, where, cause and resolution). Every change re-uses the analysis already computed
(:meth:`FleetAnalysis.where <activation_kb.FleetAnalysis.where>`): no event is read again.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

import ipywidgets as W
import pandas as pd
from IPython import get_ipython
from IPython.display import clear_output, display

from ..analysis.fleet import FleetAnalysis, analyze_fleet
from ..analysis.frequency import error_frequency
from ..catalogue.categories import category_label
from ..l10n import format_count, format_date, format_percent, plural
from ..params import check_lang
from .display import incident as incident_html
from .figures import plot_frequency

__all__ = ["Explorer", "explore", "EXPLORE_TEXT"]

#: Words of the explorer in each language.
EXPLORE_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "period": "Period", "site": "Sites", "kms_host": "KMS hosts", "category": "Categories",
        "code": "Codes", "measure": "Measure", "events": "Failed attempts",
        "devices": "Devices", "rate": "Failure rate", "reset": "Clear filters",
        "incidents": "Incidents of this view", "no_incident": "No incident in this view.",
        "pick": "Select an incident to read its cause and resolution.",
        "summary": "{attempts} · {failed} failed ({rate}) · {devices} failing · {incidents}",
        "attempt": "attempt", "device": "device", "incident": "incident",
        "updated": "updated in {ms} ms", "ongoing": "ongoing", "ended": "ended",
        "hint": "Hold Ctrl (⌘ on a Mac) to pick several; none picked means all.",
    },
    "fr": {
        "period": "Période", "site": "Sites", "kms_host": "Hôtes KMS",
        "category": "Catégories", "code": "Codes", "measure": "Mesure",
        "events": "Tentatives en échec", "devices": "Appareils", "rate": "Taux d’échec",
        "reset": "Effacer les filtres", "incidents": "Incidents de cette vue",
        "no_incident": "Aucun incident dans cette vue.",
        "pick": "Choisissez un incident pour lire sa cause et sa résolution.",
        "summary": "{attempts} · {failed} en échec ({rate}) · {devices} en échec · {incidents}",
        "attempt": "tentative", "device": "appareil", "incident": "incident",
        "updated": "mis à jour en {ms} ms", "ongoing": "en cours", "ended": "terminé",
        "hint": "Ctrl (⌘ sur Mac) pour en choisir plusieurs ; aucun choix : tous.",
    },
}
_MEASURES = ("events", "devices", "rate")


def explore(source: Any, *, lang: str | None = None, since: object = None, until: object = None,
            freq: str = "h", tz: str | None = None) -> Explorer:
    """Build the explorer app of a fleet's activation errors; it is returned, not displayed.

    Parameters
    ----------
    source : FleetAnalysis, path(s), glob, directory or pandas.DataFrame
        An analysis from :func:`~activation_kb.analyze_fleet` (used as is), or what it reads.
    lang : {"en", "fr"}, optional
        Language of the app; default the analysis' language, else English.
    since, until, freq, tz
        Passed to :func:`~activation_kb.analyze_fleet` when ``source`` is not an analysis.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``. Its parts are attributes, so code (and tests) can drive it:
        ``period`` (SelectionRangeSlider of days), ``site``, ``kms_host``, ``category``,
        ``code`` (SelectMultiple; nothing selected means all), ``measure`` (ToggleButtons),
        ``chart`` (Output holding the figure), ``incident_list`` (Select of incident ids),
        ``detail`` and ``summary`` (HTML); ``view`` is the current ``analysis.where(...)``,
        ``figure`` the chart's figure and ``last_update`` the seconds the last change took.

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not "en" or "fr".

    Examples
    --------
    >>> from activation_kb import simulate_fleet, explore
    >>> app = explore(simulate_fleet(devices=60, days=10, seed=1).events, freq="D", lang="fr")
    >>> app.site.value = (app.site.options[0][1],)
    >>> app.view.filters["site"] == app.site.value
    True
    """
    if isinstance(source, FleetAnalysis):
        analysis = source
        lang = check_lang(analysis.lang if lang is None else lang)
    else:
        lang = check_lang("en" if lang is None else lang)
        analysis = analyze_fleet(source, since=since, until=until, freq=freq, lang=lang, tz=tz)
    return Explorer(analysis, lang)


def _days(analysis: FleetAnalysis) -> list[pd.Timestamp]:
    """Day boundaries of the analysed buckets, in the analysis' time zone (last one included)."""
    times = analysis.counts["time"]
    if not len(times):
        return []
    first = times.min().normalize()
    last = times.max().normalize() + pd.Timedelta(days=1)
    return list(pd.date_range(first, last, freq="D"))


class Explorer(W.VBox):
    """The explorer app; see :func:`activation_kb.explore` for its parts."""

    def __init__(self, analysis: FleetAnalysis, lang: str) -> None:  # noqa: D107
        self.analysis = analysis
        self.lang = lang
        self.view = analysis
        self.figure = None
        self.last_update = 0.0
        self._busy = False
        words = EXPLORE_TEXT[lang]
        days = _days(analysis)
        self.period = W.SelectionRangeSlider(
            options=[(format_date(d, lang, time=False), d) for d in days] or [("-", None)],
            index=(0, max(len(days) - 1, 0)), description=words["period"],
            continuous_update=False, style={"description_width": "initial"},
            layout=W.Layout(width="100%", max_width="56em"))
        attempts, errors = analysis.table.attempts, analysis.table.errors
        sites = sorted(s for s in attempts["site"].astype(str).unique() if s)
        hosts = sorted(h for h in attempts["kms_host"].astype(str).unique() if h)
        by_code = errors.groupby(errors["code"].astype(str))["attempt"].nunique()
        codes = by_code.sort_values(ascending=False, kind="stable").index.tolist()
        cats = sorted({str(c) for c in errors["category"].astype(str).unique()})
        self.site = self._multi(words["site"], [(s, s) for s in sites])
        self.kms_host = self._multi(words["kms_host"], [(h, h) for h in hosts])
        self.category = self._multi(
            words["category"], [(category_label(c, lang=lang), c) for c in cats])
        self.code = self._multi(words["code"], [(c, c) for c in codes])
        self.measure = W.ToggleButtons(
            options=[(words[m], m) for m in _MEASURES], value="events",
            style={"button_width": "auto"})
        self.reset = W.Button(description=words["reset"], icon="times")
        self.summary = W.HTML()
        self.chart = W.Output(layout=W.Layout(width="100%", min_height="440px"))
        self.incident_list = W.Select(rows=7, layout=W.Layout(width="100%"))
        self.detail = W.HTML(layout=W.Layout(width="100%", overflow="auto"))
        for widget, css in [(self.period, "period"), (self.site, "site"),
                            (self.kms_host, "kms-host"), (self.category, "category"),
                            (self.code, "code"), (self.measure, "measure"),
                            (self.summary, "summary"), (self.chart, "chart"),
                            (self.incident_list, "incidents"), (self.detail, "detail")]:
            widget.add_class(f"akb-explore-{css}")
        filters = W.HBox([self.site, self.kms_host, self.category, self.code],
                         layout=W.Layout(flex_flow="row wrap", width="100%"))
        super().__init__([
            self.period, filters,
            W.HTML(f'<span style="color:#666;font-size:0.9em">{escape(words["hint"])}'
                   "</span>"),
            W.HBox([self.measure, self.reset],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            self.summary, self.chart,
            W.HTML(f"<h3 style='margin:0.4em 0'>{escape(words['incidents'])}</h3>"),
            self.incident_list, self.detail,
        ], layout=W.Layout(width="100%"))
        self.add_class("akb-explore")
        for widget in (self.period, self.site, self.kms_host, self.category, self.code,
                       self.measure):
            widget.observe(self._on_filter, "value")
        self.incident_list.observe(self._on_incident, "value")
        self.reset.on_click(self._on_reset)
        self.update()

    @staticmethod
    def _multi(title: str, options: list[tuple[str, str]]) -> Any:
        return W.SelectMultiple(
            options=options, rows=min(max(len(options), 2), 6), description=title,
            style={"description_width": "initial"},
            layout=W.Layout(flex="1 1 14em", min_width="12em", max_width="24em",
                            margin="0 1em 0.4em 0"))

    # -- reacting ------------------------------------------------------------------------
    def _on_filter(self, change: dict) -> None:
        if not self._busy:
            self.update()

    def _on_reset(self, _button: Any) -> None:
        self._busy = True
        try:
            for widget in (self.site, self.kms_host, self.category, self.code):
                widget.value = ()
            self.period.index = (0, len(self.period.options) - 1)
        finally:
            self._busy = False
        self.update()

    def _on_incident(self, change: dict) -> None:
        if not self._busy:
            self._show_incident(change["new"])

    # -- computing -----------------------------------------------------------------------
    def filters(self) -> dict[str, Any]:
        """Return the keywords of ``analysis.where`` the controls stand for."""
        out: dict[str, Any] = {}
        for name in ("site", "kms_host", "category", "code"):
            chosen = list(getattr(self, name).value)
            if chosen:
                out[name] = chosen
        first, last = self.period.value
        bounds = [v for _, v in self.period.options]
        if first is not None and first != bounds[0]:
            out["since"] = first
        if last is not None and last != bounds[-1]:
            out["until"] = last
        return out

    def update(self) -> None:
        """Filter the analysis, redraw the chart and the incident list."""
        started = time.perf_counter()
        where = self.filters()
        self.view = self.analysis.where(**where) if where else self.analysis
        measure = self.measure.value
        counts = self.view.counts
        if measure != "events":
            counts = error_frequency(self.view.table, freq=self.analysis.freq,
                                     by="category", measure=measure,
                                     since=self.view.since, until=self.view.until,
                                     tz=self.analysis.tz)
        fig = plot_frequency(counts, self.view.spikes, incidents=self.view.incidents,
                             lang=self.lang, measure=measure)
        fig.update_layout(height=440, margin={"r": 10, "t": 60},
                          legend={"orientation": "h", "x": 0, "y": -0.22,
                                  "yanchor": "top"})
        self.figure = fig
        if get_ipython() is not None:  # outside IPython, display() would print the figure
            with self.chart:
                clear_output(wait=True)
                display(fig)
        self._list_incidents()
        self.summary.value = self._summary_html()
        self.last_update = time.perf_counter() - started
        words = EXPLORE_TEXT[self.lang]
        took = words["updated"].format(ms=round(self.last_update * 1000))
        self.summary.value += (f' <span style="color:#888;font-size:0.85em">· '
                               f"{escape(took)}</span>")

    def _summary_html(self) -> str:
        words, s, lang = EXPLORE_TEXT[self.lang], self.view.summary, self.lang
        first, last = self.period.value
        span = (f"{format_date(first, lang, time=False)} → {format_date(last, lang, time=False)}"
                if first is not None and last is not None else "")
        text = words["summary"].format(
            attempts=plural(s["attempts"], words["attempt"], lang),
            failed=format_count(s["failed_attempts"], lang),
            rate=format_percent(s["failure_rate"], lang),
            devices=plural(s["failing_devices"], words["device"], lang),
            incidents=plural(len(self.view.incidents), words["incident"], lang))
        head = f"<b>{escape(span)}</b> · " if span else ""
        return f"{head}<b>{escape(text)}</b>"

    def _list_incidents(self) -> None:
        words = EXPLORE_TEXT[self.lang]
        incidents = self.view.incidents
        options = []
        for inc in incidents.to_dict(orient="records"):
            status = words.get(str(inc.get("status")), "")
            options.append((
                f"{'● ' if inc.get('status') == 'ongoing' else ''}{inc['incident_id']} · "
                f"{inc['top_code']} · {inc['category_label']} · "
                f"{plural(int(inc['devices']), words['device'], self.lang)} · {status}",
                inc["incident_id"]))
        keep = self.incident_list.value
        ids = [value for _, value in options]
        self._busy = True
        try:
            self.incident_list.options = options
            self.incident_list.value = keep if keep in ids else None
        finally:
            self._busy = False
        self._show_incident(self.incident_list.value)

    def _show_incident(self, incident_id: str | None) -> None:
        words = EXPLORE_TEXT[self.lang]
        incidents = self.view.incidents
        if incidents.empty:
            self.detail.value = f"<p>{escape(words['no_incident'])}</p>"
            return
        if incident_id is None:
            self.detail.value = f"<p style='color:#666'>{escape(words['pick'])}</p>"
            return
        row = incidents[incidents["incident_id"] == incident_id].iloc[0]
        html = incident_html(row, lang=self.lang, tz=self.analysis.tz).data
        scope = escape(str(row["scope"]))
        facts = (f"<p><b>{escape(words['devices'])}</b> : " if self.lang == "fr"
                 else f"<p><b>{escape(words['devices'])}</b>: ")
        facts += f"{format_count(int(row['devices']), self.lang)} · {scope}</p>"
        self.detail.value = html.replace("</h3>", "</h3>" + facts, 1)
