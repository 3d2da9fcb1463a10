from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from activation_kb.categories import CATEGORY_NAMES
from activation_kb.figures import CATEGORY_COLORS, plot_top_codes
from activation_kb.schema import CATEGORY, CODE, EVENT_ID, EVENT_TIME, HOST, IS_SUCCESS, coerce_events


def _events() -> pd.DataFrame:
    df = pd.DataFrame(
        {
            EVENT_TIME: pd.to_datetime(["2026-01-01T00:00Z"] * 4),
            HOST: ["a", "b", "c", "d"],
            EVENT_ID: [12288, 12288, 8198, 12289],
            CODE: ["0xC004F074", "0xC004F074", "0xC004C003", "0x00000000"],
            CATEGORY: ["kms_unreachable", "kms_unreachable", "product_key", "other"],
            IS_SUCCESS: [False, False, False, True],
        }
    )
    return coerce_events(df)


def test_every_category_has_a_colour():
    assert set(CATEGORY_NAMES) <= set(CATEGORY_COLORS)


def test_plot_top_codes():
    fig = plot_top_codes(_events(), top_n=5, lang="fr")
    assert isinstance(fig, go.Figure)
    assert list(fig.data[0].y) == ["0xC004C003", "0xC004F074"]
    assert "fréquents" in fig.layout.title.text
