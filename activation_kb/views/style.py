"""The look shared by every figure: template, category colours, labels in en/fr, safe text.

Plotly renders every string it draws (titles, legend entries, tick labels, hover text, table
cells, annotations) as a small subset of HTML (``<b>``, ``<br>``, ``<a href>``, ``<span
style>`` ...). So a host name ``<img src=x onerror=alert(1)>`` or a catalogue placeholder
``<kms_host_name>`` must be escaped before it reaches a figure: :func:`escape` does it in a form
plotly.js decodes back to the original text (``&lt;``, ``&gt;``, ``&amp;`` and numeric
entities; plotly.js does not know ``&quot;``). Only this module's own tags (``<b>``, ``<br>``,
``<span style="color:...">``) are ever added around escaped text.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from ..catalogue.categories import CATEGORY_NAMES, OTHER, category_label
from ..catalogue.markdown import without_link_targets
from ..l10n import format_date
from ..l10n import format_number as _format_number
from ..params import check_lang  # re-exported: figures label in the shipped languages

__all__ = [
    "CATEGORY_COLORS",
    "FRENCH_DATE_TICKS",
    "LABELS",
    "TEMPLATE",
    "category_text",
    "check_lang",
    "color_of",
    "escape",
    "format_number",
    "format_time",
    "hover_date",
    "hover_paragraph",
    "label",
    "new_figure",
    "no_data",
    "ordered_categories",
    "rgba",
    "separators",
    "time_zone",
    "title_text",
    "utc_wall",
    "wall",
    "x_axis",
]

#: Name of the plotly template every figure of the package uses.
TEMPLATE = "activation_kb"

#: Fixed colour per category, the same in every figure (colour-blind-safe hues first; the
#: categories an admin meets most, DNS and unreachable KMS hosts, get the clearest ones).
CATEGORY_COLORS: dict[str, str] = {
    "dns": "#0072B2",
    "kms_unreachable": "#D55E00",
    "kms_count": "#009E73",
    "kms_host": "#CC79A7",
    "clock": "#E69F00",
    "product_key": "#56B4E9",
    "activation_limit": "#8C2D04",
    "grace_genuine": "#6A3D9A",
    "hardware": "#B8A000",
    "offline_data": "#1B7837",
    "permissions": "#E7298A",
    OTHER: "#7F7F7F",
}
_UNKNOWN_COLOR = "#4D4D4D"

#: Every label a figure shows, by language: one table, no literals scattered in the plots.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "frequency_title": "Activation errors over time, by category",
        "heatmap_title": "Error codes over time",
        "top_title": "Most frequent error codes",
        "time": "Time ({tz})",
        "events": "Failed attempts",
        "devices": "Devices with a failure",
        "rate": "Failure rate (failed / all attempts)",
        "code": "Error code",
        "category": "Category",
        "spikes": "Spike peaks",
        "no_data": "No data to show",
        "peak": "Peak",
        "expected": "expected",
        "excess": "Excess over the spike",
        "severity": "severity",
        "message": "Message",
        "cause": "Cause",
        "resolution": "Resolution",
        "incident": "Incident",
        "failed_devices": "devices",
        "codes_over_time": "Codes over time around the incident",
        "dimensions": "What the failing devices have in common",
        "failing_share": "Share of failing devices",
        "fleet_share": "Share of the fleet",
        "share_axis": "Share of devices",
        "window": "incident window",
        "none": "(none)",
        "lift": "lift",
        "scope": "Scope",
        "low": "low",
        "medium": "medium",
        "high": "high",
        "critical": "critical",
        "ongoing": "ongoing",
        "ended": "ended",
    },
    "fr": {
        "frequency_title": "Erreurs d'activation dans le temps, par catégorie",
        "heatmap_title": "Codes d'erreur dans le temps",
        "top_title": "Codes d'erreur les plus fréquents",
        "time": "Heure ({tz})",
        "events": "Tentatives en échec",
        "devices": "Appareils en échec",
        "rate": "Taux d'échec (échecs / toutes les tentatives)",
        "code": "Code d'erreur",
        "category": "Catégorie",
        "spikes": "Pics",
        "no_data": "Aucune donnée à afficher",
        "peak": "Pic",
        "expected": "attendu",
        "excess": "Excédent sur le pic",
        "severity": "gravité",
        "message": "Message",
        "cause": "Cause",
        "resolution": "Résolution",
        "incident": "Incident",
        "failed_devices": "appareils",
        "codes_over_time": "Codes dans le temps autour de l'incident",
        "dimensions": "Ce que les appareils en échec ont en commun",
        "failing_share": "Part des appareils en échec",
        "fleet_share": "Part du parc",
        "share_axis": "Part des appareils",
        "window": "fenêtre de l'incident",
        "none": "(aucun)",
        "lift": "facteur",
        "scope": "Portée",
        "low": "faible",
        "medium": "moyenne",
        "high": "élevée",
        "critical": "critique",
        "ongoing": "en cours",
        "ended": "terminé",
    },
}

#: Date ticks of French figures, numeric at every zoom (plotly.js names months in English).
FRENCH_DATE_TICKS = [
    {"dtickrange": [None, 60_000], "value": "%H:%M:%S<br>%d/%m"},
    {"dtickrange": [60_000, 86_400_000], "value": "%H:%M<br>%d/%m"},
    {"dtickrange": [86_400_000, 2_592_000_000], "value": "%d/%m"},
    {"dtickrange": [2_592_000_000, 31_536_000_000], "value": "%m/%Y"},
    {"dtickrange": [31_536_000_000, None], "value": "%Y"},
]

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})
_MARKUP = re.compile(r"\*\*|`")

_template = go.layout.Template(pio.templates["plotly_white"])
_template.layout.update(
    {
        "font": {
            "family": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
            "sans-serif",
            "size": 13,
            "color": "#222222",
        },
        "title": {"x": 0.01, "xanchor": "left", "font": {"size": 18}},
        "colorway": ["#4D4D4D", "#BDBDBD", *CATEGORY_COLORS.values()],
        "hoverlabel": {"align": "left", "bgcolor": "white", "font": {"size": 12}},
        "hovermode": "closest",
        "legend": {"title": {"font": {"size": 12}}, "font": {"size": 12}},
        "margin": {"l": 80, "r": 30, "t": 90, "b": 60},
        "xaxis": {"automargin": True},
        "yaxis": {"automargin": True},
    }
)
pio.templates[TEMPLATE] = _template


def escape(text: object) -> str:
    """Return ``text`` as plotly-safe text: every character shown as itself, no markup."""
    return str(text).translate(_ENTITIES)


def label(lang: str, key: str) -> str:
    """Return the label ``key`` in ``lang`` (already safe: labels hold no markup)."""
    return escape(LABELS[lang][key])


def color_of(category: object) -> str:
    """Return the colour of a category (a dark grey for a category the table does not know)."""
    return CATEGORY_COLORS.get(str(category), _UNKNOWN_COLOR)


def category_text(category: object, lang: str) -> str:
    """Return the escaped label of a category, or the escaped name of an unknown one."""
    name = str(category)
    return escape(category_label(name, lang=lang) if name in CATEGORY_NAMES else name)


def hover_paragraph(text: object, width: int = 72, max_lines: int = 6, lead: str = "") -> str:
    """Wrap and truncate a long text for a hover label: escaped lines joined by ``<br>``.

    Markdown link targets and emphasis markers are dropped and paragraphs kept; beyond
    ``max_lines`` lines the text ends with an ellipsis. ``lead`` (a label such as "Cause") is
    written in bold before the text, on its first line.
    """
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    plain = _MARKUP.sub("", without_link_targets(str(text))).strip()
    if not plain:
        return ""
    head = f"{lead}: " if lead else ""
    lines: list[str] = []
    for paragraph in (head + plain).splitlines():
        lines.extend(
            textwrap.wrap(paragraph, width, break_long_words=True, break_on_hyphens=False)
        )
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 2].rstrip() + " …"
    out = [escape(line) for line in lines]
    if head and lines[0].startswith(head):
        out[0] = f"<b>{escape(lead)}</b>: {escape(lines[0][len(head):])}"
    return "<br>".join(out)


def format_time(value: object, lang: str = "en") -> str:
    """Return a time as ``YYYY-MM-DD HH:MM`` (``DD/MM/YYYY HH:MM`` in French), in its own zone."""
    return format_date(value, lang)


def hover_date(lang: str) -> str:
    """Return the d3 time format of hover labels in ``lang``."""
    return "%d/%m/%Y %H:%M" if lang == "fr" else "%Y-%m-%d %H:%M"


def format_number(value: float, lang: str, digits: int = 0) -> str:
    """Return a number with the thousands and decimal separators of ``lang``."""
    return _format_number(value, lang, digits)


def separators(lang: str) -> str:
    """Return plotly's ``layout.separators`` (decimal, then thousands) for ``lang``."""
    return ", " if lang == "fr" else ".,"


