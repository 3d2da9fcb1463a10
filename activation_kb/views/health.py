"""Fleet health figures and tables: devices expiring per week ahead, KMS counts and forecast.

Functions return a :class:`plotly.graph_objects.Figure` (never shown) with the package template,
or plain frames for the report's tables; text from data (host names, reasons) is escaped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..analysis.health import KmsHealth, act_first
from ..analysis.health.device import STATUSES
from ..errors import AnalysisError
from .style import check_lang, escape, new_figure, no_data

__all__ = ["plot_expiring", "plot_kms_forecast", "health_tables", "STATUS_COLORS",
           "HEALTH_LABELS"]

#: One colour per status, the same in every figure and table.
STATUS_COLORS = {
    "expired": "#B2182B",
    "notification": "#67001F",
    "at_risk": "#E08214",
    "unknown": "#7F7F7F",
    "ok": "#1B7837",
}
HEALTH_LABELS = {
    "en": {
        "expiring_title": "Machines whose activation expires, per week ahead",
        "kms_title": "KMS host counts: the last weeks and the forecast",
        "week": "Week starting (UTC)",
        "machines": "Machines",
        "count": "Distinct machines in 30 days",
        "day": "Day (UTC)",
        "threshold": "threshold",
        "forecast": "forecast",
        "already": "already expired",
        "falls": "falls below on",
        "expired": "expired", "notification": "notification", "at_risk": "at risk",
        "unknown": "unknown", "ok": "ok",
        "status": "Status", "devices": "Machines",
    },
    "fr": {
        "expiring_title": "Machines dont l'activation expire, par semaine à venir",
        "kms_title": "Comptes des hôtes KMS : les dernières semaines et la prévision",
        "week": "Semaine du (UTC)",
        "machines": "Machines",
        "count": "Machines distinctes sur 30 jours",
        "day": "Jour (UTC)",
        "threshold": "seuil",
        "forecast": "prévision",
        "already": "déjà expirées",
        "falls": "passe sous le seuil le",
        "expired": "expirée", "notification": "notification", "at_risk": "à risque",
        "unknown": "inconnu", "ok": "ok",
        "status": "État", "devices": "Machines",
    },
}


def _label(lang: str, key: str) -> str:
    return escape(HEALTH_LABELS[lang][key])


def _check_devices(devices: object) -> pd.DataFrame:
    needed = ("device", "status", "projected_expiry", "assessed_at")
    if not isinstance(devices, pd.DataFrame) or any(c not in devices for c in needed):
        raise AnalysisError("devices must be the output of fleet_health (with "
                            f"{', '.join(needed)}), not {type(devices).__name__}")
    return devices


def plot_expiring(devices: pd.DataFrame, *, weeks: int = 12, lang: str = "en",
                  title: str | None = None) -> go.Figure:
    """Plot how many machines' activation expires in each week ahead, by status.

    Parameters
    ----------
    devices : pandas.DataFrame
        Output of :func:`~activation_kb.fleet_health`.
    weeks : int
        Weeks ahead of the assessment time (``assessed_at``) to show.
    lang : {"en", "fr"}
        Language of the labels.
    title : str, optional
        Title instead of the default one.

    Returns
    -------
    plotly.graph_objects.Figure
        Stacked bars: one bar per week (Monday to Sunday, UTC), a first bar for the machines
        already expired, colours from :data:`STATUS_COLORS`.
    """
    lang = check_lang(lang)
    devices = _check_devices(devices)
    fig = new_figure(None, escape(title) if title else _label(lang, "expiring_title"), lang)
    if not len(devices):
        return no_data(fig, lang)
    at = pd.Timestamp(devices["assessed_at"].iloc[0])
    first = at.normalize() - pd.Timedelta(days=at.weekday())
    starts = pd.date_range(first, periods=weeks, freq="7D")
    expiry = devices["projected_expiry"]
    ahead = expiry.notna() & (expiry >= at) & (expiry < starts[-1] + pd.Timedelta(days=7))
    past = expiry.notna() & (expiry < at)
    x = [_label(lang, "already")] + [f"{s:%Y-%m-%d}" for s in starts]
    week = ((expiry[ahead] - first) // pd.Timedelta(days=7)).astype(int)
    shown = False
    for status in STATUSES:
        mine = (devices["status"] == status).to_numpy(bool)
        counts = np.bincount(week[mine[ahead.to_numpy(bool)]], minlength=weeks)[:weeks]
        values = [int((past & mine).sum()), *counts.tolist()]
        if not any(values):
            continue
        shown = True
        fig.add_bar(x=x, y=values, name=_label(lang, status),
                    marker_color=STATUS_COLORS[status],
                    hovertemplate="%{x}: %{y}<extra>%{fullData.name}</extra>")
    fig.update_layout(barmode="stack", xaxis_title=_label(lang, "week"),
                      yaxis_title=_label(lang, "machines"), legend_title=_label(lang, "status"))
    return fig if shown else no_data(fig, lang)


def plot_kms_forecast(kms: KmsHealth, *, weeks: int = 6, lang: str = "en",
                      title: str | None = None) -> go.Figure:
    """Plot each KMS host's count over the last weeks, its forecast and its threshold.

    Parameters
    ----------
    kms : KmsHealth
        Output of :func:`~activation_kb.kms_health`.
    weeks : int
        Weeks of history before the assessment time.
    lang : {"en", "fr"}
        Language of the labels.
    title : str, optional
        Title instead of the default one.

    Returns
    -------
    plotly.graph_objects.Figure
        One solid line per host (distinct machines in 30 days, per day), its forecast dashed,
        its threshold dotted, and a marker on the day it is forecast to fall below.
    """
    lang = check_lang(lang)
    if not isinstance(kms, KmsHealth):
        raise AnalysisError(f"kms must be the output of kms_health, not {type(kms).__name__}")
    fig = new_figure(None, escape(title) if title else _label(lang, "kms_title"), lang)
    daily = kms.daily
    if not len(kms.hosts):
        return no_data(fig, lang)
    since = kms.at.floor("D") - pd.Timedelta(weeks=weeks)
    palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
    for i, row in enumerate(kms.hosts.itertuples(index=False)):  # a handful of hosts
        color = palette[i % len(palette)]
        name = escape(row.host)
        past = daily[(daily["host"] == row.host) & (daily["day"] >= since)
                     & (daily["day"] <= kms.at)]
        ahead = kms.forecast[kms.forecast["host"] == row.host]
        fig.add_scatter(x=past["day"], y=past["count_30d"], mode="lines", name=name,
                        line={"color": color}, legendgroup=name)
        fig.add_scatter(x=ahead["day"], y=ahead["count"], mode="lines",
                        name=f"{name} ({_label(lang, 'forecast')})",
                        line={"color": color, "dash": "dash"}, legendgroup=name)
        span = pd.concat([past["day"], ahead["day"]])
        if len(span):
            fig.add_scatter(x=[span.min(), span.max()], y=[row.threshold] * 2, mode="lines",
                            name=f"{name} ({_label(lang, 'threshold')} {row.threshold})",
                            line={"color": color, "dash": "dot", "width": 1},
                            legendgroup=name)
        if pd.notna(row.falls_below_on):
            fig.add_scatter(x=[row.falls_below_on], y=[row.threshold], mode="markers",
                            name=f"{name}: {_label(lang, 'falls')} {row.falls_below_on:%Y-%m-%d}",
                            marker={"color": color, "size": 11, "symbol": "x"},
                            legendgroup=name)
    fig.update_layout(xaxis_title=_label(lang, "day"), yaxis_title=_label(lang, "count"))
    return fig


def health_tables(devices: pd.DataFrame, kms: KmsHealth | None = None, *, top_n: int = 20,
                  lang: str = "en") -> dict[str, pd.DataFrame]:
    """Return the report's health tables: counts by status, machines to act on, KMS hosts.

    Parameters
    ----------
    devices : pandas.DataFrame
        Output of :func:`~activation_kb.fleet_health`.
    kms : KmsHealth, optional
        Output of :func:`~activation_kb.kms_health`.
    top_n : int
        Machines listed to act on first.
    lang : {"en", "fr"}
        Language of the status names and of the catalogue's cause and resolution.

    Returns
    -------
    dict
        ``"status"`` (status, machines: every status, zeros included), ``"act_first"``
        (:func:`~activation_kb.analysis.health.act_first`) and ``"kms"`` (host, status,
        message, count, threshold, falls_below_on; empty without ``kms``).
    """
    lang = check_lang(lang)
    devices = _check_devices(devices)
    counts = devices["status"].astype(str).value_counts()
    status = pd.DataFrame({
        "status": [HEALTH_LABELS[lang][s] for s in STATUSES],
        "machines": [int(counts.get(s, 0)) for s in STATUSES],
    })
    hosts = (kms.hosts[["host", "status", "message", "count", "threshold", "falls_below_on"]]
             if kms is not None else pd.DataFrame(
                 columns=["host", "status", "message", "count", "threshold", "falls_below_on"]))
    return {"status": status, "act_first": act_first(devices, top_n, lang), "kms": hosts}
