"""Plotly figures of activation errors: frequency by category, code heatmap, top codes, incidents.

Every function returns a :class:`plotly.graph_objects.Figure` (never shows it) drawn with the
package template ``"activation_kb"`` (:data:`TEMPLATE`), one colour per category
(:data:`CATEGORY_COLORS`, the same in every figure), and titles and axis labels in English or
French. Text from data (codes, host names, sites, catalogue text) is escaped wherever plotly would
read it as markup, so it always shows as itself. Empty input gives a figure that says so.

Every function also takes a :class:`~activation_kb.FleetAnalysis` (or a view of it from
``analysis.where(...)``) in place of its frame: the counts, spikes, incidents, attempt table,
language and bucket size then come from the analysis, and keywords still override them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..analysis.attempts import AttemptTable, activation_attempts
from ..analysis.fleet import FleetAnalysis
from ..analysis.frequency import MEASURES, error_frequency
from ..analysis.incidents import catalogue_rows, code_text
from ..analysis.spikes import SEVERITIES
from ..catalogue.categories import category_of
from ..errors import AnalysisError
from ..l10n import dimension_label, format_percent, value_label
from ..params import check_choice, check_freq, check_top_n
from .spike_marks import add_spike_marks, incident_records, text_lines
from .style import (
    CATEGORY_COLORS,
    TEMPLATE,
    category_text,
    check_lang,
    color_of,
    escape,
    format_number,
    format_time,
    hover_date,
    label,
    new_figure,
    no_data,
    ordered_categories,
    rgba,
    time_zone,
    title_text,
    utc_wall,
    x_axis,
)

__all__ = [
    "CATEGORY_COLORS",
    "TEMPLATE",
    "plot_frequency",
    "plot_code_heatmap",
    "plot_top_codes",
    "plot_incident",
]

_COUNT_COLUMNS = ("time", "value", "failures", "attempts")
# hover templates read a trace's (escaped) name from the trace: data never enters a template,
# where plotly would expand any "%{...}" it holds
_NAMED = "<b>%{fullData.name}</b><br>"
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
_INCIDENT_FIELDS = ("incident_id", "start", "end", "top_code", "codes", "scope", "dimensions")


# --- counts -----------------------------------------------------------------------------------


def _measure(counts: pd.DataFrame, measure: str | None) -> str:
    """Return what ``counts`` count: ``measure`` when given, else what error_frequency noted."""
    if measure is not None:
        return check_choice(measure, "measure", MEASURES)
    noted = counts.attrs.get("measure", "events")
    return noted if noted in MEASURES else "events"


def _lang(lang: str | None, analysis: FleetAnalysis | None) -> str:
    """Return ``lang`` checked; None means the analysis' language, else English."""
    if lang is None:
        lang = analysis.lang if analysis is not None else "en"
    return check_lang(lang)


def _counts_by(counts: object, key: str, function: str, measure: str) -> pd.DataFrame:
    """Check ``error_frequency`` output and sum it over any dimension keys besides ``key``."""
    hint = f"expected the output of error_frequency(events, by={key!r})"
    if not isinstance(counts, pd.DataFrame):
        raise AnalysisError(f"{function}: counts must be a DataFrame ({hint}), not "
                            f"{type(counts).__name__}")
    missing = [c for c in ("time", key, "value") if c not in counts.columns]
    if missing:
        raise AnalysisError(f"{function}: counts lacks column(s) {missing}; {hint}")
    if not pd.api.types.is_datetime64_any_dtype(counts["time"]):
        raise AnalysisError(
            f"{function}: column 'time' must hold times, not {counts['time'].dtype}"
        )
    extra = [c for c in counts.columns if c not in (*_COUNT_COLUMNS, key)]
    if key == "code" and "category" in extra:  # a code has one category: nothing to sum
        extra.remove("category")
    if not extra:
        return counts[["time", key, "value"]]
    if (key == "category" and "code" in extra) or measure == "rate":
        raise AnalysisError(
            f"{function}: cannot add up {measure!r} counts over {extra}; {hint} alone"
        )
    return counts.groupby(["time", key], as_index=False, observed=True)["value"].sum()