def new_figure(fig: go.Figure | None, title: str, lang: str, subtitle: str = "") -> go.Figure:
    """Apply the package template, the title (already escaped) and ``lang``'s separators."""
    fig = go.Figure() if fig is None else fig
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "subtitle": {"text": subtitle}},
        separators=separators(lang),
        meta={"lang": lang},
    )
    if lang == "fr":
        fig.update_xaxes(tickformatstops=FRENCH_DATE_TICKS)
    return fig


def no_data(fig: go.Figure, lang: str, **where: object) -> go.Figure:
    """Add the "no data" annotation in the middle of the figure (or of the axes in ``where``)."""
    position = {"xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5, **where}
    fig.add_annotation(
        text=label(lang, "no_data"), showarrow=False, font={"size": 16, "color": "#555555"},
        name="no_data", **position,
    )
    return fig


def title_text(title: str | None, default_key: str, lang: str) -> str:
    """Return the escaped caller's title, or the default title of ``lang``."""
    return label(lang, default_key) if title is None else escape(title)


def ordered_categories(values: Iterable[object]) -> list[str]:
    """Return the distinct categories in the catalogue's display order, unknown ones last."""
    present = {str(v) for v in values}
    known = [c for c in CATEGORY_NAMES if c in present]
    return known + sorted(present - set(known))


def rgba(color: str, alpha: float) -> str:
    """Return ``#RRGGBB`` as ``rgba(r, g, b, alpha)``."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def time_zone(times: pd.Series) -> str:
    """Return the zone name of tz-aware ``times`` ("UTC" for naive ones)."""
    tz = getattr(times.dtype, "tz", None)
    return str(tz) if tz is not None else "UTC"


def wall(times: pd.Series | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Return wall-clock times in their own zone, zone dropped (plotly.js ignores offsets)."""
    index = pd.DatetimeIndex(times)
    return index.tz_localize(None) if index.tz is not None else index


def utc_wall(value: object) -> pd.Timestamp:
    """Return a time as naive UTC wall-clock time."""
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def x_axis(times: pd.Index) -> dict[str, Any]:
    """Return ``x0`` and ``dx`` (ms) for evenly spaced times (small figures), else ``x``."""
    local = wall(times)
    steps = np.diff(local.as_unit("ns").asi8)
    if len(local) > 2 and (steps == steps[0]).all() and steps[0] % 1_000_000 == 0:
        return {"x0": local[0], "dx": int(steps[0] // 1_000_000)}
    return {"x": local}
