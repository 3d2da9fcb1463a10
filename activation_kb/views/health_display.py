"""The report's "Fleet health" section as HTML: counts by status, machines to act on, KMS hosts.

Like :mod:`activation_kb.views.display`, every function returns an
:class:`IPython.display.HTML` object (never displays it), and every value from data goes
through :mod:`activation_kb.views.safe_html`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from IPython.display import HTML

from ..analysis.health import KmsHealth
from ..catalogue.article import check_language
from .health import HEALTH_LABELS, STATUS_COLORS, health_tables
from .safe_html import markdown_html, text_html

__all__ = ["health_section", "HEALTH_WORDS"]

HEALTH_WORDS = {
    "en": {
        "title": "Fleet health",
        "at": "Machines and KMS hosts as of {at} ({tz}).",
        "status": "Status", "machines": "Machines",
        "act_first": "Machines to act on first",
        "device": "Machine", "reason": "Why", "expiry": "Projected expiry", "days": "Days left",
        "kms_host": "KMS host", "last_failure": "Last failure", "cause": "Cause",
        "resolution": "Resolution",
        "nothing": "No machine is expired, in notification or at risk.",
        "kms": "KMS hosts", "host": "Host", "count": "Count (30 days)", "threshold": "Threshold",
        "falls": "Falls below on", "outlook": "Outlook",
        "no_kms": "No KMS request in the records.",
        "more": "{n} more machine(s) to act on are listed in health.json and health.csv.",
        "hosts_status": {"not_answering": "not answering", "below_threshold": "below threshold",
                         "at_risk": "at risk", "ok": "ok", "idle": "idle"},
    },
    "fr": {
        "title": "État du parc",
        "at": "Machines et hôtes KMS au {at} ({tz}).",
        "status": "État", "machines": "Machines",
        "act_first": "Machines à traiter en premier",
        "device": "Machine", "reason": "Pourquoi", "expiry": "Expiration prévue",
        "days": "Jours restants", "kms_host": "Hôte KMS", "last_failure": "Dernier échec",
        "cause": "Cause", "resolution": "Résolution",
        "nothing": "Aucune machine expirée, en notification ou à risque.",
        "kms": "Hôtes KMS", "host": "Hôte", "count": "Compte (30 jours)", "threshold": "Seuil",
        "falls": "Sous le seuil le", "outlook": "Perspective",
        "no_kms": "Aucune requête KMS dans les enregistrements.",
        "more": "{n} autre(s) machine(s) à traiter figurent dans health.json et health.csv.",
        "hosts_status": {"not_answering": "ne répond plus", "below_threshold": "sous le seuil",
                         "at_risk": "à risque", "ok": "ok", "idle": "inactif"},
    },
}


def _table(rows: list[list[Any]], header: list[str]) -> str:
    """Return an HTML table of escaped cells (a cell ``("html", text)`` is trusted HTML)."""
    def cell(value: Any) -> str:
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "html":
            return value[1]
        return text_html(value)

    head = "".join(f"<th>{text_html(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="akb-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _when(value: Any, tz: str | None) -> str:
    if value is None or pd.isna(value):
        return ""
    stamp = pd.Timestamp(value)
    return (stamp.tz_convert(tz) if tz else stamp).strftime("%Y-%m-%d")


def health_section(devices: pd.DataFrame, kms: KmsHealth | None = None, lang: str = "en",
                   tz: str | None = None, top_n: int = 20) -> HTML:
    """Return the "Fleet health" section: counts by status, machines to act on, KMS hosts.

    Parameters
    ----------
    devices : pandas.DataFrame
        Output of :func:`~activation_kb.fleet_health`.
    kms : KmsHealth, optional
        Output of :func:`~activation_kb.kms_health`.
    lang : {"en", "fr"}
        Language of the words and of the catalogue's cause and resolution.
    tz : str, optional
        Time zone the dates are shown in.
    top_n : int
        Machines listed to act on first (expired first, then least days left).

    Returns
    -------
    IPython.display.HTML
    """
    words = HEALTH_WORDS[check_language(lang)]
    tables = health_tables(devices, kms, top_n=top_n, lang=lang)
    at = devices["assessed_at"].iloc[0] if len(devices) else (kms.at if kms else None)
    parts = [f"<h2>{text_html(words['title'])}</h2>"]
    if at is not None:
        stamp = pd.Timestamp(at)
        shown = (stamp.tz_convert(tz) if tz else stamp).strftime("%Y-%m-%d %H:%M")
        line = words["at"].format(at=shown, tz=tz or "UTC")
        parts.append(f'<p class="akb-muted">{text_html(line)}</p>')
    counts = tables["status"]
    keys = list(STATUS_COLORS)
    parts.append(_table(
        [[("html", f'<span style="color:{STATUS_COLORS[k]};font-weight:bold">'
                   f"{text_html(name)}</span>"), f"{n:,}"]
         for k, name, n in zip(keys, counts["status"], counts["machines"], strict=True)],
        [words["status"], words["machines"]]))
    act = tables["act_first"]
    parts.append(f"<h3>{text_html(words['act_first'])}</h3>")
    if act.empty:
        parts.append(f"<p>{text_html(words['nothing'])}</p>")
    else:
        names = HEALTH_LABELS[lang]
        rows = [[r["device"], names.get(r["status"], r["status"]), r["reason"],
                 _when(r["projected_expiry"], tz),
                 "" if pd.isna(r["days_left"]) else f"{r['days_left']:.0f}", r["kms_host"],
                 r["last_failure_code"], ("html", markdown_html(r["cause"])),
                 ("html", markdown_html(r["resolution"]))] for r in act.to_dict("records")]
        parts.append(_table(rows, [words[k] for k in (
            "device", "status", "reason", "expiry", "days", "kms_host", "last_failure", "cause",
            "resolution")]))
        urgent = int(devices["status"].isin(["expired", "notification", "at_risk"]).sum())
        if urgent > len(act):
            parts.append(f'<p class="akb-muted">'
                         f"{text_html(words['more'].format(n=urgent - len(act)))}</p>")
    parts.append(f"<h3>{text_html(words['kms'])}</h3>")
    hosts = tables["kms"]
    if hosts.empty:
        parts.append(f"<p>{text_html(words['no_kms'])}</p>")
    else:
        parts.append(_table(
            [[r["host"], words["hosts_status"].get(r["status"], r["status"]), r["count"],
              r["threshold"], _when(r["falls_below_on"], tz),
              r["message"]] for r in hosts.to_dict("records")],
            [words[k] for k in ("host", "status", "count", "threshold", "falls", "outlook")]))
    return HTML("".join(parts))
