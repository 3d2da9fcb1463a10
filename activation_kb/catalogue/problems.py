"""What the catalogue parser met and did about it: problems, and the result that carries them.

``parse_catalogue(text, with_problems=True)`` returns a :class:`CatalogueResult`: the frame of
codes and a ``problems`` frame with one row per odd row, cell or section (line, code, kind, what
was wrong, what was done). With ``strict=True`` the first problem raises instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

from ..errors import CatalogueParseError

__all__ = [
    "PROBLEM_COLUMNS", "PROBLEM_KINDS", "CatalogueFrame", "CatalogueResult", "CatalogueWarning",
    "Problems", "empty_problems",
]

#: Columns of a problems frame, in order.
PROBLEM_COLUMNS: tuple[str, ...] = ("source", "line", "code", "kind", "problem", "action")

#: Every ``kind`` a problem can have, with what it means.
PROBLEM_KINDS: dict[str, str] = {
    "no_codes": "the text has no table or section of error codes",
    "front_matter": "front matter opened with '---' and never closed",
    "comment": "an HTML comment '<!--' never closed",
    "row_cells": "a table row with more or fewer cells than its header",
    "table_width": "a table of codes with an unexpected number of columns",
    "not_a_code": "a row whose code cell holds no error code",
    "words_after_code": "a code cell holding words besides the code",
    "anchor_decides": "a code cell whose text and link target name different codes",
    "duplicate_code": "the same code in two rows that nothing tells apart",
    "activation_type": "an activation-type cell that names no known type",
    "empty_field": "a row or section with an empty message, cause or resolution",
    "missing_section": "a row of a summary table whose code has no section",
    "orphan_section": "a section whose code has no row in the table",
    "duplicate_section": "two sections for the same code",
    "section_parts": "a section whose cause or resolution cannot be told apart",
    "table_interrupted": "a table of codes cut in two by a blank line",
}


def empty_problems() -> pd.DataFrame:
    """Return a problems frame without rows, with :data:`PROBLEM_COLUMNS` and their dtypes."""
    return Problems("<none>", strict=False).frame()


class CatalogueFrame(pd.DataFrame):
    """A catalogue frame (a :class:`pandas.DataFrame`) that keeps the problems of its article.

    ``parse_catalogue(text).problems`` is the problems frame of
    ``parse_catalogue(text, with_problems=True)``; frames derived from it (a copy, a selection)
    keep it, frames built otherwise (``pd.concat``) have none.
    """

    _metadata = ["_problems"]

    @property
    def _constructor(self):  # noqa: D102 - pandas subclassing hook
        return CatalogueFrame

    @property
    def problems(self) -> pd.DataFrame:
        """The problems met while reading the article (columns :data:`PROBLEM_COLUMNS`)."""
        found = getattr(self, "_problems", None)
        return empty_problems() if found is None else found


class CatalogueWarning(UserWarning):
    """Warned when a copy of the article was read with problems and only its frame is returned."""

    @classmethod
    def of(cls, result: CatalogueResult) -> CatalogueWarning:
        """Sum up a result's problems in one warning: their count and the first one."""
        first = result.problem_records()[0]
        where = "" if first["line"] is None else f"line {first['line']}: "
        count = len(result.problems)
        return cls(
            f"{first['source']}: {count} problem(s) while reading the article, {len(result.frame)} "
            f"code(s) read; first: {where}{first['problem']} ({first['action']}). The frame's "
            f"`problems` (or parse_catalogue(..., with_problems=True), or `activation-kb "
            f"catalogue parse FILE`) lists them"
        )


class CatalogueResult(NamedTuple):
    """The codes read from one copy of the article, and the problems met on the way.

    Unpacks as ``frame, problems = parse_catalogue(text, with_problems=True)``.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per code (see :func:`~activation_kb.parse_catalogue`); may be empty.
    problems : pandas.DataFrame
        One row per problem, columns :data:`PROBLEM_COLUMNS`: ``source``, ``line`` (Int64, file
        line; missing for the whole text), ``code`` (the code concerned, or None), ``kind`` (a
        key of :data:`PROBLEM_KINDS`), ``problem`` (what was wrong), ``action`` (what was done).
    """

    frame: pd.DataFrame
    problems: pd.DataFrame

    @property
    def ok(self) -> bool:
        """True when the article was read without any problem."""
        return self.problems.empty

    def problem_records(self) -> list[dict]:
        """Return the problems as JSON-ready dicts (``line`` an int or None)."""
        return [
            {**row, "line": None if pd.isna(row["line"]) else int(row["line"])}
            for row in self.problems.astype(object).to_dict(orient="records")
        ]


@dataclass
class Problems:
    """Collects problems while parsing; in strict mode the first one raises instead."""

    source: str
    strict: bool
    items: list[dict] = field(default_factory=list)

    def add(
        self, line: int | None, code: str | None, kind: str, problem: str, action: str
    ) -> None:
        """Record one problem, or raise :class:`CatalogueParseError` when strict.

        ``problem`` says what was wrong (the strict error's text after "line N: "), ``action``
        what the lenient parser did instead.
        """
        if kind not in PROBLEM_KINDS:  # pragma: no cover - programming error
            raise ValueError(f"unknown problem kind {kind!r}")
        if self.strict:
            where = f"{self.source}: line {line}: " if line is not None else f"{self.source}: "
            raise CatalogueParseError(f"{where}{problem}")
        self.items.append(
            {"source": self.source, "line": line, "code": code, "kind": kind,
             "problem": problem, "action": action}
        )

    def frame(self) -> pd.DataFrame:
        """Return the problems in file order as a frame with :data:`PROBLEM_COLUMNS`."""
        ordered = sorted(
            enumerate(self.items),
            key=lambda item: (item[1]["line"] is not None, item[1]["line"] or 0, item[0]),
        )
        items = [item for _, item in ordered]
        return pd.DataFrame({
            column: (pd.array([item[column] for item in items], dtype="Int64")
                     if column == "line" else pd.Series([item[column] for item in items],
                                                        dtype=object))
            for column in PROBLEM_COLUMNS
        })
