"""HTML for the lookup widget: catalogue entries, decoded codes and a code's activity in telemetry.

Everything taken from data (catalogue text, links, host names, decoded messages) is escaped here,
and nothing else builds the widget's HTML: catalogue markdown and links go through
:mod:`activation_kb.views.safe_html` (raw HTML escaped, http(s) links only, images as their text).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import pandas as pd

from ..analysis.attempts import AttemptTable, activation_attempts
from ..analysis.frequency import error_frequency
from ..catalogue.hresult import CodeDescription
from ..l10n import format_count, format_date
from .safe_html import anchor, markdown_html, safe_href

__all__ = [
    "TEXT",
    "CodeActivity",
    "activity_html",
    "code_activity",
    "description_html",
    "entry_html",
    "hosts_html",
    "markdown_html",
    "safe_href",
]


#: Words of the widget in each language.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "query": "Code or words",
        "placeholder": "A code, pasted event text, or words (DNS time)",
        "entry": "entry",
        "category": "Category",
        "type": "Activation type",
        "all": "All",
        "results": "Entries",
        "message": "Message",
        "cause": "Cause",
        "resolution": "Resolution",
        "links": "Links",
        "types": "Activation types",
        "notes": "Notes",
        "count": "{n} of {total} entries",
        "count_filtered": "{n} of {total} entries (filters applied)",
        "none": "No entry of the article matches.",
        "invalid": "Not a valid code yet: {query}",
        "not_in_article": "{code} is a valid code, but it is not in the article "
        "“Troubleshoot activation error codes”.",
        "not_in_catalogue": "{code} is in the article, but not in the catalogue given to "
        "this widget.",
        "decoded": "Decoded from the code",
        "severity": "Severity",
        "facility": "Facility",
        "win32": "Win32 error",
        "symbol": "Symbol",
        "sdk_message": "SDK message",
        "unknown": "unknown",
        "english_only": "The translation lacks this entry: English text.",
        "activity": "In the telemetry",
        "no_activity": "No failed activation attempt with {code} in the telemetry "
        "({devices} devices reported).",
        "failures": "{failures} failed attempts with {code} from {first} to {last}; busiest "
        "{bucket}: {peak_time} ({peak}).",
        "devices": "Devices affected: {n} of {devices}",
        "hosts": "Hosts affected",
        "more": "… and {n} more",
        "host": "Host",
        "failed_attempts": "Failed attempts",
        "top_hosts": "{shown} of {n} hosts, most failures first",
        "all_hosts": "Show all {n} hosts",
        "bucket_h": "hour",
        "bucket_D": "day",
        "bucket_W": "week",
    },
    "fr": {
        "query": "Code ou mots",
        "placeholder": "Un code, un texte d’événement ou des mots (DNS horloge)",
        "entry": "entrée",
        "category": "Catégorie",
        "type": "Type d’activation",
        "all": "Toutes",
        "results": "Entrées",
        "message": "Message",
        "cause": "Cause",
        "resolution": "Résolution",
        "links": "Liens",
        "types": "Types d’activation",
        "notes": "Remarques",
        "count": "{entries} sur {total}",
        "count_filtered": "{entries} sur {total} (filtres appliqués)",
        "none": "Aucune entrée de l’article ne correspond.",
        "invalid": "Pas encore un code valide : {query}",
        "not_in_article": "{code} est un code valide, mais l’article « Résoudre les codes "
        "d’erreur d’activation » ne le mentionne pas.",
        "not_in_catalogue": "{code} figure dans l’article, mais pas dans le catalogue donné à "
        "ce widget.",
        "decoded": "Décodé à partir du code",
        "severity": "Gravité",
        "facility": "Composant (facility)",
        "win32": "Erreur Win32",
        "symbol": "Symbole",
        "sdk_message": "Message du SDK",
        "unknown": "inconnu",
        "english_only": "La traduction n’a pas cette entrée : texte anglais.",
        "activity": "Dans la télémétrie",
        "no_activity": "Aucune tentative d’activation en échec avec {code} dans la télémétrie "
        "({devices} appareils).",
        "failures": "{failures} tentatives en échec avec {code} du {first} au {last} ; "
        "{bucket} la plus chargée : {peak_time} ({peak}).",
        "devices": "Appareils touchés : {n} sur {devices}",
        "hosts": "Hôtes touchés",
        "more": "… et {n} de plus",
        "host": "Hôte",
        "failed_attempts": "Tentatives en échec",
        "top_hosts": "{shown} hôtes sur {n}, les plus en échec d’abord",
        "all_hosts": "Voir les {n} hôtes",
        "bucket_h": "heure",
        "bucket_D": "journée",
        "bucket_W": "semaine",
    },
}

_TYPE_LABELS = {"fr": {"KMS client": "Client KMS", "KMS host": "Hôte KMS"}}


def type_label(activation_type: str, lang: str) -> str:
    """Return the label of an activation type ("KMS client" is "Client KMS" in French)."""
    return _TYPE_LABELS.get(lang, {}).get(activation_type, activation_type)


def _section(css: str, title: str, body_html: str) -> str:
    return (
        f'<div class="akb-{css}"><h4 style="margin:0.6em 0 0.2em 0">{escape(title)}</h4>'
        f"{body_html}</div>"
    )


def _links_html(links: object) -> str:
    items = []
    for link in links if isinstance(links, (list, tuple)) else []:
        if not isinstance(link, dict):
            continue
        href = safe_href(link.get("url"))
        text = escape(str(link.get("text") or link.get("url") or ""))
        items.append(f"<li>{text if href is None else anchor(href, text)}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _notes_html(notes: tuple[str, ...] | list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(note)}</li>" for note in notes) + "</ul>"


def entry_html(row: pd.Series, lang: str, notes: tuple[str, ...] = ()) -> str:
    """Return one catalogue entry as HTML: code, category, message, cause, resolution, links.

    Parameters
    ----------
    row : pandas.Series
        A catalogue row (columns of :data:`~activation_kb.catalogue.CATALOGUE_COLUMNS`).
    lang : {"en", "fr"}
        Language of the headings.
    notes : tuple of str
        Known defects of the sources about this code (:attr:`CodeDescription.notes`).
    """
    text = TEXT[lang]
    types = ", ".join(type_label(t, lang) for t in row.get("activation_types", []) or [])
    head = (
        f'<div class="akb-entry"><h3 class="akb-code" style="margin:0.2em 0">'
        f"{escape(str(row['code']))}</h3>"
        f'<div class="akb-meta">{escape(str(row.get("category_label", "")))}'
        f" · {escape(text['types'])}: {escape(types)}</div>"
    )
    parts = [head]
    if row.get("lang", lang) != lang:
        parts.append(f'<p class="akb-lang-note"><em>{escape(text["english_only"])}</em></p>')
    parts.append(_section("message", text["message"], f"<p>{escape(str(row['message']))}</p>"))
    parts.append(_section("cause", text["cause"], markdown_html(row["cause"])))
    parts.append(_section("resolution", text["resolution"], markdown_html(row["resolution"])))
    links = _links_html(row.get("links"))
    if links:
        parts.append(_section("links", text["links"], links))
    if notes:
        parts.append(_section("notes", text["notes"], _notes_html(notes)))
    parts.append("</div>")
    return "".join(parts)


def description_html(description: CodeDescription, lang: str) -> str:
    """Return a code that the article does not document, decoded by :func:`describe_code`."""
    text = TEXT[lang]
    facility = f"{description.facility} ({description.facility_name or text['unknown']})"
    rows = [
        (text["severity"], description.severity),
        (text["facility"], facility),
        ("Code", f"0x{description.code_number:04X} ({description.code_number})"),
    ]
    if description.win32_error is not None:
        name = description.win32_name or text["unknown"]
        rows.append((text["win32"], f"{description.win32_error} {name}"))
    if description.symbol:
        rows.append((text["symbol"], description.symbol))
    if description.message:
        rows.append((text["sdk_message"], description.message))
    table = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{escape(k)}</th>"
        f"<td>{escape(str(v))}</td></tr>"
        for k, v in rows
    )
    notes = (
        _section("notes", text["notes"], _notes_html(description.notes))
        if description.notes
        else ""
    )
    key = "not_in_catalogue" if description.in_article else "not_in_article"
    missing = text[key].format(code=description.code)
    return (
        f'<div class="akb-described"><h3 class="akb-code" style="margin:0.2em 0">'
        f"{escape(description.code)}</h3>"
        f'<p class="akb-not-in-article">{escape(missing)}</p>'
        + _section("decoded", text["decoded"], f"<table>{table}</table>")
        + notes
        + "</div>"
    )


@dataclass(frozen=True)
class CodeActivity:
    """Failed attempts per code over time, built once from the telemetry given to the widget.

    Attributes
    ----------
    frequency : pandas.DataFrame
        :func:`~activation_kb.error_frequency` by code (``time``, ``code``, ``value`` ...).
    errors : pandas.DataFrame
        :attr:`AttemptTable.errors`: one row per failed attempt and code, with its ``device``.
    devices : int
        Devices that made at least one attempt.
    freq : str
        Bucket size of ``frequency``: "h", "D" or "W", from the span of the telemetry.
    """

    frequency: pd.DataFrame
    errors: pd.DataFrame
    devices: int
    freq: str


def code_activity(events: pd.DataFrame | AttemptTable) -> CodeActivity:
    """Count failed attempts per code and time bucket; the bucket size follows the span.

    Parameters
    ----------
    events : pandas.DataFrame or AttemptTable
        Canonical events frame, or attempts already built from it.
    """
    table = events if isinstance(events, AttemptTable) else activation_attempts(events)
    times = table.attempts["time"]
    span = times.max() - times.min() if len(times) else pd.Timedelta(0)
    freq = "h" if span <= pd.Timedelta(days=3) else "D" if span <= pd.Timedelta(days=120) else "W"
    frequency = error_frequency(table, freq=freq, by="code", measure="events")
    return CodeActivity(frequency, table.errors, table.devices, freq)


def _time_text(time: pd.Timestamp, freq: str, lang: str = "en") -> str:
    return format_date(time, lang, time=freq == "h")


def _sparkline(series: pd.DataFrame, freq: str) -> str:
    """Draw ``value`` over ``time`` as inline SVG bars: no script, no request, any frontend."""
    width, height, top = 480, 64, 14
    n = len(series)
    peak = float(series["value"].max()) or 1.0
    step = width / max(n, 1)
    bars = []
    for i, (time, value) in enumerate(zip(series["time"], series["value"], strict=True)):
        h = (height - top) * float(value) / peak
        label = escape(f"{_time_text(time, freq)}: {int(value)}")
        bars.append(
            f'<rect x="{i * step:.2f}" y="{height - h:.2f}" width="{max(step - 1, 1):.2f}" '
            f'height="{h:.2f}" fill="#d62728"><title>{label}</title></rect>'
        )
    first, last = (
        _time_text(series["time"].iloc[0], freq),
        _time_text(series["time"].iloc[-1], freq),
    )
    return (
        f'<svg class="akb-sparkline" role="img" width="{width}" height="{height + 16}" '
        f'viewBox="0 0 {width} {height + 16}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="0" y="10" font-size="10">{int(peak)}</text>'
        f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#888"/>'
        + "".join(bars)
        + f'<text x="0" y="{height + 13}" font-size="10">{escape(first)}</text>'
        f'<text x="{width}" y="{height + 13}" font-size="10" text-anchor="end">'
        f"{escape(last)}</text></svg>"
    )


_TOP_HOSTS = 10
_CELL = "padding:1px 8px;border-bottom:1px solid #e4e4e8;text-align:"


def _hosts_table(hosts: pd.Series, lang: str) -> str:
    text = TEXT[lang]
    rows = "".join(
        f'<tr><td style="{_CELL}left">{escape(str(name))}</td>'
        f'<td style="{_CELL}right">{format_count(int(count), lang)}</td></tr>'
        for name, count in hosts.items()
    )
    return (f'<table class="akb-hosts-table" style="border-collapse:collapse;font-size:0.92em">'
            f'<thead><tr><th style="{_CELL}left">{escape(text["host"])}</th>'
            f'<th style="{_CELL}right">{escape(text["failed_attempts"])}</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def hosts_html(hosts: pd.Series, lang: str) -> str:
    """Return the hosts affected: a compact table of the top 10, the count, and all on demand.

    ``hosts`` maps host name to failed attempts, most first. Beyond ten hosts, a
    ``<details>`` element ("Show all 40 hosts") opens the whole list in its own scrolling box,
    so the widget stays short.
    """
    text = TEXT[lang]
    top = hosts.head(_TOP_HOSTS)
    caption = text["top_hosts"].format(shown=len(top), n=len(hosts))
    html = (f'<div class="akb-hosts"><strong>{escape(text["hosts"])}</strong> '
            f'<span style="color:#666">({escape(caption)})</span>{_hosts_table(top, lang)}')
    if len(hosts) > _TOP_HOSTS:
        html += (f'<details class="akb-hosts-more"><summary>'
                 f'{escape(text["all_hosts"].format(n=len(hosts)))}</summary>'
                 f'<div class="akb-hosts-all" style="max-height:14em;overflow:auto">'
                 f"{_hosts_table(hosts, lang)}</div></details>")
    return html + "</div>"


def activity_html(activity: CodeActivity, code: str, lang: str) -> str:
    """Return ``code``'s failures over time, the devices affected and their names, as HTML."""
    text = TEXT[lang]
    series = activity.frequency[activity.frequency["code"] == code]
    failures = int(series["failures"].sum()) if len(series) else 0
    if failures == 0:
        message = text["no_activity"].format(code=code,
                                             devices=format_count(activity.devices, lang))
        return _section("activity", text["activity"], f"<p>{escape(message)}</p>")
    peak_row = series.loc[series["value"].idxmax()]
    summary = text["failures"].format(
        failures=format_count(failures, lang),
        code=code,
        first=_time_text(series["time"].iloc[0], activity.freq, lang),
        last=_time_text(series["time"].iloc[-1], activity.freq, lang),
        bucket=text[f"bucket_{activity.freq}"],
        peak_time=_time_text(peak_row["time"], activity.freq, lang),
        peak=format_count(int(peak_row["value"]), lang),
    )
    hosts = activity.errors.loc[activity.errors["code"] == code, "device"].value_counts()
    hosts = hosts[hosts > 0]  # device is categorical: its other values count 0
    hosts = hosts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    devices = text["devices"].format(n=format_count(len(hosts), lang),
                                     devices=format_count(activity.devices, lang))
    body = (
        f'<p class="akb-activity-summary">{escape(summary)}</p>'
        + _sparkline(series, activity.freq)
        + f'<p class="akb-devices">{escape(devices)}</p>'
        + hosts_html(hosts, lang)
    )
    return _section("activity", text["activity"], body)
