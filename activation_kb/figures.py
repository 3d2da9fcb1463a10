"""Plotly figures for activation error telemetry (partial: top-codes chart only).

Figures are returned as :class:`plotly.graph_objects.Figure`, never shown.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from activation_kb.categories import CATEGORY_NAMES, OTHER
from activation_kb.errors import AnalysisError
from activation_kb.schema import CATEGORY, CODE, IS_SUCCESS

__all__ = ["CATEGORY_COLORS", "plot_top_codes"]

_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#bcbd22", "#17becf", "#393b79", "#637939", "#7f7f7f",
)

#: Fixed colour per category, so a category keeps its colour across every figure.
CATEGORY_COLORS: dict[str, str] = {
    name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(CATEGORY_NAMES)
}
CATEGORY_COLORS.setdefault(OTHER, "#7f7f7f")

_TITLES = {"en": "Most frequent error codes", "fr": "Codes d'erreur les plus fréquents"}
_AXIS = {"en": "Events", "fr": "Événements"}


def plot_top_codes(events: pd.DataFrame, top_n: int = 10, lang: str = "en") -> go.Figure:
    """Horizontal bar chart of the ``top_n`` most frequent failure codes.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events frame (see :mod:`activation_kb.schema`).
    top_n : int
        Number of codes to show; must be positive.
    lang : str
        ``"en"`` or ``"fr"`` for titles and labels.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar per code, coloured by its category.
    """
    if lang not in _TITLES:
        raise AnalysisError(f"lang must be 'en' or 'fr'; received {lang!r}. Pass lang='en' or 'fr'.")
    if top_n < 1:
        raise AnalysisError(f"top_n must be >= 1; received {top_n!r}. Pass a positive integer.")
    failures = events[~events[IS_SUCCESS].fillna(False).astype(bool)]
    counts = failures.groupby([CODE, CATEGORY], dropna=True).size().sort_values(ascending=False)
    counts = counts.head(top_n).iloc[::-1]
    codes = [c for c, _ in counts.index]
    cats = [k for _, k in counts.index]
    fig = go.Figure(
        go.Bar(
            x=counts.to_numpy(),
            y=codes,
            orientation="h",
            marker_color=[CATEGORY_COLORS.get(k, CATEGORY_COLORS[OTHER]) for k in cats],
            customdata=cats,
            hovertemplate="%{y} (%{customdata}): %{x}<extra></extra>",
        )
    )
    fig.update_layout(template="plotly_white", title=_TITLES[lang], xaxis_title=_AXIS[lang])
    return fig
