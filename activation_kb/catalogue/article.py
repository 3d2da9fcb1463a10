"""The error-code catalogue: Microsoft's "Troubleshoot activation error codes" article as a frame.

:func:`parse_catalogue` reads any revision or translation of the article (one row per code);
:func:`load_catalogue` returns the shipped English or French catalogue.
"""

from __future__ import annotations

import re
from functools import cache

import pandas as pd

from ..errors import CatalogueParseError
from ..params import LANGUAGES, check_lang
from ..resources import data_path
from .categories import category_label, category_of
from .codes import CODE_IN_TEXT, code_value
from .markdown import Article, Table, clean_inline, code_of_cell, links_in, read_article

__all__ = [
    "ACTIVATION_TYPES",
    "CATALOGUE_COLUMNS",
    "LANGUAGES",
    "SHIPPED_FILES",
    "cached_catalogue",
    "check_language",
    "load_catalogue",
    "normalize_activation_types",
    "parse_catalogue",
]

#: Columns of a catalogue frame, in order.
CATALOGUE_COLUMNS: tuple[str, ...] = (
    "code",
    "value",
    "message",
    "activation_types",
    "activation_type_text",
    "cause",
    "resolution",
    "links",
    "category",
    "category_label",
    "lang",
    "source",
    "details",
)

#: The normalized activation types, in the order they are listed.
ACTIVATION_TYPES: tuple[str, ...] = ("MAK", "KMS client", "KMS host")

#: The shipped revision of the article for each language (paths under ``data/``).
SHIPPED_FILES: dict[str, str] = {
    "en": "catalogue/en-us_activation-error-codes_2019-03-21.md",
    "fr": "catalogue/fr-fr_activation-error-codes_2019-03-21.md",
}

_LOCALE_KEYS = ("ms.contentlocale", "ms.locale", "locale", "lang", "language")
_LEARN = "https://learn.microsoft.com"

# Words that mark the client or the host side of KMS in the article's translations. MAK and KMS
# are never translated; "client" and "host" are (the French seed says "Client KMS", "Hôte KMS").
_MAK = re.compile(r"\bMAK\b", re.I)
_KMS = re.compile(r"\bKMS\b", re.I)
_CLIENT = re.compile(
    r"\b(?:client|klient|kliens|istemci)\w*|\bклиент\w*|クライアント|客户端|客戶端|用戶端|클라이언트",
    re.I,
)
_HOST = re.compile(
    r"\b(?:host|h[ôo]te|anfitri[oó]n|gazdag[ée]p)\w*|\bхост\w*|ホスト|主机|主機|호스트", re.I
)


def check_language(lang: object) -> str:
    """Return ``lang`` when it is a shipped catalogue language (same as ``params.check_lang``).

    Parameters
    ----------
    lang : str
        "en" or "fr".

    Returns
    -------
    str

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not one of :data:`LANGUAGES`.
    """
    return check_lang(lang)


def normalize_activation_types(text: str) -> list[str]:
    """Return the activation types a cell names, in :data:`ACTIVATION_TYPES` order.

    ``MAK`` names MAK. A client word (client, Client, cliente, ...) names "KMS client", a host word
    (host, hôte, ...) "KMS host". A bare ``KMS`` that no client or host word claims means the KMS
    host key (the English cell "KMS" of 0xC004C008, the French "Service de gestion de clés (KMS)"),
    so ``"KMS, KMS client, MAK"`` gives all three types and ``"Client une clé MAK/KMS"`` (French
    machine translation of "MAK/KMS client") gives MAK and KMS client.

    Parameters
    ----------
    text : str
        The cell as written, with any separators (``/``, ``,``, ``<br />``).

    Returns
    -------
    list of str
        A sub-list of ``["MAK", "KMS client", "KMS host"]``; empty when the cell names none.
    """
    text = clean_inline(text)
    clients = len(_CLIENT.findall(text))
    hosts = len(_HOST.findall(text))
    found = {
        "MAK": _MAK.search(text) is not None,
        "KMS client": clients > 0,
        "KMS host": hosts > 0 or len(_KMS.findall(text)) > clients + hosts,
    }
    return [name for name in ACTIVATION_TYPES if found[name]]


