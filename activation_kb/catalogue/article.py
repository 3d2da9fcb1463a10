"""The error-code catalogue: Microsoft's "Troubleshoot activation error codes" article as a frame.

:func:`parse_catalogue` reads any revision or translation of the article (one row per code, and
with ``with_problems=True`` the problems met); :func:`load_catalogue` returns the shipped English
or French catalogue, or a copy of the article the user downloaded.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Literal, overload

import pandas as pd

from ..errors import CatalogueParseError
from ..params import LANGUAGES, check_lang
from ..resources import data_path
from .activation_types import ACTIVATION_TYPES, normalize_activation_types, read_activation_types
from .categories import category_label, category_of
from .codes import code_value
from .entries import NO_CODES, table_entries
from .markdown import Article, Section, links_in
from .problems import CatalogueFrame, CatalogueResult, CatalogueWarning, Problems
from .sections import read_article

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
    "read_catalogue_file",
    "use_catalogue",
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
    "activation_types_from",
)


#: The shipped revision of the article for each language (paths under ``data/``).
SHIPPED_FILES: dict[str, str] = {
    "en": "catalogue/en-us_activation-error-codes_2019-03-21.md",
    "fr": "catalogue/fr-fr_activation-error-codes_2019-03-21.md",
}

_LOCALE_KEYS = ("ms.contentlocale", "ms.locale", "locale", "lang", "language")
_LEARN = "https://learn.microsoft.com"
# Where the article lives: its relative links ("common-troubleshooting-procedures-kms-dns.md")
# point next to it.
_ARTICLE_FOLDER = f"{_LEARN}/troubleshoot/windows-server/licensing-and-activation/"
_REGIONAL = ("zh", "pt")  # languages whose region the lang column keeps

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


_English_types = Mapping[str, Sequence[str]] | pd.DataFrame | None


@overload
def parse_catalogue(
    text: str, source: str = ..., lang: str | None = ..., *, strict: bool = ...,
    with_problems: Literal[False] = ..., english: _English_types = ...,
) -> CatalogueFrame: ...


@overload
def parse_catalogue(
    text: str, source: str = ..., lang: str | None = ..., *, strict: bool = ...,
    with_problems: Literal[True], english: _English_types = ...,
) -> CatalogueResult: ...


def parse_catalogue(
    text: str,
    source: str = "<text>",
    lang: str | None = None,
    *,
    strict: bool = False,
    with_problems: bool = False,
    english: Mapping[str, Sequence[str]] | pd.DataFrame | None = None,
) -> CatalogueFrame | CatalogueResult:
    r"""Parse one revision or translation of the activation error-code article.

    The parser reads the article's structure, not its words: a table is any markdown table
    with a column of error codes (found by pattern, in any spelling such as ``0 x 80070005`` or
    ``0x8007007b``); the columns after the code are, by position, message, activation type and,
    in the one-table layout, cause and resolution. In the layouts with a summary table, each code
    has a section whose heading holds the code (anchors are ignored; a deeper heading naming the
    same code, ``#### 0x8004FE21 Causes``, is one of its sub-headings). Its sub-headings or
    ``**Label:**`` lines open the cause and the solutions (told apart by their words in any of
    the article's languages, else by position: first the cause, then the solutions, kept in
    order); text before them (the full error text) goes to ``details``. HTML comments are
    removed, entities decoded, layout tags turned into markdown; placeholders such as
    ``<kms_host_name>`` stay as text.

    One odd row or section never loses the article. Unless ``strict``, what cannot be read is
    reported as a problem and the rest is read exactly: words after the code in a code cell are
    ignored; a code cell whose text and link target disagree is read as the code no other row
    has (the link's first); a code listed twice keeps its first row; an activation-type cell
    that names nothing known takes the English article's types for that code
    (``activation_types_from`` says "en"); a section without a table row becomes a row (message
    from its heading); a row without its cells or section is kept with what it has.

    Parameters
    ----------
    text : str
        The markdown of the article, front matter included.
    source : str, default "<text>"
        Name used in errors and problems and stored in the ``source`` column (the file name).
    lang : str, optional
        Language of the text. By default it is read from the front matter (``ms.contentlocale``
        or ``locale``, e.g. ``fr-FR`` gives ``"fr"``); ``"en"`` when the front matter has none,
        as in Microsoft's English originals.
    strict : bool, default False
        Raise :class:`~activation_kb.CatalogueParseError` at the first problem instead of
        reporting it (the behaviour before problems were collected).
    with_problems : bool, default False
        Return a :class:`~activation_kb.catalogue.CatalogueResult` (``frame``, ``problems``)
        instead of the frame alone. Without it, the frame still carries its problems
        (``frame.problems``), they are summed up in one
        :class:`~activation_kb.catalogue.CatalogueWarning`, and a text where no code at all can
        be read raises.
    english : mapping or DataFrame, optional
        Activation types by code used when a cell names none known; a catalogue frame or a
        mapping of code to list of types. Default: the shipped English catalogue.

    Returns
    -------
    CatalogueFrame or CatalogueResult
        A :class:`~activation_kb.catalogue.CatalogueFrame` (a pandas DataFrame whose
        ``problems`` attribute is the problems frame, see
        :class:`~activation_kb.catalogue.CatalogueResult`): one row per code, in the
        article's table order (codes read only from a section follow), with
        :data:`CATALOGUE_COLUMNS`: ``code`` (``0xC004F074``), ``value`` (uint32),
        ``message`` (the code itself removed when the cell repeats it), ``activation_types``
        (list, see :func:`normalize_activation_types`), ``activation_type_text`` (the cell as
        written), ``cause`` and ``resolution`` (markdown), ``links`` (list of
        ``{"text", "url"}``; site-relative URLs made absolute on learn.microsoft.com),
        ``category``, ``category_label`` (French when ``lang`` is "fr", else English),
        ``lang``, ``source``, ``details`` (section text before the cause; empty for the
        one-table layout), ``activation_types_from`` (``lang`` when the cell named the types,
        ``"en"`` when they come from the English article, None when no type is known).

    Raises
    ------
    CatalogueParseError
        When ``strict`` and anything cannot be read, or (without ``with_problems``) when no
        code at all can be read, as in a text that is not this article; the message names the
        source, the line and what was expected.

    Examples
    --------
    >>> text = "|Code |Message |Type |\n|---|---|---|\n|0xC004F074 wird ausgegeben |m |MAK |\n"
    >>> result = parse_catalogue(text, with_problems=True)
    >>> result.frame["code"].tolist(), result.problems["kind"].tolist()
    (['0xC004F074'], ['words_after_code', 'missing_section'])
    """
    if not isinstance(text, str):
        raise CatalogueParseError(
            f"{source}: expected the article's text, not {type(text).__name__}"
        )
    problems = Problems(source, strict)
    article = read_article(text, source, problems)
    if lang is None:
        lang = _language(article)
    fallback = _English(english)
    entries = table_entries(article, problems)
    if not entries:
        problems.add(
            None, None, "no_codes", NO_CODES,
            "read the codes from their section headings" if article.sections else "read no code",
        )
    sections = {section.code: section for section in article.sections}
    rows = []
    for entry in entries:
        code, line = entry["code"], entry.pop("line")
        section = sections.pop(code, None)
        empty_ok: set[str] = set()
        if section is not None:
            entry.update(cause=section.cause, resolution=section.resolution, details=section.intro)
            empty_ok.update(section.missing)
            if not entry["message"] and section.title:
                entry["message"] = section.title
                problems.add(line, code, "empty_field", f"{code} has an empty message",
                             "took the message from its section heading")
        elif "cause" not in entry:
            problems.add(
                line, code, "missing_section",
                f"{code} is in a table with code, message and activation type only, but no "
                f"section heading names {code} (expected a heading such as '## {code} ...' with "
                f"its cause and resolution)",
                "kept the code with an empty cause and resolution",
            )
            entry.update(cause="", resolution="")
            empty_ok.update(("cause", "resolution"))
        _check_empty(entry, line, empty_ok, problems)
        entry.update(_types(entry, line, lang, fallback, problems))
        rows.append(_row(entry, lang, source))
    for section in sorted(sections.values(), key=lambda s: s.line):
        rows.append(_row(_orphan(section, lang, fallback, problems, bool(entries)), lang, source))
    frame = CatalogueFrame(rows, columns=list(CATALOGUE_COLUMNS)).astype({"value": "uint32"})
    frame._problems = problems.frame()
    result = CatalogueResult(frame, frame._problems)
    if with_problems:
        return result
    if frame.empty:
        first = result.problems.iloc[0]
        where = "" if pd.isna(first["line"]) else f"line {first['line']}: "
        raise CatalogueParseError(f"{source}: {where}{first['problem']}")
    if not result.problems.empty:
        warnings.warn(CatalogueWarning.of(result), stacklevel=2)
    return frame


class _English:
    """The English article's activation types by code, loaded only when a cell needs them."""

    def __init__(self, given: Mapping[str, Sequence[str]] | pd.DataFrame | None) -> None:
        self._given = given
        self._types: dict[str, list[str]] | None = None

    def get(self, code: str) -> list[str] | None:
        if self._types is None:
            given = cached_catalogue("en") if self._given is None else self._given
            if isinstance(given, pd.DataFrame):
                given = dict(zip(given["code"], given["activation_types"]))
            self._types = {code: list(types) for code, types in given.items()}
        types = self._types.get(code)
        return list(types) if types else None


def _check_empty(entry: dict, line: int, empty_ok: set[str], problems: Problems) -> None:
    for column in ("message", "cause", "resolution"):
        if not entry[column] and column not in empty_ok:
            problems.add(line, entry["code"], "empty_field",
                         f"{entry['code']} has an empty {column}",
                         f"kept the code with an empty {column}")


def _types(entry: dict, line: int, lang: str, english: _English, problems: Problems) -> dict:
    """Read a row's activation types; fall back to the English article's where the cell fails."""
    code, text = entry["code"], entry["activation_type_text"]
    types, unknown = read_activation_types(text)
    if types and not unknown:
        return {"activation_types": types, "activation_types_from": lang}
    if not types:
        problem = (f"the activation type {text!r} of {code} names none of "
                   f"{', '.join(ACTIVATION_TYPES)}")
    else:
        problem = (f"the activation type {text!r} of {code} has parts that name no known type: "
                   f"{', '.join(repr(part) for part in unknown)}")
    fallback = english.get(code)
    if fallback is not None:
        problems.add(line, code, "activation_type", problem,
                     f"used the English article's types for {code}: {', '.join(fallback)}")
        return {"activation_types": fallback, "activation_types_from": "en"}
    problems.add(line, code, "activation_type", problem,
                 f"kept the types it names ({', '.join(types) or 'none'}); the English article "
                 f"does not list {code}")
    return {"activation_types": types, "activation_types_from": lang if types else None}


def _orphan(section: Section, lang: str, english: _English, problems: Problems,
            tabled: bool) -> dict:
    """Build a row for a section whose code no table row gives: message from its heading."""
    code = section.code
    types = english.get(code)
    if tabled:
        problems.add(
            section.line, code, "orphan_section",
            f"the section for {code} has no row in the table of codes (expected a table row "
            f"with {code}, its message and activation type)",
            "read its message from the heading and its activation types from the English "
            "article" if types else "read its message from the heading; no activation type known",
        )
    entry = {
        "code": code, "message": section.title, "activation_type_text": "",
        "cause": section.cause, "resolution": section.resolution, "details": section.intro,
        "activation_types": types or [], "activation_types_from": "en" if types else None,
    }
    _check_empty(entry, section.line, {"message", *section.missing}, problems)
    return entry

def load_catalogue(
    lang: str = "en", source: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Return the shipped catalogue (30 codes of the article), or a copy the user downloaded.

    ``"en"`` is the English revision of 2019-03-21; ``"fr"`` is the French seed (machine
    translation, 29 codes) plus 0x80070490, which the seed lacks, taken from the English revision
    with ``"en"`` in its ``lang`` column. Parsed once per language and cached; every call returns
    an independent copy (lists and dicts included) that the caller may change.

    With ``source``, the file is parsed instead (any revision or translation, e.g. a newer one
    downloaded from learn.microsoft.com): its codes keep their categories, codes it adds get
    ``"other"``, and its language is read from its front matter. Problems met while reading it
    are summed up in a :class:`~activation_kb.catalogue.CatalogueWarning` (run ``activation-kb
    catalogue parse FILE`` to list them).

    Parameters
    ----------
    lang : {"en", "fr"}, default "en"
        Language of the shipped catalogue; with ``source``, only checked.
    source : str or path-like, optional
        A markdown copy of the article to read instead of the shipped one.

    Returns
    -------
    pandas.DataFrame
        See :func:`parse_catalogue` for the columns; ``source`` holds the file name.

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not "en" or "fr".
    CatalogueParseError
        When ``source`` cannot be read as UTF-8 text or holds no code at all.
    FileNotFoundError
        When ``source`` does not exist.

    Examples
    --------
    >>> load_catalogue("fr").set_index("code").loc["0x80070490", "lang"]
    'en'
    """
    check_language(lang)
    if source is not None:
        result = read_catalogue_file(source)
        if result.frame.empty:
            first = result.problem_records()[0]
            where = "" if first["line"] is None else f"line {first['line']}: "
            raise CatalogueParseError(f"{Path(source).name}: {where}{first['problem']}")
        if not result.ok:
            warnings.warn(CatalogueWarning.of(result), stacklevel=2)
        return result.frame
    frame = cached_catalogue(lang).copy()
    frame["activation_types"] = [list(types) for types in frame["activation_types"]]
    frame["links"] = [[dict(link) for link in links] for links in frame["links"]]
    return frame


def read_catalogue_file(path: str | os.PathLike[str], *, strict: bool = False) -> CatalogueResult:
    """Parse a markdown copy of the article from a file, with the problems met.

    Parameters
    ----------
    path : str or path-like
        The file; UTF-8 with or without a byte-order mark.
    strict : bool, default False
        Raise at the first problem (see :func:`parse_catalogue`).

    Returns
    -------
    CatalogueResult
        ``frame`` (``source`` is the file name) and ``problems``.

    Raises
    ------
    CatalogueParseError
        When the file is not UTF-8 text (naming the byte), or is a directory.
    FileNotFoundError, PermissionError
        When the file cannot be opened.
    """
    path = Path(path)
    if path.is_dir():
        raise CatalogueParseError(f"{path}: is a folder; expected a markdown file of the article")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogueParseError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); expected the article's "
            f"markdown as Microsoft publishes it"
        ) from None
    if "\x00" in text:
        raise CatalogueParseError(f"{path}: holds NUL bytes; expected markdown text, not a "
                                  f"binary file")
    return parse_catalogue(text, source=path.name, strict=strict, with_problems=True)


def cached_catalogue(lang: str = "en") -> pd.DataFrame:
    """Return the cached catalogue itself, for the package's readers; never mutate it.

    That is the shipped one in ``lang``, or the copy :func:`use_catalogue` set for this process.
    """
    lang = check_language(lang)
    override = _OVERRIDES.get(lang)
    return _cached(lang) if override is None else override


def use_catalogue(source: str | os.PathLike[str] | None, lang: str = "en") -> pd.DataFrame:
    """Make this process read the catalogue in ``lang`` from ``source`` instead of the shipped one.

    Everything that reads the shipped catalogue (incident explanations, figure hover text,
    :func:`~activation_kb.lookup` without a ``catalogue``, :func:`~activation_kb.describe_code`)
    then reads this copy: a report notebook calls it once with its ``catalogue`` parameter.
    ``source=None`` goes back to the shipped catalogue.

    Parameters
    ----------
    source : str or path-like or None
        A markdown copy of the article (see :func:`load_catalogue`).
    lang : {"en", "fr"}, default "en"
        The catalogue it replaces.

    Returns
    -------
    pandas.DataFrame
        The catalogue now in use.

    Raises
    ------
    CatalogueParseError, FileNotFoundError
        As :func:`load_catalogue`; the catalogue in use is then unchanged.
    """
    check_language(lang)
    if source is None:
        _OVERRIDES.pop(lang, None)
    else:
        _OVERRIDES[lang] = load_catalogue(lang, source=source)
    from . import hresult, search

    search._shipped_index.cache_clear()
    hresult._article_values.cache_clear()
    return cached_catalogue(lang)


_OVERRIDES: dict[str, pd.DataFrame] = {}


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
    # Strict: the shipped revisions read without a single problem (tests hold it).
    return parse_catalogue(
        path.read_text(encoding="utf-8"), source=path.name, lang=lang, strict=True, english={}
    )


def _language(article: Article) -> str:
    """Return the language of the front matter's locale (``fr-FR`` -> ``fr``), else ``en``.

    Chinese and Portuguese keep their region, as Microsoft publishes two variants of each
    (``zh-TW`` -> ``zh-tw``, ``pt-BR`` -> ``pt-br``).
    """
    for key in _LOCALE_KEYS:
        value = article.front_matter.get(key, "").strip()
        if value:
            parts = [part.lower() for part in re.split(r"[-_]", value) if part]
            if parts[0] in _REGIONAL and len(parts) > 1:
                return f"{parts[0]}-{parts[-1]}"
            return parts[0]
    return "en"


def _links(*texts: str) -> list[dict[str, str]]:
    links: dict[str, str] = {}
    for text in texts:
        for label, url in links_in(text):
            if not url or url.startswith("#"):
                continue
            if url.startswith("/"):
                url = _LEARN + url
            elif not re.match(r"[a-z][a-z0-9+.-]*:", url, re.I):
                url = _ARTICLE_FOLDER + re.sub(r"\.md(?=$|#)", "", url)
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
