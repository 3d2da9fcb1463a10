"""Spike markers of the frequency figure: where each spike goes and what its hover says.

A spike of :func:`~activation_kb.detect_spikes` is keyed by a code or a category (and maybe
dimensions such as a site). Its marker sits on its category's band at its peak; its hover names
the code and gives the article's message, cause and resolution: the incident's text when the
spike belongs to an incident of :func:`~activation_kb.explain_spikes`, else the catalogue's
(or :func:`~activation_kb.describe_code`'s for a code the article does not document).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from ..analysis.incidents import catalogue_rows, code_text
from ..analysis.spikes import SEVERITIES, SPIKE_COLUMNS
from ..catalogue.categories import category_of, load_categories
from ..errors import AnalysisError
from .style import (
    LABELS,
    category_text,
    color_of,
    escape,
    format_number,
    format_time,
    hover_paragraph,
    label,
    ordered_categories,
)

__all__ = ["add_spike_marks", "incident_hover", "incident_records", "spike_hover",
           "spike_rows", "text_lines"]

#: Columns of detect_spikes output that are not keys.
_SPIKE_FIELDS = SPIKE_COLUMNS
_MARKER = {"symbol": "diamond", "size": 13, "line": {"color": "#222222", "width": 1.5}}
_INCIDENT_NEEDS = ("incident_id", "start", "end", "top_code", "category", "codes")


def text_lines(text: Mapping[str, Any], lang: str, max_lines: int = 6) -> list[str]:
    """Return hover lines for a code's message, cause and resolution (wrapped, escaped)."""
    lines = [
        hover_paragraph(text.get(field), max_lines=max_lines, lead=LABELS[lang][field])
        for field in ("message", "cause", "resolution")
    ]
    return [line for line in lines if line]