def parse_catalogue(text: str, source: str = "<text>", lang: str | None = None) -> pd.DataFrame:
    """Parse one revision or translation of the activation error-code article.

    The parser reads the article's structure, never its words: a table is any markdown table
    with a column of error codes (found by pattern, in any spelling such as ``0 x 80070005`` or
    ``0x8007007b``); the columns after the code are, by position, message, activation type and,
    in the one-table layout, cause and resolution. In the layouts with a summary table, each code
    has a section whose heading holds the code (anchors are ignored); its first sub-heading or
    ``**Label:**`` line opens the cause, the next one the resolution, and text before them (the
    full error text) goes to ``details``. HTML comments are removed, entities decoded, layout tags
    turned into markdown; placeholders such as ``<kms_host_name>`` stay as text.

    Parameters
    ----------
    text : str
        The markdown of the article, front matter included.
    source : str, default "<text>"
        Name used in error messages and stored in the ``source`` column (e.g. the file name).
    lang : str, optional
        Language of the text. By default it is read from the front matter (``ms.contentlocale``
        or ``locale``, e.g. ``fr-FR`` gives ``"fr"``); ``"en"`` when the front matter has none,
        as in Microsoft's English originals.

    Returns
    -------
    pandas.DataFrame
        One row per code, in the article's table order, with :data:`CATALOGUE_COLUMNS`:
        ``code`` (``0xC004F074``), ``value`` (uint32), ``message`` (the code itself removed when
        the cell repeats it), ``activation_types`` (list, see
        :func:`normalize_activation_types`), ``activation_type_text`` (the cell as written),
        ``cause`` and ``resolution`` (markdown), ``links`` (list of ``{"text", "url"}``;
        site-relative URLs made absolute on learn.microsoft.com), ``category``,
        ``category_label`` (French when ``lang`` is "fr", else English), ``lang``, ``source``,
        ``details`` (section text before the cause; empty for the one-table layout).

    Raises
    ------
    CatalogueParseError
        When the text has no table of error codes (it is not this article), or a row, cell or
        section cannot be read; the message names the source, the line and what was expected.
    """
    if not isinstance(text, str):
        raise CatalogueParseError(
            f"{source}: expected the article's text, not {type(text).__name__}"
        )
    article = read_article(text, source)
    if lang is None:
        lang = _language(article)
    sections = {section.code: section for section in article.sections}
    rows = []
    for entry in _table_entries(article, source):
        code, line = entry["code"], entry.pop("line")
        section = sections.pop(code, None)
        if section is not None:
            entry.update(cause=section.cause, resolution=section.resolution, details=section.intro)
        elif "cause" not in entry:
            raise CatalogueParseError(
                f"{source}: line {line}: {code} is in a table with code, message and activation "
                f"type only, but no section heading names {code} (expected a heading such as "
                f"'## {code} ...' with its cause and resolution)"
            )
        for column in ("message", "cause", "resolution"):
            if not entry[column]:
                raise CatalogueParseError(f"{source}: line {line}: {code} has an empty {column}")
        rows.append(_row(entry, lang, source))
    if sections:
        orphan = min(sections.values(), key=lambda s: s.line)
        raise CatalogueParseError(
            f"{source}: line {orphan.line}: the section for {orphan.code} has no row in the "
            f"table of codes (expected a table row with {orphan.code}, its message and activation "
            f"type)"
        )
    frame = pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS))
    return frame.astype({"value": "uint32"})


def load_catalogue(lang: str = "en") -> pd.DataFrame:
    """Return the shipped catalogue: 30 codes of the activation error-code article.

    ``"en"`` is the English revision of 2019-03-21; ``"fr"`` is the French seed (machine
    translation, 29 codes) plus 0x80070490, which the seed lacks, taken from the English revision
    with ``"en"`` in its ``lang`` column. Parsed once per language and cached; every call returns
    an independent copy (lists and dicts included) that the caller may change.

    Parameters
    ----------
    lang : {"en", "fr"}, default "en"

    Returns
    -------
    pandas.DataFrame
        See :func:`parse_catalogue` for the columns; ``source`` holds the shipped file name.

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not "en" or "fr".

    Examples
    --------
    >>> load_catalogue("fr").set_index("code").loc["0x80070490", "lang"]
    'en'
    """
    frame = cached_catalogue(lang).copy()
    frame["activation_types"] = [list(types) for types in frame["activation_types"]]
    frame["links"] = [[dict(link) for link in links] for links in frame["links"]]
    return frame


def cached_catalogue(lang: str = "en") -> pd.DataFrame:
    """Return the cached shipped catalogue itself, for the package's readers; never mutate it."""
    return _cached(check_language(lang))


@cache
def _cached(lang: str) -> pd.DataFrame:
    english = _parse_shipped("en")
    if lang == "en":
        return english
    french = _parse_shipped("fr")
    missing = english[~english["code"].isin(french["code"])]
    labels = [category_label(c, lang=lang) for c in missing["category"]]
    missing = missing.assign(category_label=labels)
    return pd.concat([french, missing], ignore_index=True)


