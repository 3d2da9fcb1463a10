"""Numbers, percentages, dates, plurals and dimension names as English or French readers write.

One place for what changes with the language besides words: ``46,526`` / ``46 526``, ``38.4%`` /
``38,4 %``, ``2026-01-11 09:00`` / ``11/01/2026 09:00``, ``1 entry`` / ``2 entries``, and the names
of the dimensions an incident is explained by (``kms_host`` is "KMS host" / "hôte KMS"). The
analysis writes its scope text with it and every view formats with it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = [
    "DIMENSION_LABELS",
    "VALUE_LABELS",
    "dimension_label",
    "format_count",
    "format_date",
    "format_number",
    "format_percent",
    "plural",
    "value_label",
]

_NNBSP = "\u202f"  # French thousands separator and space before %

#: Display names of the dimensions (columns of the attempt table) by language.
DIMENSION_LABELS: dict[str, dict[str, str]] = {
    "en": {"site": "site", "kms_host": "KMS host", "edition": "edition", "sku_id": "SKU",
           "role": "role", "trigger": "trigger", "activation_method": "activation method",
           "device": "device", "code": "code", "category": "category"},
    "fr": {"site": "site", "kms_host": "hôte KMS", "edition": "édition", "sku_id": "référence SKU",
           "role": "rôle", "trigger": "déclencheur", "activation_method": "méthode d’activation",
           "device": "appareil", "code": "code", "category": "catégorie"},
}
#: Display names of the fixed dimension values (free values such as site names stay as they are).
VALUE_LABELS: dict[str, dict[tuple[str, str], str]] = {
    "en": {("edition", "client"): "client (threshold 25)",
           ("edition", "server"): "server (threshold 5)",
           ("role", "client"): "KMS client", ("role", "kms_host"): "KMS host",
           ("activation_method", "unknown"): "unknown"},
    "fr": {("edition", "client"): "poste de travail (seuil 25)",
           ("edition", "server"): "serveur (seuil 5)",
           ("role", "client"): "client KMS", ("role", "kms_host"): "hôte KMS",
           ("activation_method", "unknown"): "inconnue",
           ("activation_method", "Retail"): "commerce (Retail)",
           ("activation_method", "Token"): "jeton (Token)"},
}


def dimension_label(name: str, lang: str) -> str:
    """Return the display name of a dimension (its own name when unknown)."""
    return DIMENSION_LABELS.get(lang, {}).get(name, name)


def value_label(dimension: str, value: object, lang: str) -> str:
    """Return the display text of a dimension's value (fixed values translated)."""
    return VALUE_LABELS.get(lang, {}).get((dimension, str(value)), str(value))


def format_number(value: float, lang: str, digits: int = 0) -> str:
    r"""Return a number with the thousands and decimal separators of ``lang``.

    Examples
    --------
    >>> format_number(46526, "fr"), format_number(3.25, "fr", 1)
    ('46\u202f526', '3,2')
    """
    text = f"{value:,.{digits}f}"
    if lang == "fr":
        text = text.replace(",", _NNBSP).replace(".", ",")
    return text


def format_count(value: int, lang: str) -> str:
    """Return a whole number with ``lang``'s thousands separator."""
    return format_number(int(value), lang)


def format_percent(share: float, lang: str, digits: int = 1) -> str:
    r"""Return a share (0.384) as ``38.4%`` or ``38,4 %``.

    Examples
    --------
    >>> format_percent(0.384, "en"), format_percent(0.384, "fr"), format_percent(0.5, "fr", 0)
    ('38.4%', '38,4\u202f%', '50\u202f%')
    """
    text = format_number(100 * float(share), lang, digits)
    return f"{text}{_NNBSP}%" if lang == "fr" else f"{text}%"


def format_date(value: Any, lang: str, tz: str | None = None, time: bool = True) -> str:
    """Return a time as ``2026-01-11 09:00`` (en) or ``11/01/2026 09:00`` (fr); "" for none."""
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return ""
    stamp = pd.Timestamp(value)
    if tz and stamp.tzinfo is not None:
        stamp = stamp.tz_convert(tz)
    day = "%d/%m/%Y" if lang == "fr" else "%Y-%m-%d"
    return stamp.strftime(f"{day} %H:%M" if time else day)


_PLURALS = {
    "en": {"entry": "entries", "device": "devices", "incident": "incidents", "host": "hosts",
           "code": "codes", "failed attempt": "failed attempts", "machine": "machines",
           "result": "results", "record": "records", "input file": "input files"},
    "fr": {"entrée": "entrées", "appareil": "appareils", "incident": "incidents",
           "hôte": "hôtes", "code": "codes", "tentative en échec": "tentatives en échec",
           "machine": "machines", "résultat": "résultats", "enregistrement": "enregistrements",
           "fichier d’entrée": "fichiers d’entrée"},
}


def plural(count: int, singular: str, lang: str) -> str:
    """Return ``count`` and the noun, plural when needed: French counts 0 and 1 as singular.

    Examples
    --------
    >>> plural(1, "entrée", "fr"), plural(0, "entrée", "fr"), plural(0, "entry", "en")
    ('1 entrée', '0 entrée', '0 entries')
    """
    one = count in (0, 1) if lang == "fr" else count == 1
    noun = singular if one else _PLURALS.get(lang, {}).get(singular, singular + "s")
    return f"{format_count(count, lang)} {noun}"
