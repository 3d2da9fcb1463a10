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
import re
import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
from IPython.display import HTML

from ..analysis.fleet import FleetAnalysis
from ..catalogue.markdown import without_link_targets
from ..deprecation import old_forms
from ..l10n import format_count, format_date, format_percent, plural
from ..params import check_lang
from .safe_html import anchor, markdown_html, safe_href, text_html

__all__ = [
    "LABELS",
    "use_offline_plotly",
    "heading",
    "section",
    "summary",
    "act_first",
    "first_step",
    "incidents_table",
    "incident",
    "uncatalogued",
    "quality",
]

#: Words of the report in each language.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Windows activation errors",
        "generated": "Period {start} to {end} ({tz}); {files}, {records}.",
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
        "skipped": "Skipped, not event exports: {n} (found beside the exports, not read).",
        "file_noun": "file",
        "and_more": "... and {n} more.",
        "silent": "{n} made no attempt in the last {days} days of the period "
        "(off, retired, or MAK-activated): {examples}",
        "no_silent": "Every device attempted activation in the last {days} days of the period.",
        "empty_buckets": "{n} of {total} time buckets had no attempt at all (longest run: {run}).",
        "unreadable": "{n} record(s) carry a result code that could not be read; they are left "
        "out of the attempts. Examples:",
        "text": "Text",
        "record": "Record",
        "none": "(none)",
        "act_first": "Act first",
        "act_line": "{devices} · first step: ",
        "no_action": "Nothing to act on: no incident in this period.",
        "status": "Status",
        "ongoing": "ongoing",
        "ended": "ended",
        "low": "low",
        "medium": "medium",
        "high": "high",
        "critical": "critical",
        "this_period": "This period",
        "previous": "Previous period",
        "change": "Change",
        "up": "up",
        "down": "down",
        "same": "unchanged",
        "no_previous": "The data do not cover the previous period of the same length "
        "(run with since= to compare).",
        "partial_previous": "The data cover only part of the previous period.",
        "top_code": "Main code",
        "more_devices": "(+{n} more)",
        "other_codes": "Other codes of the incident",
        "machine": "machine",
        "input_file": "input file",
        "record_noun": "record",
        "device_noun": "device",
    },
    "fr": {
        "title": "Erreurs d’activation Windows",
        "generated": "Période du {start} au {end} ({tz}) ; {files}, {records}.",
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
        "facility": "Composant (facility)",
        "notes": "Remarques",
        "no_uncatalogued": "Tous les codes d’échec observés figurent dans l’article.",
        "file": "Fichier",
        "format": "Format",
        "loaded": "Chargés",
        "reasons": "Enregistrements rejetés par motif",
        "reason": "Motif",
        "no_rejected": "Aucun enregistrement rejeté.",
        "skipped": "Ignorés, pas des exports d’événements : {n} (trouvés à côté des exports, "
        "non lus).",
        "file_noun": "fichier",
        "and_more": "… et {n} de plus.",
        "silent": "{n} sans tentative pendant les {days} derniers jours de la "
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
        "act_first": "À traiter en premier",
        "act_line": "{devices} · première étape : ",
        "no_action": "Rien à traiter : aucun incident sur cette période.",
        "status": "État",
        "ongoing": "en cours",
        "ended": "terminé",
        "low": "faible",
        "medium": "moyenne",
        "high": "élevée",
        "critical": "critique",
        "this_period": "Cette période",
        "previous": "Période précédente",
        "change": "Évolution",
        "up": "en hausse",
        "down": "en baisse",
        "same": "stable",
        "no_previous": "Les données ne couvrent pas la période précédente de même durée "
        "(indiquez since= pour comparer).",
        "partial_previous": "Les données ne couvrent qu’une partie de la période précédente.",
        "top_code": "Code principal",
        "more_devices": "(+{n} autres)",
        "other_codes": "Autres codes de l’incident",
        "machine": "machine",
        "input_file": "fichier d’entrée",
        "record_noun": "enregistrement",
        "device_noun": "appareil",
    },
}
#: Skipped files listed in the data-quality section (the manifest lists every one).
_SKIPPED_SHOWN = 20
_STYLE = (
    "<style>.akb-scroll{overflow-x:auto;max-width:100%;-webkit-overflow-scrolling:touch}"
    ".akb-table{border-collapse:collapse;font-size:0.92em;margin:0.4em 0 1em 0}"
    ".akb-table th,.akb-table td{border:1px solid #ccd;padding:3px 8px;text-align:left!important;"
    "vertical-align:top}.akb-table td{max-width:36em;overflow-wrap:break-word}"
    ".akb-table th{background:#f3f4f8}.akb-card{border-left:4px solid #888;"
    "padding:0.2em 1em;margin:0.8em 0;overflow-wrap:anywhere}"
    ".akb-sev-critical{border-color:#b2182b}"
    ".akb-sev-high{border-color:#ef8a62}.akb-sev-medium{border-color:#fddbc7}"
    ".akb-sev-low{border-color:#d1e5f0}.akb-muted{color:#666}"
    ".akb-status{border-radius:3px;padding:0 0.4em;font-size:0.85em;white-space:nowrap}"
    ".akb-status-ongoing{background:#b2182b;color:#fff}.akb-status-ended{background:#e4e4e8;"
    "color:#333}.akb-up{color:#b2182b}.akb-down{color:#1a7f37}.akb-act li{margin:0.35em 0}"
    ".plotly-graph-div{max-width:100%}"
    "@media (max-width:640px){.jp-Cell{padding:2px 0!important}"
    ".jp-OutputArea-output{padding:0!important}.akb-card{padding:0.2em 0.5em}"
    "h1{font-size:1.5em}h2{font-size:1.25em}}</style>"
)