def _parse_shipped(lang: str) -> pd.DataFrame:
    path = data_path(SHIPPED_FILES[lang])
    return parse_catalogue(path.read_text(encoding="utf-8"), source=path.name, lang=lang)


def _language(article: Article) -> str:
    for key in _LOCALE_KEYS:
        value = article.front_matter.get(key, "").strip()
        if value:
            return re.split(r"[-_]", value)[0].lower()
    return "en"


def _code_column(table: Table) -> int | None:
    """Return the column where most rows hold a code, when at least half of them do."""
    counts = [0] * table.ncols
    for _, cells in table.rows:
        for column, cell in enumerate(cells[: table.ncols]):
            counts[column] += code_of_cell(cell) is not None
    best = max(range(table.ncols), key=counts.__getitem__)
    return best if counts[best] and 2 * counts[best] >= len(table.rows) else None


def _table_entries(article: Article, source: str) -> list[dict]:
    entries: list[dict] = []
    seen: dict[str, int] = {}
    for table in article.tables:
        column = _code_column(table)
        if column is None:
            continue
        width = table.ncols - column
        if width not in (3, 5):
            raise CatalogueParseError(
                f"{source}: line {table.line}: the table of codes has {width} columns from the "
                f"code column on; expected 3 (code, message, activation type) or 5 (code, "
                f"message, activation type, cause, resolution)"
            )
        for line, cells in table.rows:
            entry = _table_entry(line, cells, table, column, source)
            if entry["code"] in seen:
                raise CatalogueParseError(
                    f"{source}: line {line}: {entry['code']} is listed twice (also on line "
                    f"{seen[entry['code']]})"
                )
            seen[entry["code"]] = line
            entries.append(entry)
    if not entries:
        raise CatalogueParseError(
            f"{source}: no table with a column of error codes; expected Microsoft's article "
            f"'Troubleshoot activation error codes' (any revision or translation), whose table "
            f"rows start with codes such as 0xC004F074"
        )
    return entries


def _table_entry(line: int, cells: list[str], table: Table, column: int, source: str) -> dict:
    if len(cells) != table.ncols:
        raise CatalogueParseError(
            f"{source}: line {line}: table row has {len(cells)} cells, expected {table.ncols} "
            f"like the header on line {table.line}"
        )
    code = code_of_cell(cells[column])
    if code is None:
        raise CatalogueParseError(
            f"{source}: line {line}: column {column + 1} should hold an error code such as "
            f"0xC004F074, found {cells[column]!r}"
        )
    type_text = cells[column + 2]
    types = normalize_activation_types(type_text)
    if not types:
        raise CatalogueParseError(
            f"{source}: line {line}: the activation type {type_text!r} of {code} names none of "
            f"{', '.join(ACTIVATION_TYPES)}"
        )
    entry = {
        "line": line,
        "code": code,
        "message": _without_code(_cell_text(cells[column + 1]), code),
        "activation_types": types,
        "activation_type_text": type_text,
        "details": "",
    }
    if table.ncols - column == 5:
        entry["cause"] = _cell_text(cells[column + 3])
        entry["resolution"] = _cell_text(cells[column + 4])
    return entry


def _cell_text(cell: str) -> str:
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in clean_inline(cell).split("\n"))
    return "\n".join(line for line in lines if line)


def _without_code(text: str, code: str) -> str:
    """Remove the row's own code when a message cell repeats it (``0 x 80092328 le nom DNS``)."""
    kept = CODE_IN_TEXT.sub(lambda m: "" if f"0x{m.group(1).upper()}" == code else m.group(0), text)
    if kept == text:
        return text
    return re.sub(r"[ \t]+", " ", kept).strip().lstrip(":-–— ").strip()


def _links(*texts: str) -> list[dict[str, str]]:
    links: dict[str, str] = {}
    for text in texts:
        for label, url in links_in(text):
            if not url or url.startswith("#"):
                continue
            if url.startswith("/"):
                url = _LEARN + url
            links.setdefault(url, label.strip().strip("*_").strip())
    return [{"text": label, "url": url} for url, label in links.items()]


def _row(entry: dict, lang: str, source: str) -> dict:
    category = category_of(entry["code"])
    return {
        **entry,
        "value": code_value(entry["code"]),
        "links": _links(entry["message"], entry["details"], entry["cause"], entry["resolution"]),
        "category": category,
        "category_label": category_label(category, lang="fr" if lang == "fr" else "en"),
        "lang": lang,
        "source": source,
    }
