"""Error categories: the grouping of documented codes by what an admin has to fix."""

from __future__ import annotations

import csv
from functools import lru_cache

import pandas as pd

from ..deprecation import old_forms
from ..errors import ChoiceError
from ..params import check_lang
from ..resources import package_data_path
from .codes import normalize_code

__all__ = ["CATEGORY_NAMES", "OTHER", "category_of", "category_label", "load_categories"]

#: Category used for every code the article does not document.
OTHER = "other"


@lru_cache(maxsize=1)
def _rows() -> tuple[dict[str, str], ...]:
    with package_data_path("categories.csv").open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


#: Category names in display order (the order of ``data/categories.csv``).
CATEGORY_NAMES: tuple[str, ...] = tuple(row["category"] for row in _rows())


@lru_cache(maxsize=1)
def _code_to_category() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for row in _rows():
        for code in row["codes"].split():
            mapping[normalize_code(code)] = row["category"]
    return mapping


def category_of(code: object) -> str:
    """Return the category of an error code, ``"other"`` for codes the article does not document.

    Parameters
    ----------
    code : str or int
        Any spelling accepted by :func:`~activation_kb.normalize_code`.

    Returns
    -------
    str
        One of :data:`CATEGORY_NAMES`.

    Raises
    ------
    InvalidCodeError
        When ``code`` is not a valid code.
    """
    return _code_to_category().get(normalize_code(code), OTHER)


@old_forms(positional=("lang",))
def category_label(category: str, *, lang: str = "en") -> str:
    """Return the human label of a category in English or French.

    Parameters
    ----------
    category : str
        One of :data:`CATEGORY_NAMES`.
    lang : {"en", "fr"}, default "en"

    Returns
    -------
    str
        The label, e.g. ``"Clock and time stamp"`` / ``"Horloge et horodatage"``.

    Raises
    ------
    UnsupportedLanguageError
        When ``lang`` is not "en" or "fr".
    ChoiceError
        When ``category`` is not a known category.
    """
    check_lang(lang)
    for row in _rows():
        if row["category"] == category:
            return row[f"label_{lang}"]
    raise ChoiceError(f"category={category!r}: unknown category; expected one of: "
                      f"{', '.join(CATEGORY_NAMES)}", "category", category)


def load_categories() -> pd.DataFrame:
    """Return the category table: one row per (category, code), with English and French labels.

    Returns
    -------
    pandas.DataFrame
        Columns ``category``, ``label_en``, ``label_fr``, ``code``; the ``other`` category has one
        row with an empty ``code``.
    """
    records = []
    for row in _rows():
        codes = [normalize_code(c) for c in row["codes"].split()] or [""]
        for code in codes:
            records.append(
                {
                    "category": row["category"],
                    "label_en": row["label_en"],
                    "label_fr": row["label_fr"],
                    "code": code,
                }
            )
    return pd.DataFrame.from_records(records).astype("string")