def _t(lang: str) -> dict[str, str]:
    return LABELS[check_lang(lang)]


def _settings(analysis: Any, lang: str | None, tz: str | None = None) -> tuple[str, str | None]:
    """Return ``lang`` and ``tz``, defaulting to the analysis' own (English, UTC otherwise)."""
    if isinstance(analysis, FleetAnalysis):
        return (analysis.lang if lang is None else lang), (analysis.tz if tz is None else tz)
    return ("en" if lang is None else lang), tz


def _table(rows: list[list[Any]], header: list[str]) -> str:
    """Return an HTML table of escaped cells (a cell ``("html", text)`` is trusted HTML).

    The table sits in its own horizontally scrolling box, so a wide table never widens the page.
    """
    def cell(value: Any) -> str:
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "html":
            return value[1]
        return text_html(value)

    head = "".join(f"<th>{text_html(h)}</th>" for h in header)
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return (f'<div class="akb-scroll"><table class="akb-table">{thead}<tbody>{body}</tbody>'
            "</table></div>")


def _when(value: Any, tz: str | None = None, lang: str = "en") -> str:
    return format_date(value, lang, tz)


def _num(value: Any, lang: str) -> str:
    return format_count(int(value), lang)


def _severity(value: object, lang: str) -> str:
    return _t(lang).get(str(value), str(value))


def _status(value: object, lang: str) -> tuple[str, str]:
    """Return a status badge as a trusted-HTML cell."""
    status = str(value) if str(value) in ("ongoing", "ended") else "ended"
    return ("html", f'<span class="akb-status akb-status-{status}">'
                    f"{text_html(_t(lang)[status])}</span>")


def first_step(resolution: object) -> str:
    """Return the first step of a resolution text: its first list item, else its first sentence.

    Parameters
    ----------
    resolution : str
        The article's resolution (markdown); link targets and emphasis are dropped.

    Returns
    -------
    str
        The step as plain text; "" for no resolution.
    """
    if not isinstance(resolution, str) or not resolution.strip():
        return ""
    plain = re.sub(r"\*\*|`", "", without_link_targets(resolution)).strip()
    for line in plain.splitlines():
        item = re.match(r"\s*(?:[-*+]|\d+[.)])\s+(.*\S)", line)
        if item:
            return item.group(1)
    first = plain.splitlines()[0].strip()
    sentence = re.match(r"(.+?[.!?])(?:\s|$)", first)
    return sentence.group(1) if sentence else first


#: Run after each chart of the report: below 640 px, the legend goes under the plot, margins
#: shrink and long titles break at their " · " separators; above, the figure's own layout.
_NARROW_SCRIPT = """(function(){var gd=document.getElementById('{plot_id}');
if(!gd||!window.Plotly)return;var L=gd.layout||{},g=L.legend||{},t=(L.title||{}),
st=(t.subtitle||{}),m=L.margin||{},state=null;
function or(v){return v===undefined?null:v;}
var wide={'title.font.size':or((t.font||{}).size),'legend.orientation':or(g.orientation),
'legend.x':or(g.x),'legend.y':or(g.y),'legend.xanchor':or(g.xanchor),
'legend.yanchor':or(g.yanchor),'margin.l':or(m.l),'margin.r':or(m.r),
'title.text':t.text||'','title.subtitle.text':st.text||''};
function brk(s){return (s||'').split(' \u00b7 ').join('<br>').split(', ').join(',<br>');}
function fit(){var w=gd.getBoundingClientRect().width;if(!w)return;var narrow=w<640;
if(narrow===state)return;state=narrow;
Plotly.relayout(gd,narrow?{'legend.orientation':'h','legend.x':0,'legend.xanchor':'left',
'legend.y':-0.3,'legend.yanchor':'top','margin.l':44,'margin.r':8,'title.font.size':15,
'title.text':brk(wide['title.text']),'title.subtitle.text':brk(wide['title.subtitle.text'])}
:wide);}
fit();var timer;window.addEventListener('resize',function(){clearTimeout(timer);
timer=setTimeout(fit,120);});})();"""