def _axis_titles(fig: go.Figure, counts: pd.DataFrame, lang: str, measure: str,
                 **extra: Any) -> None:
    fig.update_layout(
        xaxis_title=label(lang, "time").replace("{tz}", escape(time_zone(counts["time"]))),
        yaxis_title=label(lang, measure),
        **extra,
    )
    if measure == "rate":
        fig.update_yaxes(tickformat=".0%")


def _value_format(measure: str) -> str:
    return {"rate": ":.1%", "devices": ":,.0f"}.get(measure, ":,.0f")


# --- frequency by category -----------------------------------------------------------------


def plot_frequency(
    counts: pd.DataFrame | FleetAnalysis,
    spikes: pd.DataFrame | None = None,
    *,
    incidents: pd.DataFrame | None = None,
    lang: str | None = None,
    measure: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Stacked error frequency over time by category, with spikes marked.

    Parameters
    ----------
    counts : pandas.DataFrame or FleetAnalysis
        ``error_frequency(events, by="category")`` in any measure (the y axis names it);
        counts also keyed by dimensions (site ...) are added up over them, except rates. A
        FleetAnalysis gives its ``counts``, and its ``spikes`` and ``incidents`` unless passed.
    spikes : pandas.DataFrame, optional
        ``detect_spikes`` output on counts keyed by ``code`` or ``category``. Each spike gets a
        marker at its peak, on top of its category's band, and a shaded window; hovering the
        marker shows the code, its message, cause and resolution (wrapped), the peak and excess.
    incidents : pandas.DataFrame, optional
        ``explain_spikes`` output: its text is used for the spikes it grouped (and it names the
        incident). Without ``spikes``, each incident is marked at its category's highest bucket.
    lang : {"en", "fr"}, optional
        Language of titles, labels and catalogue text; default the analysis' language, else
        English.
    measure : {"events", "devices", "rate"}, optional
        What ``counts`` count; default what ``error_frequency`` noted (failed attempts for an
        analysis).
    title : str, optional
        Plain-text title (escaped); default "Activation errors over time, by category".

    Returns
    -------
    plotly.graph_objects.Figure
        One stacked trace per category (``legendgroup`` = category name), then one marker trace.

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not "en" or "fr".
    AnalysisError
        When ``counts``, ``spikes`` or ``incidents`` are not the frames named above.

    Examples
    --------
    >>> from activation_kb import simulate_fleet, error_frequency, detect_spikes
    >>> events, _ = simulate_fleet(200, 14, seed=1)
    >>> counts = error_frequency(events, freq="h", by="category")
    >>> fig = plot_frequency(counts, detect_spikes(error_frequency(events, freq="h", by="code")))
    >>> [t.name for t in fig.data if t.name.startswith("Spike")][:2]
    ['Spike peaks', 'Spike peaks: DNS and KMS discovery']
    """
    analysis = counts if isinstance(counts, FleetAnalysis) else None
    if analysis is not None:
        counts = analysis.counts
        spikes = analysis.spikes if spikes is None else spikes
        incidents = analysis.incidents if incidents is None else incidents
        measure = measure or analysis.measure
    lang = _lang(lang, analysis)
    measure = _measure(counts, measure) if isinstance(counts, pd.DataFrame) else "events"
    frame = _counts_by(counts, "category", "plot_frequency", measure)
    records = incident_records(incidents)
    fig = new_figure(None, title_text(title, "frequency_title", lang), lang)
    _axis_titles(fig, counts, lang, measure, legend_title_text=label(lang, "category"))
    if frame.empty:
        return no_data(fig, lang)
    wide = frame.pivot_table(index="time", columns="category", values="value", aggfunc="sum",
                             fill_value=0.0, observed=True).sort_index()
    wide = wide[ordered_categories(wide.columns)]
    fmt = _value_format(measure)
    for cat in wide.columns:
        name = category_text(cat, lang)
        fig.add_trace(go.Scatter(
            **x_axis(wide.index), y=wide[cat].to_numpy(), name=name, legendgroup=cat,
            mode="lines", stackgroup="counts", fillcolor=rgba(color_of(cat), 0.75),
            line={"color": color_of(cat), "width": 0, "shape": "hv"},
            hovertemplate=f"{_NAMED}%{{x|{hover_date(lang)}}}: %{{y{fmt}}}<extra></extra>",
        ))
    add_spike_marks(fig, spikes, records, wide, time_zone(counts["time"]), lang)
    return fig


# --- code heatmap and top codes ------------------------------------------------------------


def _code_tick(code: str) -> str:
    return f'<span style="color:{color_of(category_of(code))}">■</span> {escape(code)}'


def _category_legend(fig: go.Figure, categories: list[str], lang: str, **where: Any) -> None:
    """Legend-only square markers naming the colour of each category."""
    for cat in ordered_categories(categories):
        fig.add_trace(go.Scatter(
            x=[None], y=[None], mode="markers", name=category_text(cat, lang), legendgroup=cat,
            marker={"symbol": "square", "size": 12, "color": color_of(cat)}, hoverinfo="skip",
            **where,
        ))


def plot_code_heatmap(
    counts: pd.DataFrame | FleetAnalysis,
    *,
    lang: str | None = None,
    top_n: int = 20,
    measure: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Heatmap of error codes (rows, most failures first) over time (columns).

    Parameters
    ----------
    counts : pandas.DataFrame or FleetAnalysis
        ``error_frequency(events, by="code")`` in any measure (the colour bar names it); a
        FleetAnalysis gives its ``code_counts``.
    lang : {"en", "fr"}, optional
        Language of titles and labels; default the analysis' language, else English.
    top_n : int
        Number of codes shown: those with the most failed attempts over the period.
    measure : {"events", "devices", "rate"}, optional
        What ``counts`` count; default what ``error_frequency`` noted.
    title : str, optional
        Plain-text title (escaped); default "Error codes over time".

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap trace; each code's tick carries a square in its category's colour and the
        legend names the categories.

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not "en" or "fr".
    AnalysisError
        When ``counts`` is not keyed by code.
    NumberError
        When ``top_n`` is not a positive integer.
    """
    analysis = counts if isinstance(counts, FleetAnalysis) else None
    if analysis is not None:
        counts, measure = analysis.code_counts, measure or analysis.measure
    lang = _lang(lang, analysis)
    top_n = check_top_n(top_n)
    measure = _measure(counts, measure) if isinstance(counts, pd.DataFrame) else "events"
    frame = _counts_by(counts, "code", "plot_code_heatmap", measure)
    fig = new_figure(None, title_text(title, "heatmap_title", lang), lang)
    _axis_titles(fig, counts, lang, measure, legend={"orientation": "h", "y": -0.25, "x": 0})
    fig.update_layout(yaxis_title=label(lang, "code"))
    if frame.empty:
        return no_data(fig, lang)
    weight = counts["failures"] if "failures" in counts.columns else counts["value"]
    totals = weight.groupby(counts["code"].astype(str)).sum().reset_index(name="total")
    totals = totals.sort_values(["total", "code"], ascending=[False, True]).head(top_n)
    codes = totals["code"].tolist()
    wide = frame.assign(code=frame["code"].astype(str)).pivot_table(
        index="code", columns="time", values="value", aggfunc="sum", fill_value=0.0
    ).reindex(codes).fillna(0.0)
    measure_text = label(lang, measure)
    fmt = _value_format(measure)
    fig.add_trace(go.Heatmap(
        z=wide.to_numpy(), **x_axis(wide.columns), y=[escape(c) for c in codes], zmin=0,
        colorscale=[[0.0, "#FFFFFF"], [0.15, "#FDD49E"], [0.5, "#FC8D59"], [1.0, "#7F0000"]],
        colorbar={"title": {"text": measure_text, "side": "right"},
                  **({"tickformat": ".0%"} if measure == "rate" else {})},
        hovertemplate=f"<b>%{{y}}</b><br>%{{x|{hover_date(lang)}}}<br>{measure_text}: %{{z{fmt}}}"
        "<extra></extra>",
        xgap=0, ygap=1, showlegend=False,
    ))
    fig.update_yaxes(type="category", autorange="reversed", tickmode="array",
                     tickvals=[escape(c) for c in codes],
                     ticktext=[_code_tick(c) for c in codes], showgrid=False)
    fig.update_xaxes(showgrid=False)
    _category_legend(fig, [category_of(c) for c in codes], lang)
    return fig


def _table(events_or_table: pd.DataFrame | AttemptTable | FleetAnalysis) -> AttemptTable:
    if isinstance(events_or_table, FleetAnalysis):
        return events_or_table.table
    if isinstance(events_or_table, AttemptTable):
        return events_or_table
    if not isinstance(events_or_table, pd.DataFrame):
        raise AnalysisError(f"expected a canonical events DataFrame, an AttemptTable or a "
                            f"FleetAnalysis, not "
                            f"{type(events_or_table).__name__}")
    return activation_attempts(events_or_table)


def plot_top_codes(
    events_or_table: pd.DataFrame | AttemptTable | FleetAnalysis,
    *,
    top_n: int = 10,
    lang: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Horizontal bars of the codes with the most failed activation attempts.

    Failed attempts are counted with :func:`~activation_kb.activation_attempts`: the
    two to four records Windows writes for one failed attempt count once per code.

    Parameters
    ----------
    events_or_table : pandas.DataFrame, AttemptTable or FleetAnalysis
        Canonical events frame, the attempt table built from it, or an analysis (its table).
    top_n : int
        Number of codes shown.
    lang : {"en", "fr"}, optional
        Language of titles, labels and the catalogue message in hover; default the analysis'
        language, else English.
    title : str, optional
        Plain-text title (escaped); default "Most frequent error codes".

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace per category (``legendgroup`` = category name), codes ranked from the top.

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not "en" or "fr".
    NumberError
        When ``top_n`` is not a positive integer.
    AnalysisError
        When the events are not canonical.
    """
    lang = _lang(lang, events_or_table if isinstance(events_or_table, FleetAnalysis) else None)
    top_n = check_top_n(top_n)
    errors = _table(events_or_table).errors
    fig = new_figure(None, title_text(title, "top_title", lang), lang)
    fig.update_layout(xaxis_title=label(lang, "events"), yaxis_title=label(lang, "code"),
                      legend_title_text=label(lang, "category"))
    if errors.empty:
        return no_data(fig, lang)
    per = errors.groupby("code", observed=True).agg(
        failures=("attempt", "nunique"), devices=("device", "nunique"),
        category=("category", "first"),
    ).reset_index()
    per["code"] = per["code"].astype(str)
    per = per.sort_values(["failures", "code"], ascending=[False, True]).head(top_n)
    catalogue = catalogue_rows(lang)
    unit = label(lang, "events").lower()
    for cat in ordered_categories(per["category"]):
        part = per[per["category"].astype(str) == cat]
        hover = [
            "<br>".join([
                f"<b>{escape(r.code)}</b> · {category_text(cat, lang)}",
                f"{format_number(r.failures, lang)} {unit}, {format_number(r.devices, lang)} "
                f"{label(lang, 'failed_devices')}",
                *text_lines(code_text(r.code, catalogue), lang, max_lines=4),
            ])
            for r in part.itertuples()
        ]
        fig.add_trace(go.Bar(
            x=part["failures"].to_numpy(), y=[escape(c) for c in part["code"]], orientation="h",
            name=category_text(cat, lang), legendgroup=cat, marker_color=color_of(cat),
            text=part["failures"].to_numpy(), textposition="auto", hovertext=hover,
            hoverinfo="text",
        ))
    fig.update_yaxes(type="category", categoryorder="array", autorange="reversed",
                     categoryarray=[escape(c) for c in per["code"]])
    return fig


# --- one incident --------------------------------------------------------------------------


def _incident_fields(incident: object, analysis: FleetAnalysis | None) -> dict[str, Any]:
    if analysis is not None and isinstance(incident, (int, np.integer, str)) and not isinstance(
            incident, bool):
        incidents = analysis.incidents
        if isinstance(incident, str):
            found = incidents[incidents["incident_id"] == incident]
            if found.empty:
                raise AnalysisError(f"no incident {incident!r}; the analysis has "
                                    f"{list(incidents['incident_id'])}")
            incident = found.iloc[0]
        elif not -len(incidents) <= incident < len(incidents):
            raise AnalysisError(f"no incident number {incident}; the analysis has "
                                f"{len(incidents)} incident(s)")
        else:
            incident = incidents.iloc[int(incident)]
    if isinstance(incident, pd.DataFrame):
        if len(incident) != 1:
            raise AnalysisError(f"plot_incident takes one incident; the frame has {len(incident)} "
                                "rows (pass incidents.iloc[i])")
        incident = incident.iloc[0]
    if not isinstance(incident, (pd.Series, Mapping)):
        raise AnalysisError(f"incident must be a row of explain_spikes output, not "
                            f"{type(incident).__name__}")
    fields = dict(incident)
    missing = [f for f in _INCIDENT_FIELDS if f not in fields]
    if missing:
        raise AnalysisError(f"incident lacks field(s) {missing}; expected a row of explain_spikes")
    return fields


def _incident_counts(inc: dict[str, Any], table: AttemptTable, freq: str) -> pd.DataFrame:
    """Count the incident's codes from well before to well after its window."""
    if table.attempts.empty:
        return pd.DataFrame(columns=["time", "code", "value"])
    start, end = pd.Timestamp(inc["start"]), pd.Timestamp(inc["end"])
    step = pd.Timedelta(pd.tseries.frequencies.to_offset("D" if freq in ("W", "MS") else freq))
    pad = max(end - start, 12 * step)
    first, last = table.attempts["time"].min(), table.attempts["time"].max()
    lo, hi = max(start - pad, first), min(end + pad, last + pd.Timedelta(1, "ns"))
    counts = error_frequency(table, freq=freq, by="code", since=lo, until=max(hi, lo + step))
    return counts[counts["code"].isin([str(c) for c in inc["codes"]])]


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _dimension_bars(fig: go.Figure, dims: list[dict[str, Any]], lang: str) -> None:
    rows = list(dims)[:8]
    texts = [(dimension_label(d["dimension"], lang),
              value_label(d["dimension"], d["value"], lang) if d["value"] else "") for d in rows]
    full = [f"{escape(dim)}: {escape(value) or label(lang, 'none')}" for dim, value in texts]
    names = [escape(_short(f"{dim}: {value}")) if value else n
             for (dim, value), n in zip(texts, full)]
    hover = [
        f"<b>{n}</b><br>{format_number(d['devices'], lang)} {label(lang, 'failed_devices')} "
        f"({format_percent(d['share'], lang, 0)})<br>{label(lang, 'fleet_share')}: "
        f"{format_percent(d['fleet_share'], lang, 0)}"
        + (f"<br>{label(lang, 'lift')} ×{format_number(d['lift'], lang, 2)}"
           if d.get("lift") else "")
        for n, d in zip(full, rows)
    ]
    for key, color in (("share", "#4D4D4D"), ("fleet_share", "#BDBDBD")):
        fig.add_trace(go.Bar(
            x=[d[key] for d in rows], y=names, orientation="h", marker_color=color,
            name=label(lang, "failing_share" if key == "share" else "fleet_share"),
            hovertext=hover, hoverinfo="text", legendgroup=key,
        ), row=2, col=1)
    fig.update_xaxes(tickformat=".0%", range=[0, 1.05], title_text=label(lang, "share_axis"),
                     row=2, col=1)
    fig.update_yaxes(autorange="reversed", row=2, col=1)


def plot_incident(
    incident: pd.Series | Mapping[str, Any] | pd.DataFrame | int | str,
    events_or_table: pd.DataFrame | AttemptTable | FleetAnalysis,
    *,
    freq: str | None = None,
    lang: str | None = None,
) -> go.Figure:
    """One incident's view: its codes over time around its (shaded) window, and its scope.

    Parameters
    ----------
    incident : pandas.Series, mapping, int or str
        One row of :func:`~activation_kb.explain_spikes` output (a one-row frame is accepted);
        with a FleetAnalysis, also the position or the ``incident_id`` of one of its incidents.
    events_or_table : pandas.DataFrame, AttemptTable or FleetAnalysis
        The events the incident was found in (or their attempt table, or the analysis).
    freq : str, optional
        Bucket size of the time series ("h", "15min", "D" ...); default the analysis' bucket
        size, else "h".
    lang : {"en", "fr"}, optional
        Language of the labels; default the analysis' language, else English.

    Returns
    -------
    plotly.graph_objects.Figure
        Top: one line per code of the incident (its category's colour, a dash per code) with the
        window shaded. Bottom: the ranked dimension values (site, KMS host ...) as the share of
        failing devices against their share of the fleet. The title names the incident, its
        top code and category; the subtitle its window, devices and scope.

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not "en" or "fr".
    FrequencyError
        For a bad ``freq``.
    AnalysisError
        When ``incident`` is not a row of explain_spikes output (or not an incident of the
        analysis).
    """
    analysis = events_or_table if isinstance(events_or_table, FleetAnalysis) else None
    lang = _lang(lang, analysis)
    freq = check_freq(freq or (analysis.freq if analysis is not None else "h"))
    inc = _incident_fields(incident, analysis)
    counts = _incident_counts(inc, _table(events_or_table), freq)
    fig = make_subplots(
        rows=2, cols=1, row_heights=[0.58, 0.42], vertical_spacing=0.16,
        subplot_titles=(label(lang, "codes_over_time"), label(lang, "dimensions")),
    )
    category = inc.get("category") or (category_of(inc["top_code"]) if inc["top_code"]
                                         else "other")  # a site that went silent has no code
    title, subtitle = _incident_titles(inc, category, lang)
    new_figure(fig, title, lang, subtitle=subtitle)
    fig.update_layout(height=780, margin={"t": 150}, barmode="group",
                      legend={"tracegroupgap": 12})
    fig.update_xaxes(title_text=label(lang, "time").replace("{tz}", "UTC"), row=1, col=1)
    fig.update_yaxes(title_text=label(lang, "events"), row=1, col=1)
    if counts.empty:
        no_data(fig, lang, xref="x domain", yref="y domain")
    else:
        _code_lines(fig, inc, counts, lang)
        fig.add_vrect(
            x0=utc_wall(inc["start"]), x1=utc_wall(inc["end"]),
            fillcolor=color_of(category), opacity=0.15, line_width=0, layer="below",
            annotation_text=label(lang, "window"), annotation_position="top left",
            row=1, col=1,
        )
    dims = list(inc["dimensions"] if inc["dimensions"] is not None else [])
    if dims:
        _dimension_bars(fig, dims, lang)
    else:
        no_data(fig, lang, xref="x2 domain", yref="y2 domain")
    return fig


def _incident_titles(inc: dict[str, Any], category: str, lang: str) -> tuple[str, str]:
    """Return the incident figure's title (id, top code, category) and subtitle (window ...)."""
    silent = inc.get("kind") == "went_silent"
    what = (escape(inc["title"]) if silent
            else f"{escape(inc['top_code'])} · {category_text(category, lang)}")
    title = f"<b>{escape(inc['incident_id'])}</b> · {what}"
    facts = [f"{format_time(inc['start'], lang)} → {format_time(inc['end'], lang)} UTC"]
    if inc.get("devices") is not None and not silent:
        facts.append(f"{format_number(inc['devices'], lang)} {label(lang, 'failed_devices')}")
    if inc.get("severity"):
        severity = str(inc["severity"])
        facts.append(f"{label(lang, 'severity')} "
                     f"{label(lang, severity) if severity in SEVERITIES else escape(severity)}")
    # where it happened is the lower panel (the ranked dimension values), not repeated here
    return title, " · ".join(facts)


def _code_lines(fig: go.Figure, inc: dict[str, Any], counts: pd.DataFrame,
                lang: str = "en") -> None:
    """One line per code of the incident: its category's colour, a dash per code."""
    dashes: dict[str, int] = {}
    for code in [str(c) for c in inc["codes"]]:
        series = counts[counts["code"] == code]
        if series.empty:
            continue
        cat = category_of(code)
        dashes[cat] = dashes.get(cat, -1) + 1
        dash = _DASHES[dashes[cat] % len(_DASHES)]
        fig.add_trace(go.Scatter(
            **x_axis(series["time"]), y=series["value"].to_numpy(), mode="lines",
            name=escape(code), legendgroup=cat,
            line={"color": color_of(cat), "dash": dash, "width": 2, "shape": "hv"},
            hovertemplate=f"{_NAMED}%{{x|{hover_date(lang)}}}: %{{y:,.0f}}<extra></extra>",
        ), row=1, col=1)
