"""What the lookup widget reads: a code inside pasted event text, or words of either language.

An admin pastes what Event Viewer shows: the Info line of a 12288/12289 event
(``0xC004F074, 0x00000000, kms01.contoso.com:1688, ...``), the data of a KMS host's 12290, an
8198 (``hr=0x800704CF``) or 8233 (``Reason:0x8007232B``) message, or a sentence from a ticket
("slui says error 0xC004F074 since Monday"). :func:`code_in_text` finds the error code in it.
:func:`search_any_language` finds words in the catalogue of the language shown, then in the
other language's, and shows the matches in the language shown ("accès refusé" with the English
catalogue finds 0x80070005).
"""

from __future__ import annotations

import re

import pandas as pd

from ..catalogue.article import LANGUAGES, cached_catalogue
from ..catalogue.codes import code_value
from ..catalogue.search import lookup
from ..errors import InvalidCodeError

__all__ = ["code_in_text", "search_any_language"]

# a code after a label: hr=0x..., Reason:0x..., error code 0x..., code d'erreur : 0x...
_LABELLED = re.compile(
    r"(?:\bhr|\breason|\berror(?:\s+code)?|\bcode(?:\s+d[’']erreur)?|\berreur)\s*[=:#]?\s*"
    r"(0x[0-9a-f]{1,8}|-\d{9,10}|[0-9a-f]{8})\b", re.IGNORECASE)
_HEX = re.compile(r"(?<![\w-])0x([0-9a-f]{1,8})(?![\w-])", re.IGNORECASE)
# eight hex digits without 0x that read as a failure HRESULT (8xxxxxxx, Cxxxxxxx), not a GUID part
_BARE = re.compile(r"(?<![\w-])([8cC][0-9a-fA-F]{7})(?![\w-])")
_NEGATIVE = re.compile(r"(?<![\w.])(-\d{9,10})(?![\w.])")


def _canonical(token: str) -> int | None:
    try:
        return code_value(token if not re.fullmatch(r"[0-9a-fA-F]{8}", token) else "0x" + token)
    except InvalidCodeError:
        return None


def code_in_text(text: str) -> str | None:
    """Return the error code a pasted text carries, or None.

    A labelled code (``hr=``, ``Reason:``, "error code") wins; else the first failure code
    (high bit set: ``0x8...``, ``0xC...``) among the hexadecimal numbers, else the first
    non-zero one that is not a status flag of a 12288/12289 (second field); a negative decimal
    (``-1073418124``) counts too. A success (``0x00000000``) alone is no code.

    Parameters
    ----------
    text : str
        Anything pasted: an event's message or data, a log line, a sentence.

    Returns
    -------
    str or None
        The code as ``0xC004F074``.

    Examples
    --------
    >>> code_in_text("0xC004F074, 0x00000000, kms01.contoso.com:1688, 36f27b39-2fd5")
    '0xC004F074'
    >>> code_in_text("The rules engine reported a failed VL activation attempt. Reason:0x8007232B")
    '0x8007232B'
    >>> code_in_text("0x00000000, 0x00000000, 1, 0, 10, 120, 10080, 2012/12/04 07:06") is None
    True
    """
    if not isinstance(text, str) or not text.strip():
        return None
    for match in _LABELLED.finditer(text):
        value = _canonical(match.group(1))
        if value:
            return f"0x{value:08X}"
    values: list[int] = []
    for match in _HEX.finditer(text):
        value = _canonical("0x" + match.group(1))
        if value is not None:
            values.append(value)
    for pattern in (_BARE, _NEGATIVE):
        for match in pattern.finditer(text):
            value = _canonical(match.group(1))
            if value is not None:
                values.append(value)
    failures = [v for v in values if v & 0x80000000]
    if failures:
        return f"0x{failures[0]:08X}"
    return None


def search_any_language(query: str, lang: str, catalogue: pd.DataFrame | None = None,
                        ) -> pd.DataFrame:
    """Search words in ``lang``'s catalogue, then in the other language's; rows in ``lang``.

    Parameters
    ----------
    query : str
        Words.
    lang : {"en", "fr"}
        Language shown.
    catalogue : pandas.DataFrame, optional
        The catalogue shown (default the shipped one in ``lang``).

    Returns
    -------
    pandas.DataFrame
        Rows of the catalogue shown, best first (empty when no language matches).
    """
    rows = lookup(query, lang=lang, catalogue=catalogue)
    if len(rows):
        return rows
    shown = cached_catalogue(lang) if catalogue is None else catalogue
    for other in LANGUAGES:
        if other == lang:
            continue
        found = lookup(query, lang=other)
        if not len(found):
            continue
        order = {code: i for i, code in enumerate(found["code"])}
        mine = shown[shown["code"].isin(order)].copy()
        mine["score"] = mine["code"].map(dict(zip(found["code"], found["score"])))
        mine = mine.assign(_rank=mine["code"].map(order)).sort_values("_rank")
        return mine.drop(columns="_rank").reset_index(drop=True)
    return rows
