"""Find catalogue entries by code (any spelling) or by words, ranked by relevance."""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import cache, lru_cache

import pandas as pd

from ..deprecation import old_forms
from ..errors import InvalidCodeError, SchemaError
from .article import cached_catalogue, check_language
from .categories import load_categories
from .codes import code_value
from .markdown import without_link_targets

__all__ = ["SEARCH_FIELDS", "lookup", "normalize_words", "query_code"]

#: Weight of each searched text in the relevance score: a word in the message counts three times
#: as much as a word in the resolution. Category labels are searched in English and French.
SEARCH_FIELDS: dict[str, float] = {
    "message": 3.0,
    "category_labels": 2.0,
    "cause": 1.5,
    "resolution": 1.0,
}
_PREFIX_FACTOR = 0.8  # a query word that only starts a text word ("activ" in "activation")
_MIN_PREFIX = 3
_K1 = 1.2  # BM25 saturation: the tenth "KMS" of a text adds little
_WORD = re.compile(r"\w+")
_INDEXED = ("code", "value", "message", "category", "cause", "resolution")
_LOOKS_HEX = re.compile(
    r"^\s*+(?:[A-Za-z][\w -]{0,30}+[ \t]*+[=:#]\s*+)?0\s*+[xX]|^\s*+[0-9A-Fa-f]{8}\s*+$"
)


def normalize_words(text: str) -> list[str]:
    """Return the words of ``text`` folded for search: lower case, accents removed.

    Examples
    --------
    >>> normalize_words("Période de grâce")
    ['periode', 'de', 'grace']
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(plain)


@dataclass(frozen=True)
class _Index:
    """Precomputed answers for one catalogue frame."""

    frame: pd.DataFrame
    empty: pd.DataFrame
    by_code: dict[int, pd.DataFrame]
    postings: dict[str, dict[int, float]]
    vocabulary: list[str]
    idf: dict[str, float]


@old_forms(positional=("lang", "catalogue"))
def lookup(query: object, *, lang: str = "en", catalogue: pd.DataFrame | None = None,
           ) -> pd.DataFrame:
    """Find catalogue rows by error code or by words.

    A query that is a code in any spelling (``0xC004F074``, ``c004f074``, ``hr=0xC004F074``,
    ``-1073418124``, an int) returns that code's row with ``score`` 1.0, or an empty frame when
    the catalogue does not document it. Any other text is searched as words over the message,
    cause, resolution and the category's English and French labels (so "horloge" finds
    0xC004F06C), ignoring case and accents. Every query word must match a word of the row, in
    full or, for words of three letters or more, as its beginning ("activ" matches
    "activation", at 0.8 of the weight). Rows are ranked by a BM25-style score (message words
    weigh 3, category labels 2, cause 1.5, resolution 1; see :data:`SEARCH_FIELDS`), divided by
    the best row's score: the best match has 1.0. A plain decimal number that is not a
    documented code (``1688``) is searched as a word.

    Parameters
    ----------
    query : str or int
        A code or words.
    lang : {"en", "fr"}, default "en"
        Catalogue to search when ``catalogue`` is not given.
    catalogue : pandas.DataFrame, optional
        A frame from :func:`~activation_kb.load_catalogue` or
        :func:`~activation_kb.parse_catalogue`. Its index is rebuilt on every call; without it
        the shipped catalogue's index is built once per language and lookups by code take
        microseconds.

    Returns
    -------
    pandas.DataFrame
        The catalogue's columns plus ``score`` (float, descending), index 0..n-1; empty with
        the same columns when nothing matches. The rows' lists and dicts are shared with the
        cached catalogue: copy them before changing them in place.

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not "en" or "fr".
    InvalidCodeError
        When ``query`` looks like a hexadecimal code (``0x...``) but is not a valid one.
    SchemaError
        When ``catalogue`` is not a catalogue frame (naming what it is, or its missing columns).

    Examples
    --------
    >>> lookup("c004f074")["code"].tolist()
    ['0xC004F074']
    >>> lookup("horloge", lang="fr")["code"].tolist()
    ['0xC004F06C']
    """
    check_language(lang)
    index = _shipped_index(lang) if catalogue is None else _build_index(_checked(catalogue))
    value = _query_value(query, index)
    if value is None:
        return _search_words(index, str(query))
    row = index.by_code.get(value)
    return _fresh(index.empty if row is None else row)


def _checked(catalogue: object) -> pd.DataFrame:
    """Return ``catalogue`` when it is a catalogue frame, else raise SchemaError saying why."""
    if not isinstance(catalogue, pd.DataFrame):
        raise SchemaError(f"catalogue must be a catalogue DataFrame (load_catalogue(), "
                          f"parse_catalogue()), not the {type(catalogue).__name__} {catalogue!r}")
    missing = [c for c in _INDEXED if c not in catalogue.columns]
    if missing:
        raise SchemaError(f"catalogue lacks column(s) {missing}; expected a frame from "
                          "load_catalogue() or parse_catalogue()")
    return catalogue


def query_code(
    query: object, lang: str = "en", catalogue: pd.DataFrame | None = None
) -> str | None:
    """Return the canonical code that :func:`lookup` reads ``query`` as, or None for words.

    ``catalogue`` is the frame :func:`lookup` would search (default: the shipped one in
    ``lang``): a plain decimal number is a code only when it documents it.

    Raises
    ------
    InvalidCodeError
        As :func:`lookup`, for a malformed hexadecimal code.
    """
    check_language(lang)
    index = _shipped_index(lang) if catalogue is None else _build_index(catalogue)
    value = _query_value(query, index)
    return None if value is None else f"0x{value:08X}"


def _query_value(query: object, index: _Index) -> int | None:
    if isinstance(query, int) and not isinstance(query, bool):
        return code_value(query)
    if not isinstance(query, str):
        raise InvalidCodeError(
            f"{query!r} is not a lookup query: expected a code or words as text, or an integer"
        )
    try:
        value = code_value(query)
    except InvalidCodeError:
        if _LOOKS_HEX.match(query):
            raise
        return None
    # A plain decimal that is no documented code (the KMS port 1688) is searched as a word.
    return value if value in index.by_code or _LOOKS_HEX.match(query) else None


def _fresh(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a new frame over the same data; copy-on-write keeps the cached one unchanged."""
    return frame.copy(deep=False)


