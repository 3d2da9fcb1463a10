"""Report sections as HTML for notebooks, and an offline plotly renderer.

The report notebook stays thin: it calls :func:`~activation_kb.analyze_fleet` once and
displays the pieces this module builds. Every function returns an
:class:`IPython.display.HTML` object (never displays it); every value that comes from data goes
through :mod:`activation_kb.views.safe_html` (escaped text, safe markdown, http(s) links only).
Functions that take the :class:`~activation_kb.FleetAnalysis` use its language and time zone
unless ``lang``/``tz`` are given.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
from IPython.display import HTML

from ..analysis.fleet import FleetAnalysis
from ..deprecation import old_forms
from ..params import check_lang
from .safe_html import anchor, markdown_html, safe_href, text_html

__all__ = [
    "LABELS",
    "use_offline_plotly",
    "heading",
    "section",
    "summary",
    "incidents_table",
    "incident",
    "uncatalogued",
    "quality",
]

#: Words of the report in each language.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Windows activation errors",
        "generated": "Period {start} to {end} ({tz}); {files} input file(s), {records} records.",
        "summary": "Summary",
        "frequency": "Errors over time",
        "top_codes": "Most frequent codes",
        "heatmap": "Codes over time",
        "incidents": "Incidents",
        "incident_views": "Incident details",
        "uncatalogued": "Codes the article does not document",
        "quality": "Data quality",
        "devices": "Devices",
        "kms_hosts": "KMS hosts",
        "sites": "Sites",
        "attempts": "Activation attempts",
        "failed": "Failed attempts",
        "rate": "Failure rate",
        "failing_devices": "Devices with a failure",
        "records": "Records read",
        "rejected": "Records rejected",
        "duplicates": "Duplicate records",
        "incident_count": "Incidents found",
        "id": "Incident",
        "window": "Window",
        "codes": "Codes",
        "category": "Category",
        "severity": "Severity",
        "scope": "Where",
        "message": "Message",
        "cause": "Cause",
        "resolution": "Resolution",
        "failures": "Failed attempts",
        "detected": "First alarm",
        "affected": "Devices with the most failures",
        "no_incident": "No incident: no error rose above its usual level in this period.",
        "more": "{n} more incident(s) are listed in incidents.json.",
        "not_in_article": "Not in the article",
        "explains": "What the failing devices have in common",
        "dimension": "Dimension",
        "value": "Value",
        "share": "Share of failing devices",
        "fleet_share": "Share of the fleet",
        "lift": "Lift",
        "symbol": "Symbol",
        "facility": "Facility",
        "notes": "Notes",
        "no_uncatalogued": "Every failure code seen is documented in the article.",
        "file": "File",
        "format": "Format",
        "loaded": "Loaded",
        "reasons": "Rejected records by reason",
        "reason": "Reason",
        "no_rejected": "No record was rejected.",
        "silent": "{n} device(s) made no attempt in the last {days} days of the period "
        "(off, retired, or MAK-activated): {examples}",
        "no_silent": "Every device attempted activation in the last {days} days of the period.",
        "empty_buckets": "{n} of {total} time buckets had no attempt at all (longest run: {run}).",
        "unreadable": "{n} record(s) carry a result code that could not be read; they are left "
        "out of the attempts. Examples:",
        "text": "Text",
        "record": "Record",
        "none": "(none)",
    },
    "fr": {
        "title": "Erreurs d’activation Windows",
        "generated": "Période du {start} au {end} ({tz}) ; {files} fichier(s) d’entrée, "
        "{records} enregistrements.",
        "summary": "Synthèse",
        "frequency": "Erreurs dans le temps",
        "top_codes": "Codes les plus fréquents",
        "heatmap": "Codes dans le temps",
        "incidents": "Incidents",
        "incident_views": "Détail des incidents",
        "uncatalogued": "Codes absents de l’article",
        "quality": "Qualité des données",
        "devices": "Appareils",
        "kms_hosts": "Hôtes KMS",
        "sites": "Sites",
        "attempts": "Tentatives d’activation",
        "failed": "Tentatives en échec",
        "rate": "Taux d’échec",
        "failing_devices": "Appareils en échec",
        "records": "Enregistrements lus",
        "rejected": "Enregistrements rejetés",
        "duplicates": "Enregistrements en double",
        "incident_count": "Incidents détectés",
        "id": "Incident",
        "window": "Période",
        "codes": "Codes",
        "category": "Catégorie",
        "severity": "Gravité",
        "scope": "Où",
        "message": "Message",
        "cause": "Cause",
        "resolution": "Résolution",
        "failures": "Tentatives en échec",
        "detected": "Première alerte",
        "affected": "Appareils les plus en échec",
        "no_incident": "Aucun incident : aucune erreur n’a dépassé son niveau habituel.",
        "more": "{n} autre(s) incident(s) figurent dans incidents.json.",
        "not_in_article": "Absent de l’article",
        "explains": "Ce que les appareils en échec ont en commun",
        "dimension": "Dimension",
        "value": "Valeur",
        "share": "Part des appareils en échec",
        "fleet_share": "Part du parc",
        "lift": "Facteur",
        "symbol": "Symbole",
        "facility": "Facility",
        "notes": "Remarques",
        "no_uncatalogued": "Tous les codes d’échec observés figurent dans l’article.",
        "file": "Fichier",
        "format": "Format",
        "loaded": "Chargés",
        "reasons": "Enregistrements rejetés par motif",
        "reason": "Motif",
        "no_rejected": "Aucun enregistrement rejeté.",
        "silent": "{n} appareil(s) sans tentative pendant les {days} derniers jours de la "
        "période (éteints, retirés ou activés par MAK) : {examples}",
        "no_silent": "Tous les appareils ont tenté une activation pendant les {days} derniers "
        "jours de la période.",
        "empty_buckets": "{n} intervalles sur {total} sans aucune tentative (plus longue suite : "
        "{run}).",
        "unreadable": "{n} enregistrement(s) portent un code de résultat illisible ; ils sont "
        "exclus des tentatives. Exemples :",
        "text": "Texte",
        "record": "Enregistrement",
        "none": "(aucun)",
    },
}
_STYLE = (
    "<style>.akb-table{border-collapse:collapse;font-size:0.92em;margin:0.4em 0 1em 0}"
    ".akb-table th,.akb-table td{border:1px solid #ccd;padding:3px 8px;text-align:left!important;"
    "vertical-align:top}.akb-table th{background:#f3f4f8}.akb-card{border-left:4px solid #888;"
    "padding:0.2em 1em;margin:0.8em 0}.akb-sev-critical{border-color:#b2182b}"
    ".akb-sev-high{border-color:#ef8a62}.akb-sev-medium{border-color:#fddbc7}"
    ".akb-sev-low{border-color:#d1e5f0}.akb-muted{color:#666}</style>"
)


def _t(lang: str) -> dict[str, str]:
    return LABELS[check_lang(lang)]


def _settings(analysis: Any, lang: str | None, tz: str | None = None) -> tuple[str, str | None]:
    """Return ``lang`` and ``tz``, defaulting to the analysis' own (English, UTC otherwise)."""
    if isinstance(analysis, FleetAnalysis):
        return (analysis.lang if lang is None else lang), (analysis.tz if tz is None else tz)
    return ("en" if lang is None else lang), tz