def use_offline_plotly() -> str:
    """Make plotly figures render as HTML that carries plotly.js inline, with no CDN or MathJax.

    Registers the renderer ``activation_kb`` (once) and makes it the default, which embeds
    plotly.js in the notebook's output a single time; nbconvert's HTML export then shows every
    chart offline. Charts are responsive (they follow the page's width) and, on a narrow
    screen (a phone), put their legend below the plot. For notebooks (the report); library
    code never displays figures.

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
                               validate=False, post_script=_NARROW_SCRIPT,
                               config={"displaylogo": False, "responsive": True})
            return {"text/html": html}

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
        start=_when(s["period_start"], tz, lang), end=_when(s["period_end"], tz, lang),
        tz=tz or "UTC", files=plural(len(analysis.files) or 1, words["input_file"], lang),
        records=plural(s["records"], words["record_noun"], lang),
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


def _change(now: float, before: float, lang: str, rate: bool = False) -> tuple[str, str]:
    """Return the change from ``before`` to ``now`` as a trusted-HTML cell (arrow, difference)."""
    words = _t(lang)
    diff = now - before
    if abs(diff) < (0.0005 if rate else 0.5):
        return ("html", text_html(f"= {words['same']}"))
    kind, arrow = ("up", "▲") if diff > 0 else ("down", "▼")
    if rate:
        amount = format_number_points(diff, lang)
    else:
        amount = f"{'+' if diff > 0 else '−'}{_num(abs(diff), lang)}"
        if before:
            amount += f" ({'+' if diff > 0 else '−'}{format_percent(abs(diff) / before, lang, 0)})"
    return ("html", f'<span class="akb-{kind}">{arrow} {text_html(words[kind])}</span> '
                    f"{text_html(amount)}")


def format_number_points(diff: float, lang: str) -> str:
    """Return a difference of two rates in percentage points (``+1.2 pt``)."""
    from ..l10n import format_number

    return f"{'+' if diff > 0 else '−'}{format_number(abs(diff) * 100, lang, 1)} pt"


@old_forms(positional=("lang",))
def summary(analysis: FleetAnalysis, *, lang: str | None = None) -> HTML:
    """Return the summary table: fleet size, attempts, failures and the previous period.

    Failed attempts, failure rate and devices with a failure are compared with the previous
    period of the same length (when the data cover it): its value and whether it went up or down.

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
    previous = s.get("previous")
    rate = format_percent(s["failure_rate"], lang)
    compared = {"failed": "failed_attempts", "rate": "failure_rate",
                "failing_devices": "failing_devices"}
    rows = [
        [words["devices"], _num(s["devices"], lang)],
        [words["kms_hosts"], _num(s["kms_hosts"], lang)],
        [words["sites"], ", ".join(s["sites"]) or words["none"]],
        [words["attempts"], _num(s["attempts"], lang)],
        [words["failed"], _num(s["failed_attempts"], lang)],
        [words["rate"], rate],
        [words["failing_devices"], _num(s["failing_devices"], lang)],
        [words["incident_count"], _num(s["incidents"], lang)],
    ]
    header = ["", words["this_period"]]
    note = ""
    if previous:
        header += [words["previous"], words["change"]]
        for row, key in zip(rows, ("devices", "kms_hosts", "sites", "attempts", "failed", "rate",
                                   "failing_devices", "incident_count")):
            field = compared.get(key)
            if field is None:
                row += ["", ""]
                continue
            before = previous[field]
            shown = (format_percent(before, lang) if field == "failure_rate"
                     else _num(before, lang))
            row += [shown, _change(s[field], before, lang, rate=field == "failure_rate")]
        if not previous.get("complete", True):
            note = f'<p class="akb-muted">{text_html(words["partial_previous"])}</p>'
    else:
        note = f'<p class="akb-muted">{text_html(words["no_previous"])}</p>'
    return HTML(_table(rows, header) + note)


