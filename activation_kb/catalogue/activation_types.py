"""Activation types of a catalogue row: MAK, KMS client, KMS host, read in any language.

:func:`normalize_activation_types` reads one cell; :func:`read_activation_types` also says
which parts of the cell named nothing known, so the parser can fall back to the English
article's types for that code.
"""

from __future__ import annotations

import re

from .markdown import clean_inline
from .vocabulary import to_activation_tokens

__all__ = ["ACTIVATION_TYPES", "normalize_activation_types", "read_activation_types"]

#: The normalized activation types, in the order they are listed.
ACTIVATION_TYPES: tuple[str, ...] = ("MAK", "KMS client", "KMS host")

# Separators between the types of one cell: line breaks (<br />), slashes, commas, semicolons,
# the ideographic comma and the middle dot.
_PARTS = re.compile(r"[\n/,;、，；・]")
_LETTER = re.compile(r"[^\W\d_]")


def normalize_activation_types(text: str) -> list[str]:
    """Return the activation types a cell names, in :data:`ACTIVATION_TYPES` order.

    ``MAK`` (or "Multiple Activation Key" in any language the article exists in) names MAK. A
    client word (client, Client, cliente, клиент, クライアント, ...) names "KMS client", a host
    word (host, hôte, узел, ホスト, 主機, a KMS "server", ...) "KMS host". A bare ``KMS`` (or
    "Key Management Service": Italian ``Servizio di gestione delle chiavi``, Russian ``Сервер
    управления ключами``, ...) that no client or host word claims means the KMS host key (the
    English cell "KMS" of 0xC004C008, the French "Service de gestion de clés (KMS)"), so
    ``"KMS, KMS client, MAK"`` gives all three types and ``"Client une clé MAK/KMS"`` (French
    machine translation of "MAK/KMS client") gives MAK and KMS client.

    Parameters
    ----------
    text : str
        The cell as written, with any separators (``/``, ``,``, ``<br />``).

    Returns
    -------
    list of str
        A sub-list of ``["MAK", "KMS client", "KMS host"]``; empty when the cell names none.

    Examples
    --------
    >>> normalize_activation_types("Codice ad attivazione multipla<br />Client KMS")
    ['MAK', 'KMS client']
    >>> normalize_activation_types("Сервер управления ключами")
    ['KMS host']
    """
    return read_activation_types(text)[0]


def read_activation_types(text: str) -> tuple[list[str], list[str]]:
    """Return the types a cell names and the parts of it that name none.

    Returns
    -------
    (list of str, list of str)
        The types, as :func:`normalize_activation_types`; the separated parts of the cell
        (split at line breaks, ``/``, ``,``, ``;``) that hold words but name no type.
    """
    text = clean_inline(text)
    mak, kms, clients, hosts = to_activation_tokens(text)
    found = {
        "MAK": mak > 0,
        "KMS client": clients > 0,
        "KMS host": hosts > 0 or kms > clients + hosts,
    }
    unknown = [
        part.strip()
        for part in _PARTS.split(text)
        if _LETTER.search(part) and not any(to_activation_tokens(part))
    ]
    return [name for name in ACTIVATION_TYPES if found[name]], unknown