def _table(rows: list[list[Any]], header: list[str]) -> str:
    """Return an HTML table of escaped cells (a cell ``("html", text)`` is trusted HTML)."""
    def cell(value: Any) -> str:
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "html":
            return value[1]
        return text_html(value)

    head = "".join(f"<th>{text_html(h)}</th>" for h in header)
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="akb-table">{thead}<tbody>{body}</tbody></table>'


def _when(value: Any, tz: str | None = None) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    stamp = pd.Timestamp(value)
    if tz:
        stamp = stamp.tz_convert(tz)
    return stamp.strftime("%Y-%m-%d %H:%M")


def use_offline_plotly() -> str:
    """Make plotly figures render as HTML that carries plotly.js inline, with no CDN or MathJax.

    Registers the renderer ``activation_kb`` (once) and makes it the default, which embeds
    plotly.js in the notebook's output a single time; nbconvert's HTML export then shows every
    chart offline. For notebooks (the report); library code never displays figures.

    Returns
    -------
    str
        The renderer name.
    """
    import plotly.io as pio
    from plotly.io.base_renderers import HtmlRenderer

    class _OfflineRenderer(HtmlRenderer):
        def __init__(self) -> None:
            super().__init__(connected=False, full_html=False, global_init=True,
                             include_plotlyjs=False)

        def to_mimebundle(self, fig_dict: dict) -> dict[str, str]:
            html = pio.to_html(fig_dict, include_plotlyjs=False, include_mathjax=False,
                               full_html=False, default_width="100%", default_height=480,
                               validate=False, config={"displaylogo": False})
            return {"text/html": html}

    if "activation_kb" not in pio.renderers:
        pio.renderers["activation_kb"] = _OfflineRenderer()
    pio.renderers.default = "activation_kb"
    return "activation_kb"