def _ranked(incidents: pd.DataFrame) -> list[dict[str, Any]]:
    """Incidents to act on first: ongoing ones, then by severity, devices and failures."""
    rank = {"critical": 3, "high": 2, "medium": 1, "low": 0}
    rows = incidents.to_dict(orient="records")
    return sorted(rows, key=lambda r: (r.get("status") != "ongoing",
                                       -rank.get(str(r.get("severity")), -1),
                                       -int(r.get("devices") or 0), -int(r.get("failures") or 0)))


def act_first(analysis: FleetAnalysis | pd.DataFrame, *, lang: str | None = None,
              top_n: int = 5) -> HTML:
    """Return the short "act first" list: ongoing incidents first, each with its first step.

    Parameters
    ----------
    analysis : FleetAnalysis or pandas.DataFrame
        The analysis, or :func:`~activation_kb.explain_spikes` output.
    lang : {"en", "fr"}, optional
        Default: the analysis' language, else English.
    top_n : int
        Incidents listed at most.

    Returns
    -------
    IPython.display.HTML
        An ordered list: status, incident id (a link to its detail), main code and category,
        the number of machines, where, and the first step of the article's resolution.
    """
    lang, _ = _settings(analysis, lang)
    incidents = analysis.incidents if isinstance(analysis, FleetAnalysis) else analysis
    words = _t(lang)
    title = f"<h2>{text_html(words['act_first'])}</h2>"
    if incidents.empty:
        return HTML(f"{title}<p>{text_html(words['no_action'])}</p>")
    items = []
    for inc in _ranked(incidents)[:top_n]:
        step = first_step(inc.get("resolution")) or words["not_in_article"]
        anchor_id = text_html(inc["incident_id"])
        items.append(
            f"<li>{_status(inc.get('status'), lang)[1]} "
            f'<a href="#{anchor_id}"><b>{anchor_id}</b></a> · {text_html(_what(inc))} '
            f"· {text_html(inc['scope'])}<br>"
            + text_html(words["act_line"].format(
                devices=plural(int(inc["devices"]), words["machine"], lang)))
            + f"{text_html(step)}</li>"
        )
    return HTML(f'{title}<ol class="akb-act">{"".join(items)}</ol>')


def _what(inc: dict[str, Any]) -> str:
    """Return what an incident is: its main code and category, or the title of a silence."""
    if inc.get("kind") == "went_silent":  # a site or KMS host that went silent has no code
        return str(inc["title"])
    return f"{inc['top_code']} — {inc['category_label']}"


