"""Device search for the lookup widget: a machine's state, expiry, KMS host and last attempts.

Typing a device name (full or short, any case) or a CMID in the lookup widget shows that
machine: its status and licence state now, its projected expiry, its KMS host, and its last
attempts with the catalogue's resolution of each error. Everything from data is escaped; the
catalogue's markdown goes through :func:`~activation_kb.views.safe_html.markdown_html`.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import pandas as pd

from ..analysis.attempts import AttemptTable
from ..analysis.health import fleet_health
from ..analysis.incidents import catalogue_rows, code_text
from .safe_html import markdown_html

__all__ = ["DeviceIndex", "device_index", "device_html", "DEVICE_TEXT"]

_LAST_ATTEMPTS = 8  # attempts listed per device
_MIN_PREFIX = 3  # characters before a name prefix lists machines

DEVICE_TEXT = {
    "en": {
        "title": "Machine {device}",
        "status": "Status", "state": "Licence state", "expiry": "Projected expiry",
        "days": "{days} days", "kms": "KMS host", "site": "Site", "cmid": "CMID",
        "last": "Last record", "silent": "silent for {days} days", "source": "State from",
        "attempts": "Last attempts", "ok": "succeeded", "failed": "failed",
        "resolution": "Resolution", "none": "(none)", "more": "{n} machines match: {names}",
        "no_attempts": "No activation attempt on record.",
    },
    "fr": {
        "title": "Machine {device}",
        "status": "État", "state": "État de licence", "expiry": "Expiration prévue",
        "days": "{days} jours", "kms": "Hôte KMS", "site": "Site", "cmid": "CMID",
        "last": "Dernier enregistrement", "silent": "muette depuis {days} jours",
        "source": "État tiré de", "attempts": "Dernières tentatives", "ok": "réussie",
        "failed": "en échec", "resolution": "Résolution", "none": "(aucun)",
        "more": "{n} machines correspondent : {names}",
        "no_attempts": "Aucune tentative d'activation enregistrée.",
    },
}


@dataclass
class DeviceIndex:
    """The fleet's devices and their attempts, searchable by name or CMID.

    Attributes
    ----------
    health : pandas.DataFrame
        :func:`~activation_kb.fleet_health` of the telemetry.
    attempts : pandas.DataFrame
        :attr:`AttemptTable.attempts` (device: short lower-case name).
    errors : pandas.DataFrame
        :attr:`AttemptTable.errors`.
    """

    health: pd.DataFrame
    attempts: pd.DataFrame
    errors: pd.DataFrame

    def __post_init__(self) -> None:
        names = self.health["device"].astype(str).str.lower()
        self._full = pd.Series(self.health.index, index=names.to_numpy())
        self._short = pd.Series(self.health.index, index=names.str.split(".").str[0].to_numpy())
        self._cmid = pd.Series(self.health.index,
                               index=self.health["cmid"].astype(str).str.lower().to_numpy())

    def find(self, query: str) -> pd.DataFrame:
        """Return the machines ``query`` names: full or short name, CMID, or a name prefix.

        An exact name or CMID wins; otherwise machines whose name starts with the query (at
        least three characters) are listed, most urgent first.

        Parameters
        ----------
        query : str
            What was typed (any case, surrounding spaces and braces ignored).

        Returns
        -------
        pandas.DataFrame
            The matching rows of :attr:`health` (none, one, or several for a prefix).
        """
        text = query.strip().lower().strip("{}")
        if not text:
            return self.health.iloc[:0]
        for index in (self._full, self._cmid, self._short):
            if text in index.index:
                return self.health.loc[index.loc[[text]].to_numpy()]
        if len(text) < _MIN_PREFIX:
            return self.health.iloc[:0]
        hits = self._full.index.str.startswith(text)
        return self.health.loc[self._full.to_numpy()[hits]]


def device_index(events: pd.DataFrame | AttemptTable, table: AttemptTable | None = None
                 ) -> DeviceIndex:
    """Build the device search of the lookup widget from telemetry.

    Parameters
    ----------
    events : pandas.DataFrame or AttemptTable
        Canonical events frame (licence states known) or an attempt table.
    table : AttemptTable, optional
        Attempts already built from ``events`` (not built again).

    Returns
    -------
    DeviceIndex
    """
    if table is None:
        from ..analysis.attempts import activation_attempts

        table = events if isinstance(events, AttemptTable) else activation_attempts(events)
    health = fleet_health(events).reset_index(drop=True)
    return DeviceIndex(health=health, attempts=table.attempts, errors=table.errors)


def _when(value: object) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def device_html(index: DeviceIndex, query: str, lang: str = "en",
                catalogue: pd.DataFrame | None = None) -> str:
    """Return the HTML panel of the machine ``query`` names ("" when it names none).

    Parameters
    ----------
    index : DeviceIndex
        The fleet's devices (:func:`device_index`).
    query : str
        What was typed: a machine name (full or short) or a CMID.
    lang : {"en", "fr"}
        Language of the words and of the catalogue's resolutions.
    catalogue : pandas.DataFrame, optional
        A catalogue to take the resolutions from instead of the shipped one.

    Returns
    -------
    str
        Escaped HTML: the machine's facts and last attempts, or the list of machines a prefix
        matches.
    """
    found = index.find(query)
    if not len(found):
        return ""
    text = DEVICE_TEXT[lang]
    if len(found) > 1:
        names = ", ".join(found["device"].astype(str).head(12))
        more = " …" if len(found) > 12 else ""
        message = text["more"].format(n=len(found), names=names)
        return f'<div class="akb-device"><p>{escape(message)}{more}</p></div>'
    row = found.iloc[0]
    days = "" if pd.isna(row["days_left"]) else text["days"].format(days=round(row["days_left"]))
    silent = (text["silent"].format(days=row["silent_for"].days) if bool(row["silent"]) else "")
    facts = [
        (text["status"], f"{row['status']}: {row['reason']}" if row["reason"] else row["status"]),
        (text["state"], row["license_state"] if pd.notna(row["license_state"]) else text["none"]),
        (text["expiry"], f"{_when(row['projected_expiry'])} ({days})" if days else text["none"]),
        (text["kms"], row["kms_host"] or text["none"]),
        (text["site"], row["site"] or text["none"]),
        (text["cmid"], row["cmid"] or text["none"]),
        (text["last"], f"{_when(row['last_record'])} {silent}".strip()),
        (text["source"], row["state_source"] or text["none"]),
    ]
    items = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{escape(str(k))}</th>"
                    f"<td>{escape(str(v))}</td></tr>" for k, v in facts)
    return (f'<div class="akb-device"><h4 style="margin:0.6em 0 0.2em 0">'
            f'{escape(text["title"].format(device=row["device"]))}</h4><table>{items}</table>'
            + _attempts_html(index, str(row["device"]), lang, catalogue) + "</div>")


def _attempts_html(index: DeviceIndex, device: str, lang: str,
                   catalogue: pd.DataFrame | None) -> str:
    """Return the device's last attempts, each error with the catalogue's resolution."""
    text = DEVICE_TEXT[lang]
    short = device.lower().split(".")[0]  # attempts name machines without their domain
    mine = index.attempts[index.attempts["device"].astype(str) == short]
    if not len(mine):
        return f"<p>{escape(text['no_attempts'])}</p>"
    mine = mine.sort_values("time").tail(_LAST_ATTEMPTS).iloc[::-1]
    errors = index.errors[index.errors["attempt"].isin(mine["attempt"])]
    rows = catalogue_rows(lang, catalogue) if len(errors) else {}
    items = []
    for attempt in mine.itertuples(index=False):  # a handful of attempts
        codes = errors.loc[errors["attempt"] == attempt.attempt, "code"].astype(str).tolist()
        outcome = text["failed"] if attempt.failed else text["ok"]
        host = f" · {attempt.kms_host}" if str(attempt.kms_host) else ""
        line = f"{_when(attempt.time)}{host}: {outcome}"
        if codes:
            line += " (" + ", ".join(codes) + ")"
        fixes = []
        for code in codes:
            resolution = code_text(code, rows)["resolution"]
            if resolution:
                fixes.append(f"<div><strong>{escape(code)}</strong> · "
                             f"{escape(text['resolution'])}: {markdown_html(resolution)}</div>")
        items.append(f"<li>{escape(line)}{''.join(fixes)}</li>")
    return (f'<h5 style="margin:0.5em 0 0.2em 0">{escape(text["attempts"])}</h5>'
            f"<ul>{''.join(items)}</ul>")
