"""Views stage: what people look at (plotly figures, the lookup widget, report sections).

Modules: :mod:`.figures` (``plot_*`` return a ``go.Figure``, never shown), :mod:`.style` (the
figures' colours, labels and number formats), :mod:`.spike_marks` (spike markers and hovers),
:mod:`.widgets` with :mod:`.lookup_view` and :mod:`.lookup_render` (the ipywidgets lookup),
:mod:`.explore` (the explorer app),
:mod:`.display` (HTML sections of the report), :mod:`.safe_html` (every text that reaches HTML).
Import the submodules you need: ``activation_kb.views`` itself imports nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "plot_frequency": "figures",
    "plot_code_heatmap": "figures",
    "plot_top_codes": "figures",
    "plot_incident": "figures",
    "lookup_widget": "widgets",
    "explore": "explore",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