@old_forms(positional=("lang", "tz"))
def incidents_table(incidents: pd.DataFrame | FleetAnalysis, *, lang: str | None = None,
                    tz: str | None = None) -> HTML:
    """Return the incidents table: id, status, severity, window, main code, devices, where.

    Cause and resolution are not repeated here: they are in each incident's detail
    (:func:`incident`), which the id links to.

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
        ident = text_html(inc["incident_id"])
        rows.append([
            ("html", f'<a href="#{ident}">{ident}</a>'), _status(inc.get("status"), lang),
            _severity(inc["severity"], lang),
            f"{_when(inc['start'], tz, lang)} → {_when(inc['end'], tz, lang)}",
            _what(inc), _num(inc["devices"], lang),
            _num(inc["failures"], lang), inc["scope"],
        ])
    header = [words[k] for k in ("id", "status", "severity", "window", "top_code", "devices",
                                 "failures", "scope")]
    return HTML(_table(rows, header))


@old_forms(positional=("lang", "tz"))
def incident(inc: Any, *, lang: str = "en", tz: str | None = None) -> HTML:
    """Return one incident's detail: its codes with the article's cause and resolution.

    The window, devices, severity and scope are in the incidents table and in the incident's
    figure; the card adds what they do not show: the first alarm, the devices with most
    failures, and the message, cause and resolution of each code (once).

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
    ident = text_html(inc["incident_id"])
    colon = "\u00a0:" if lang == "fr" else ":"
    head = (f'<h3 id="{ident}">{_status(inc.get("status"), lang)[1]} {ident}{colon} '
            f"{text_html(_what(inc))}</h3>")
    listed = list(inc.get("affected_devices") or [])
    more = int(inc["devices"]) - len(listed)
    facts = _table([
        [words["detected"], _when(inc.get("detected"), tz, lang)],
        [words["affected"], ", ".join(listed)
         + (" " + words["more_devices"].format(n=_num(more, lang)) if more > 0 else "")],
    ], ["", ""])
    codes = []
    for detail in inc["codes_detail"]:
        links = "".join(
            f"<li>{anchor(href, text_html(link.get('text') or href))}</li>"
            for link in detail.get("links", []) if (href := safe_href(link.get("url")))
        )
        flag = "" if detail["in_article"] else f" <em>({text_html(words['not_in_article'])})</em>"
        numbers = (f' <span class="akb-muted">· {_num(detail["failures"], lang)} '
                   f"{text_html(words['failures'].lower())}</span>")
        codes.append(
            f"<h4>{text_html(detail['code'])}{flag}{numbers}</h4>"
            f"<p><b>{text_html(words['message'])}{colon}</b> {text_html(detail['message'])}</p>"
            f"<p><b>{text_html(words['cause'])}{colon}</b></p>{markdown_html(detail['cause'])}"
            f"<p><b>{text_html(words['resolution'])}{colon}</b></p>"
            f"{markdown_html(detail['resolution']) or text_html(words['none'])}"
            + (f"<ul>{links}</ul>" if links else "")
        )
    if inc.get("kind") == "went_silent":  # no code: what fell, why it may have, what to check
        codes.append(
            f"<p><b>{text_html(words['message'])}{colon}</b> {text_html(inc['message'])}</p>"
            f"<p><b>{text_html(words['cause'])}{colon}</b></p>{markdown_html(inc['cause'])}"
            f"<p><b>{text_html(words['resolution'])}{colon}</b></p>"
            f"{markdown_html(inc['resolution'])}"
        )
    return HTML(
        f'<div class="akb-card akb-sev-{text_html(inc["severity"])}">{head}{facts}'
        f"{''.join(codes)}</div>"
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
    rows = [[r["code"], _num(r["failures"], lang), _num(r["devices"], lang), r["symbol"],
             r["message"], r["facility"], r["notes"]] for r in frame.to_dict(orient="records")]
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
        The input files, the files skipped because they are not exports (with the reason),
        rejected records by reason, records whose result code could not be read (with
        examples), devices that went silent and empty buckets.
    """
    lang, _ = _settings(analysis, lang)
    words, q = _t(lang), analysis.quality
    s = analysis.summary
    parts = [] if analysis.files else [_table([
        [words["records"], _num(s["records"], lang)],
        [words["rejected"], _num(s["rejected"], lang)],
        [words["duplicates"], _num(s["duplicates"], lang)]], ["", ""])]
    if analysis.files:
        parts.append(_table(
            [[f.get("path"), f.get("format"), _num(f.get("records") or 0, lang),
              _num(f.get("loaded") or 0, lang), _num(f.get("rejected") or 0, lang),
              _num(f.get("duplicates") or 0, lang)] for f in analysis.files],
            [words[k] for k in ("file", "format", "records", "loaded", "rejected",
                                "duplicates")],
        ))
    skipped = q.get("skipped_files") or []
    if skipped:
        parts.append("<p>" + text_html(words["skipped"].format(
            n=plural(len(skipped), words["file_noun"], lang))) + "</p>")
        parts.append(_table([[f["path"], f["reason"]] for f in skipped[:_SKIPPED_SHOWN]],
                            [words["file"], words["reason"]]))
        if len(skipped) > _SKIPPED_SHOWN:
            parts.append('<p class="akb-muted">' + text_html(words["and_more"].format(
                n=_num(len(skipped) - _SKIPPED_SHOWN, lang))) + "</p>")
    if q["rejected"]:
        parts.append(f"<h4>{text_html(words['reasons'])}</h4>")
        parts.append(_table([[k, _num(v, lang)] for k, v in q["rejected_by_reason"].items()],
                            [words["reason"], words["rejected"]]))
    else:
        parts.append(f"<p>{text_html(words['no_rejected'])}</p>")
    if q.get("unreadable_codes"):
        count = _num(q["unreadable_codes"], lang)
        parts.append(f"<p>{text_html(words['unreadable'].format(n=count))}</p>")
        parts.append(_table([[e["file"], e["record"], e["text"]]
                             for e in q.get("unreadable_code_examples", [])],
                            [words["file"], words["record"], words["text"]]))
    days = pd.Timedelta(q["silent_after"]).days
    if q["silent_devices"]:
        text = words["silent"].format(n=plural(q["silent_devices"], words["device_noun"], lang),
                                      days=days,
                                      examples=", ".join(q["silent_examples"]))
    else:
        text = words["no_silent"].format(days=days)
    parts.append(f"<p>{text_html(text)}</p>")
    parts.append("<p>" + text_html(words["empty_buckets"].format(
        n=_num(q["empty_buckets"], lang), total=_num(q["buckets"], lang),
        run=q["longest_gap_buckets"])) + "</p>")
    return HTML("".join(parts))