def incident_records(incidents: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Return the rows of an explain_spikes frame as dicts (none for None).

    A site or KMS host that went silent is no failure to mark on a chart of failures: its
    incident (``kind`` "went_silent") is left out.
    """
    if incidents is None:
        return []
    if not isinstance(incidents, pd.DataFrame):
        raise AnalysisError(
            f"incidents must be the DataFrame of explain_spikes, not {type(incidents).__name__}"
        )
    missing = [c for c in _INCIDENT_NEEDS if c not in incidents.columns]
    if missing:
        raise AnalysisError(f"incidents lacks column(s) {missing}; expected explain_spikes output")
    rows = incidents.to_dict(orient="records")
    return [r for r in rows if r.get("kind") != "went_silent"]


@cache
def _single_codes() -> dict[str, str]:
    """Return the categories that hold exactly one documented code, with that code."""
    table = load_categories()
    table = table[table["code"] != ""]
    sizes = table.groupby("category")["code"].transform("size")
    return dict(zip(table.loc[sizes == 1, "category"], table.loc[sizes == 1, "code"]))


def _in_zone(value: object, zone: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize(zone) if ts.tzinfo is None else ts.tz_convert(zone)


def spike_rows(
    spikes: pd.DataFrame | None, incidents: list[dict[str, Any]], wide: pd.DataFrame, zone: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return spikes as dicts (code or None, category, times in ``zone``) and their keys.

    Without ``spikes``, each incident stands for one spike, peaking at its category's highest
    bucket of ``wide`` (counts: time x category) within its window.
    """
    if spikes is None:
        rows = [
            {"code": i["top_code"], "category": i["category"], "start": i["start"],
             "end": i["end"]}
            for i in incidents
        ]
        keys = ["code"]
    else:
        if not isinstance(spikes, pd.DataFrame):
            raise AnalysisError(
                f"spikes must be the DataFrame of detect_spikes, not {type(spikes).__name__}"
            )
        missing = [c for c in ("start", "end", "peak") if c not in spikes.columns]
        if missing or not {"code", "category"} & set(spikes.columns):
            raise AnalysisError(
                f"spikes lacks column(s) {missing or ['code or category']}; expected "
                "detect_spikes output on counts keyed by code or category"
            )
        rows = spikes.to_dict(orient="records")
        keys = [c for c in spikes.columns if c not in _SPIKE_FIELDS]
    for row in rows:
        code = row.get("code")
        row["code"] = None if code is None or pd.isna(code) else str(code)
        if row.get("category") is None:
            row["category"] = category_of(row["code"])
        row["category"] = str(row["category"])
        for when in ("start", "end", "peak"):
            if row.get(when) is not None:
                row[when] = _in_zone(row[when], zone)
        if row.get("peak") is None:
            inside = wide[(wide.index >= row["start"]) & (wide.index < row["end"])]
            column = inside[row["category"]] if row["category"] in inside else inside.sum(axis=1)
            row["peak"] = column.idxmax() if len(column) else row["start"]
    return rows, keys


def _incident_of(spike: Mapping[str, Any], incidents: list[dict[str, Any]]) -> dict | None:
    """Return the incident of a spike: same code (or category), overlapping window."""
    for inc in incidents:
        if not (spike["start"] < inc["end"] and inc["start"] < spike["end"]):
            continue
        code, category = spike.get("code"), spike["category"]
        if code is not None and code in list(inc["codes"]):
            return inc
        if code is None and category in list(inc.get("categories") or [inc["category"]]):
            return inc
    return None


def _text(spike: dict[str, Any], inc: dict | None, rows: dict) -> tuple[str | None, Mapping]:
    """Return a spike's code and its text: the incident's when given, else the catalogue's."""
    code = spike.get("code")
    details = {d["code"]: d for d in (inc or {}).get("codes_detail") or []}
    if code is None and inc is not None:
        same = [c for c, d in details.items() if d.get("category") == spike["category"]]
        code = same[0] if same else inc["top_code"]
    if code is None:
        code = _single_codes().get(spike["category"])
    if code is None:
        return None, {}
    if code in details:
        return code, details[code]
    if inc is not None and code == inc["top_code"] and "message" in inc:
        return code, inc
    return code, code_text(code, rows)


def _severity(value: object, lang: str) -> str:
    text = str(value)
    return label(lang, text) if text in SEVERITIES else escape(text)


def spike_hover(
    spike: dict[str, Any], incidents: list[dict[str, Any]], rows: dict, keys: list[str],
    lang: str,
) -> str:
    """Return the hover text of a spike's marker: code, keys, peak, excess and the text."""
    inc = _incident_of(spike, incidents)
    code, text = _text(spike, inc, rows)
    head = category_text(spike["category"], lang)
    lines = [f"<b>{escape(code)}</b> · {head}" if code else f"<b>{head}</b>"]
    lines += [f"{escape(k)}: {escape(spike[k])}" for k in keys if k not in ("code", "category")]
    if inc is not None:
        lines.append(f"{label(lang, 'incident')} {escape(inc['incident_id'])}")
    if "peak_observed" in spike:
        lines.append(
            f"{label(lang, 'peak')} {format_time(spike['peak'], lang)}: "
            f"{format_number(spike['peak_observed'], lang)} {label(lang, 'events').lower()} "
            f"({format_number(spike['peak_expected'], lang, 1)} {label(lang, 'expected')})"
        )
    if "excess" in spike:
        lines.append(
            f"{label(lang, 'excess')}: +{format_number(spike['excess'], lang)} · "
            f"{label(lang, 'severity')} {_severity(spike.get('severity', ''), lang)}"
        )
    elif inc is not None:
        lines.append(
            f"{format_time(inc['start'], lang)} → {format_time(inc['end'], lang)} · "
            f"{format_number(inc.get('devices', 0), lang)} {label(lang, 'failed_devices')} · "
            f"{label(lang, 'severity')} {_severity(inc.get('severity', ''), lang)}"
        )
    return "<br>".join(lines + text_lines(text, lang))


def incident_hover(inc: dict[str, Any], lang: str) -> str:
    """Return the hover text of an incident's marker: id, main code, window, devices and text."""
    head = category_text(inc.get("category") or category_of(inc["top_code"]), lang)
    status = str(inc.get("status") or "")
    lines = [f"<b>{escape(inc['top_code'])}</b> · {head}",
             f"{label(lang, 'incident')} {escape(inc['incident_id'])}"
             + (f" · {label(lang, status)}" if status in ("ongoing", "ended") else "")]
    lines.append(
        f"{format_time(inc['start'], lang)} → {format_time(inc['end'], lang)} · "
        f"{format_number(inc.get('devices', 0), lang)} {label(lang, 'failed_devices')} · "
        f"{label(lang, 'severity')} {_severity(inc.get('severity', ''), lang)}"
    )
    if inc.get("scope"):
        lines.append(hover_paragraph(inc["scope"], lead=LABELS[lang]["scope"], max_lines=2))
    details = {d["code"]: d for d in inc.get("codes_detail") or []}
    text = details.get(inc["top_code"], inc)
    return "<br>".join(lines + text_lines(text, lang))


def _representative(rows: list[dict[str, Any]], top_code: str | None) -> dict[str, Any]:
    """Return the spike that stands for a group: the main code's largest, else the largest."""
    mine = [r for r in rows if top_code is not None and r.get("code") == top_code] or rows
    return max(mine, key=lambda r: float(r.get("excess") or r.get("peak_observed") or 0.0))


def add_spike_marks(
    fig: go.Figure, spikes: pd.DataFrame | None, incidents: list[dict[str, Any]],
    wide: pd.DataFrame, zone: str, lang: str,
) -> None:
    """Mark each incident once, and each spike outside an incident once per key.

    An incident gets one marker, at the peak of its main code's largest spike, on top of its
    category's band, and one shaded window; its hover is the incident's (id, status, window,
    devices, scope and its main code's message, cause and resolution). Spikes that belong to
    no incident get one marker per key (code, site ...), at the largest one. ``wide`` holds the
    plotted counts (time x category, in stacking order). Markers form one trace per category
    (its ``legendgroup``), after one legend-only "Spike peaks" entry.
    """
    rows, keys = spike_rows(spikes, incidents, wide, zone)
    if not rows:
        return
    groups: dict[tuple, list[dict[str, Any]]] = {}
    owners: dict[tuple, dict[str, Any] | None] = {}
    for row in rows:
        inc = _incident_of(row, incidents)
        key = (("incident", inc["incident_id"]) if inc is not None
               else ("spike", *(str(row.get(k)) for k in keys)))
        groups.setdefault(key, []).append(row)
        owners[key] = inc
    tops = wide.cumsum(axis=1)
    catalogue = catalogue_rows(lang)
    marks: dict[str, dict[str, list]] = {}
    windows: list[dict[str, Any]] = []
    for key, members in groups.items():
        inc = owners[key]
        row = _representative(members, inc["top_code"] if inc else None)
        cat = str(inc["category"]) if inc is not None and inc.get("category") else row["category"]
        at = max(int(wide.index.searchsorted(row["peak"], side="right")) - 1, 0)
        stack = tops[cat] if cat in tops else tops.iloc[:, -1]
        mine = marks.setdefault(cat, {"x": [], "y": [], "text": []})
        mine["x"].append(row["peak"].tz_localize(None))
        mine["y"].append(float(stack.iloc[at]))
        mine["text"].append(incident_hover(inc, lang) if inc is not None
                            else spike_hover(row, [], catalogue, keys, lang))
        start = _in_zone(inc["start"], zone) if inc is not None else row["start"]
        end = _in_zone(inc["end"], zone) if inc is not None else row["end"]
        windows.append({  # one shape dict per window: add_vrect costs ~50 ms each
            "type": "rect", "xref": "x", "yref": "y domain", "y0": 0, "y1": 1,
            "x0": start.tz_localize(None), "x1": end.tz_localize(None), "line": {"width": 0},
            "fillcolor": color_of(cat), "opacity": 0.12, "layer": "below",
        })
    fig.update_layout(shapes=[*fig.layout.shapes, *windows])
    fig.add_trace(go.Scatter(  # the legend entry of all markers
        x=[None], y=[None], mode="markers", name=label(lang, "spikes"), hoverinfo="skip",
        marker={**_MARKER, "color": "#FFFFFF"},
    ))
    for cat in ordered_categories(marks):
        fig.add_trace(go.Scatter(
            x=marks[cat]["x"], y=marks[cat]["y"], mode="markers", legendgroup=cat,
            name=f"{label(lang, 'spikes')}: {category_text(cat, lang)}", showlegend=False,
            hovertext=marks[cat]["text"], hoverinfo="text",
            marker={**_MARKER, "color": color_of(cat)},
        ))
