"""Catalogue stage: Microsoft's activation error-code article as a frame, and every code named.

Modules: :mod:`.markdown` (the article's markdown structure), :mod:`.entries` (rows of its tables
of codes), :mod:`.activation_types` and :mod:`.vocabulary` (its words in every language it is
published in), :mod:`.problems` (what could not be read), :mod:`.article` (one row per code:
``parse_catalogue``, ``load_catalogue``), :mod:`.codes` (any spelling of a code), :mod:`.hresult`
(codes the article does not cover), :mod:`.search` (``lookup``), :mod:`.categories` (what an
admin has to fix).
"""

from __future__ import annotations

from .article import (
    ACTIVATION_TYPES,
    CATALOGUE_COLUMNS,
    LANGUAGES,
    SHIPPED_FILES,
    cached_catalogue,
    check_language,
    load_catalogue,
    parse_catalogue,
    read_catalogue_file,
    use_catalogue,
)
from .categories import CATEGORY_NAMES, OTHER, category_label, category_of, load_categories
from .codes import code_value, find_codes, normalize_code
from .hresult import CodeDescription, describe_code
from .problems import (
    PROBLEM_COLUMNS,
    PROBLEM_KINDS,
    CatalogueFrame,
    CatalogueResult,
    CatalogueWarning,
)
from .search import lookup, query_code

__all__ = [
    "ACTIVATION_TYPES",
    "CATALOGUE_COLUMNS",
    "CATEGORY_NAMES",
    "LANGUAGES",
    "OTHER",
    "PROBLEM_COLUMNS",
    "PROBLEM_KINDS",
    "SHIPPED_FILES",
    "CatalogueFrame",
    "CatalogueResult",
    "CatalogueWarning",
    "CodeDescription",
    "cached_catalogue",
    "category_label",
    "category_of",
    "check_language",
    "code_value",
    "describe_code",
    "find_codes",
    "load_catalogue",
    "load_categories",
    "lookup",
    "normalize_code",
    "parse_catalogue",
    "query_code",
    "read_catalogue_file",
    "use_catalogue",
]