def _old_heading(func: Callable[..., HTML]) -> Callable[..., HTML]:
    """Accept the 0.1 form ``heading(title, analysis, lang, tz)``, with a warning."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> HTML:
        if len(args) >= 2 and not isinstance(args[0], FleetAnalysis):
            warnings.warn("heading(title, analysis, lang, tz) is deprecated; write "
                          "heading(analysis, title=..., lang=..., tz=...)", DeprecationWarning,
                          stacklevel=2)
            title, analysis, *rest = args
            kwargs.update(zip(("lang", "tz"), rest), title=title)
            args = (analysis,)
        return func(*args, **kwargs)

    return wrapper


@_old_heading
def heading(analysis: FleetAnalysis, *, title: str | None = None, lang: str | None = None,
            tz: str | None = None) -> HTML:
    """Return the report's title and period line.

    Parameters
    ----------
    analysis : FleetAnalysis
        The analysis shown.
    title : str, optional
        Report title; default "Windows activation errors" in ``lang``.
    lang : {"en", "fr"}, optional
        Default: the analysis' language.
    tz : str, optional
        Time zone of the period shown; default the analysis' time zone (UTC).

    Returns
    -------
    IPython.display.HTML
    """
    lang, tz = _settings(analysis, lang, tz)
    words = _t(lang)
    s = analysis.summary
    line = words["generated"].format(
        start=_when(s["period_start"], tz), end=_when(s["period_end"], tz), tz=tz or "UTC",
        files=len(analysis.files) or 1, records=f"{s['records']:,}",
    )
    return HTML(f"{_STYLE}<h1>{text_html(title or words['title'])}</h1>"
                f'<p class="akb-muted">{text_html(line)}</p>')


@old_forms(positional=("lang",))
def section(name: str, *, lang: str = "en") -> HTML:
    """Return a section heading.

    Parameters
    ----------
    name : str
        A key of :data:`LABELS` ("summary", "frequency", "incidents" ...).
    lang : {"en", "fr"}
        Language of the heading.

    Returns
    -------
    IPython.display.HTML
    """
    return HTML(f"<h2>{text_html(_t(lang)[name])}</h2>")


@old_forms(positional=("lang",))
def summary(analysis: FleetAnalysis, *, lang: str | None = None) -> HTML:
    """Return the summary table: fleet size, attempts, failure rate, records, incidents.

    Parameters
    ----------
    analysis : FleetAnalysis
        The analysis shown.
    lang : {"en", "fr"}, optional
        Default: the analysis' language.

    Returns
    -------
    IPython.display.HTML
    """
    lang, _ = _settings(analysis, lang)
    words, s = _t(lang), analysis.summary
    rows = [
        [words["devices"], f"{s['devices']:,}"],
        [words["kms_hosts"], f"{s['kms_hosts']:,}"],
        [words["sites"], ", ".join(s["sites"]) or words["none"]],
        [words["attempts"], f"{s['attempts']:,}"],
        [words["failed"], f"{s['failed_attempts']:,}"],
        [words["rate"], f"{s['failure_rate']:.1%}"],
        [words["failing_devices"], f"{s['failing_devices']:,}"],
        [words["records"], f"{s['records']:,}"],
        [words["rejected"], f"{s['rejected']:,}"],
        [words["duplicates"], f"{s['duplicates']:,}"],
        [words["incident_count"], f"{s['incidents']:,}"],
    ]
    return HTML(_table(rows, ["", ""]))


@old_forms(positional=("lang", "tz"))
def incidents_table(incidents: pd.DataFrame | FleetAnalysis, *, lang: str | None = None,
                    tz: str | None = None) -> HTML:
    """Return the incidents table: window, codes, category, devices, where, cause, resolution.

    Parameters
    ----------
    incidents : pandas.DataFrame or FleetAnalysis
        :func:`~activation_kb.explain_spikes` output, or an analysis (its incidents).
    lang : {"en", "fr"}, optional
        Default: the analysis' language, else English.
    tz : str, optional
        Time zone of the windows shown; default the analysis' (UTC).

    Returns
    -------
    IPython.display.HTML
        One row per incident, or a sentence saying there is none.
    """
    lang, tz = _settings(incidents, lang, tz)
    if isinstance(incidents, FleetAnalysis):
        incidents = incidents.incidents
    words = _t(lang)
    if incidents.empty:
        return HTML(f"<p>{text_html(words['no_incident'])}</p>")
    rows = []
    for inc in incidents.to_dict(orient="records"):
        rows.append([
            inc["incident_id"], inc["severity"],
            f"{_when(inc['start'], tz)} → {_when(inc['end'], tz)}",
            ", ".join(inc["codes"]), inc["category_label"], inc["devices"], inc["failures"],
            inc["scope"], ("html", markdown_html(inc["cause"])),
            ("html", markdown_html(inc["resolution"]) or text_html(words["not_in_article"])),
        ])
    header = [words[k] for k in ("id", "severity", "window", "codes", "category", "devices",
                                 "failures", "scope", "cause", "resolution")]
    return HTML(_table(rows, header))


@old_forms(positional=("lang", "tz"))
def incident(inc: Any, *, lang: str = "en", tz: str | None = None) -> HTML:
    """Return one incident's card: what, when, where, and the article's text for its codes.

    Parameters
    ----------
    inc : pandas.Series or mapping
        One row of :func:`~activation_kb.explain_spikes` output.
    lang : {"en", "fr"}
        Language of the card's words.
    tz : str, optional
        Time zone of the times shown (UTC by default).

    Returns
    -------
    IPython.display.HTML
    """
    words = _t(lang)
    inc = dict(inc)
    head = (f"<h3>{text_html(inc['incident_id'])}: {text_html(inc['top_code'])} — "
            f"{text_html(inc['category_label'])}</h3>")
    facts = _table([
        [words["window"], f"{_when(inc['start'], tz)} → {_when(inc['end'], tz)}"],
        [words["detected"], _when(inc.get("detected"), tz)],
        [words["devices"], inc["devices"]],
        [words["affected"], ", ".join(inc.get("affected_devices") or [])
         + (f" (+{inc['devices'] - len(inc.get('affected_devices') or [])})"
            if inc["devices"] > len(inc.get("affected_devices") or []) else "")],
        [words["failures"], inc["failures"]],
        [words["severity"], inc["severity"]],
        [words["scope"], inc["scope"]],
    ], ["", ""])
    codes = []
    for detail in inc["codes_detail"]:
        links = "".join(
            f"<li>{anchor(href, text_html(link.get('text') or href))}</li>"
            for link in detail.get("links", []) if (href := safe_href(link.get("url")))
        )
        flag = "" if detail["in_article"] else f" <em>({text_html(words['not_in_article'])})</em>"
        codes.append(
            f"<h4>{text_html(detail['code'])}{flag}</h4>"
            f"<p><b>{text_html(words['message'])}:</b> {text_html(detail['message'])}</p>"
            f"<p><b>{text_html(words['cause'])}:</b></p>{markdown_html(detail['cause'])}"
            f"<p><b>{text_html(words['resolution'])}:</b></p>"
            f"{markdown_html(detail['resolution']) or text_html(words['none'])}"
            + (f"<ul>{links}</ul>" if links else "")
        )
    dims = _table(
        [[d["dimension"], d["value"] or words["none"], f"{d['share']:.0%}",
          f"{d['fleet_share']:.0%}", "" if d["lift"] is None else f"{d['lift']:.1f}"]
         for d in inc["dimensions"]],
        [words[k] for k in ("dimension", "value", "share", "fleet_share", "lift")],
    )
    return HTML(
        f'<div class="akb-card akb-sev-{text_html(inc["severity"])}">{head}{facts}'
        f"{''.join(codes)}<h4>{text_html(words['explains'])}</h4>{dims}</div>"
    )


@old_forms(positional=("lang",))
def uncatalogued(frame: pd.DataFrame | FleetAnalysis, *, lang: str | None = None) -> HTML:
    """Return the codes seen that the article does not document, with their description.

    Parameters
    ----------
    frame : pandas.DataFrame or FleetAnalysis
        ``FleetAnalysis.uncatalogued``, or the analysis.
    lang : {"en", "fr"}, optional
        Default: the analysis' language, else English.

    Returns
    -------
    IPython.display.HTML
    """
    lang, _ = _settings(frame, lang)
    if isinstance(frame, FleetAnalysis):
        frame = frame.uncatalogued
    words = _t(lang)
    if frame.empty:
        return HTML(f"<p>{text_html(words['no_uncatalogued'])}</p>")
    rows = [[r["code"], r["failures"], r["devices"], r["symbol"], r["message"], r["facility"],
             r["notes"]] for r in frame.to_dict(orient="records")]
    header = [words[k] for k in ("codes", "failures", "devices", "symbol", "message", "facility",
                                 "notes")]
    return HTML(_table(rows, header))


@old_forms(positional=("lang",))
def quality(analysis: FleetAnalysis, *, lang: str | None = None) -> HTML:
    """Return the data-quality section: files, rejected and unreadable records, silent devices.

    Parameters
    ----------
    analysis : FleetAnalysis
        The analysis shown.
    lang : {"en", "fr"}, optional
        Default: the analysis' language.

    Returns
    -------
    IPython.display.HTML
        The input files, rejected records by reason, records whose result code could not be
        read (with examples), devices that went silent and empty buckets.
    """
    lang, _ = _settings(analysis, lang)
    words, q = _t(lang), analysis.quality
    parts = []
    if analysis.files:
        parts.append(_table(
            [[f.get("path"), f.get("format"), f.get("records"), f.get("loaded"),
              f.get("rejected"), f.get("duplicates")] for f in analysis.files],
            [words[k] for k in ("file", "format", "records", "loaded", "rejected",
                                "duplicates")],
        ))
    if q["rejected"]:
        parts.append(f"<h4>{text_html(words['reasons'])}</h4>")
        parts.append(_table([[k, v] for k, v in q["rejected_by_reason"].items()],
                            [words["reason"], words["rejected"]]))
    else:
        parts.append(f"<p>{text_html(words['no_rejected'])}</p>")
    if q.get("unreadable_codes"):
        parts.append(f"<p>{text_html(words['unreadable'].format(n=q['unreadable_codes']))}</p>")
        parts.append(_table([[e["file"], e["record"], e["text"]]
                             for e in q.get("unreadable_code_examples", [])],
                            [words["file"], words["record"], words["text"]]))
    days = pd.Timedelta(q["silent_after"]).days
    if q["silent_devices"]:
        text = words["silent"].format(n=q["silent_devices"], days=days,
                                      examples=", ".join(q["silent_examples"]))
    else:
        text = words["no_silent"].format(days=days)
    parts.append(f"<p>{text_html(text)}</p>")
    parts.append("<p>" + text_html(words["empty_buckets"].format(
        n=q["empty_buckets"], total=q["buckets"], run=q["longest_gap_buckets"])) + "</p>")
    return HTML("".join(parts))