@cache
def _shipped_index(lang: str) -> _Index:
    return _build_index(cached_catalogue(lang))


@lru_cache(maxsize=1)
def _category_words() -> dict[str, str]:
    labels = load_categories().drop_duplicates("category")
    return {row.category: f"{row.label_en} {row.label_fr}" for row in labels.itertuples()}


def _build_index(catalogue: pd.DataFrame) -> _Index:
    frame = catalogue.reset_index(drop=True).assign(score=1.0)
    by_code = {
        int(value): frame.iloc[[position]].reset_index(drop=True)
        for position, value in enumerate(frame["value"])
    }
    labels = _category_words()
    postings: dict[str, dict[int, float]] = {}
    for position, row in enumerate(frame.itertuples(index=False)):
        texts = {
            "message": row.message,
            "category_labels": labels.get(row.category, ""),
            "cause": row.cause,
            "resolution": row.resolution,
        }
        for field, weight in SEARCH_FIELDS.items():
            for word in normalize_words(without_link_targets(texts[field])):
                counts = postings.setdefault(word, {})
                counts[position] = counts.get(position, 0.0) + weight
    n = len(frame)
    idf = {
        word: math.log(1 + (n - len(rows) + 0.5) / (len(rows) + 0.5))
        for word, rows in postings.items()
    }
    return _Index(frame, frame.iloc[:0], by_code, postings, sorted(postings), idf)


def _matches(index: _Index, word: str) -> list[tuple[str, float]]:
    """Return the indexed words that ``word`` matches, with the factor of each match."""
    found = [(word, 1.0)] if word in index.postings else []
    if len(word) >= _MIN_PREFIX:
        start = bisect_left(index.vocabulary, word)
        for other in index.vocabulary[start:]:
            if not other.startswith(word):
                break
            if other != word:
                found.append((other, _PREFIX_FACTOR))
    return found


def _search_words(index: _Index, query: str) -> pd.DataFrame:
    words = list(dict.fromkeys(normalize_words(query)))
    if not words:
        return _fresh(index.empty)
    scores: dict[int, float] | None = None
    for word in words:
        best: dict[int, float] = {}
        for other, factor in _matches(index, word):
            for position, tf in index.postings[other].items():
                score = factor * index.idf[other] * tf * (_K1 + 1) / (tf + _K1)
                best[position] = max(best.get(position, 0.0), score)
        if scores is None:
            scores = best
        else:
            scores = {p: scores[p] + s for p, s in best.items() if p in scores}
        if not scores:
            return _fresh(index.empty)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    top = ranked[0][1]
    result = index.frame.iloc[[position for position, _ in ranked]].reset_index(drop=True)
    result["score"] = [score / top for _, score in ranked]
    return result
