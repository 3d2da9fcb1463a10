"""Rows of the article's tables of codes, one entry per code, with what was odd about them.

The code of a row is its code cell's text; when that text and the cell's link target name
different codes (a code copied wrongly), the one no other row claims and that has a section
wins, the link target first. A code listed twice that nothing tells apart keeps its first row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .codes import CODE_IN_TEXT
from .markdown import Article, Table, clean_inline, read_code_cell
from .problems import Problems

__all__ = ["NO_CODES", "table_entries"]

#: What is wrong with a text that has no table of codes (the strict error's text).
NO_CODES = (
    "no table with a column of error codes; expected Microsoft's article 'Troubleshoot "
    "activation error codes' (any revision or translation), whose table rows start with codes "
    "such as 0xC004F074"
)
_SPACES = re.compile(r"[ \t]+")


@dataclass
class _Row:
    line: int
    table: Table
    cells: list[str]
    column: int
    written: str | None
    anchor: str | None
    code: str | None = None


def table_entries(article: Article, problems: Problems) -> list[dict]:
    """Return one entry per code of the article's tables of codes, in table order.

    Each entry has ``line``, ``code``, ``message``, ``activation_type_text``, ``details`` and,
    for the one-table layout, ``cause`` and ``resolution``. Rows that cannot give a code are
    reported to ``problems`` and left out.
    """
    section_codes = {section.code for section in article.sections}
    rows: list[_Row] = []
    for table in article.tables:
        column = _code_column(table)
        if column is None:
            continue
        width = table.ncols - column
        if width not in (3, 5):
            problems.add(
                table.line, None, "table_width",
                f"the table of codes has {width} columns from the code column on; expected 3 "
                f"(code, message, activation type) or 5 (code, message, activation type, cause, "
                f"resolution)",
                f"skipped its {len(table.rows)} rows (codes with a section are read from it)",
            )
            continue
        for gap in table.gaps:
            problems.add(
                gap, None, "table_interrupted",
                f"a blank line cuts the table of codes whose header is on line {table.line}",
                "read the rows after it as rows of the same table",
            )
        rows += _rows_of(table, column, problems)
    _decide_codes(rows, section_codes, problems)
    entries: list[dict] = []
    seen: dict[str, int] = {}
    for row in rows:
        if row.code is None:
            continue
        if row.code in seen:
            problems.add(
                row.line, row.code, "duplicate_code",
                f"{row.code} is listed twice (also on line {seen[row.code]})",
                f"kept the row on line {seen[row.code]} and skipped this one",
            )
            continue
        seen[row.code] = row.line
        entries.append(_entry(row))
    return entries


def _code_column(table: Table) -> int | None:
    """Return the column where most rows hold a code, when at least half of them do."""
    counts = [0] * table.ncols
    for _, cells in table.rows:
        for column, cell in enumerate(cells[: table.ncols]):
            counts[column] += read_code_cell(cell).code is not None
    best = max(range(table.ncols), key=counts.__getitem__)
    return best if counts[best] and 2 * counts[best] >= len(table.rows) else None


def _rows_of(table: Table, column: int, problems: Problems) -> list[_Row]:
    rows = []
    for line, cells in table.rows:
        if len(cells) != table.ncols:
            fitted = _fit(cells, table.ncols, column)
            read = read_code_cell(fitted[column])
            problems.add(
                line, read.code or read.anchor, "row_cells",
                f"table row has {len(cells)} cells, expected {table.ncols} like the header on "
                f"line {table.line}",
                "read the cells it has, the missing ones empty"
                if len(cells) < table.ncols
                else "read its extra cells as part of the message",
            )
            cells = fitted
        read = read_code_cell(cells[column])
        if read.code is None and read.anchor is None:
            problems.add(
                line, None, "not_a_code",
                f"column {column + 1} should hold an error code such as 0xC004F074, found "
                f"{cells[column]!r}",
                "skipped the row",
            )
            continue
        if read.code is not None and (read.noise or read.others):
            problems.add(
                line, read.code, "words_after_code",
                f"the code cell {cells[column]!r} holds words besides the code {read.code}",
                f"read the row as {read.code} and ignored {read.noise!r}",
            )
        rows.append(_Row(line, table, cells, column, read.code, read.anchor))
    return rows


def _fit(cells: list[str], ncols: int, column: int) -> list[str]:
    """Pad a short row with empty cells; join a long row's extra cells into its message."""
    if len(cells) < ncols:
        return cells + [""] * (ncols - len(cells))
    extra = len(cells) - ncols
    message = column + 1
    return [
        *cells[:message],
        " | ".join(cells[message : message + extra + 1]),
        *cells[message + extra + 1 :],
    ]


def _decide_codes(rows: list[_Row], section_codes: set[str], problems: Problems) -> None:
    """Set each row's code: its text, or its link target where the two disagree."""
    claimed: set[str] = set()
    for row in rows:
        if row.written is None or row.anchor is None or row.written == row.anchor:
            row.code = row.written or row.anchor
            claimed.add(row.code)
    for row in rows:
        if row.code is not None:
            continue
        if row.written is None:
            row.code = row.anchor
            problems.add(
                row.line, row.anchor, "anchor_decides",
                f"the code cell {row.cells[row.column]!r} names no code in its text",
                f"read the row as {row.anchor}, the code its link points to",
            )
            claimed.add(row.code)
            continue

        def rank(code: str, is_anchor: bool) -> tuple[bool, bool, bool]:
            return (
                code not in claimed,
                not section_codes or code in section_codes,
                is_anchor,
            )

        chosen = max((row.anchor, True), (row.written, False), key=lambda c: rank(*c))[0]
        row.code = chosen
        claimed.add(chosen)
        problems.add(
            row.line, chosen, "anchor_decides",
            f"the code cell says {row.written} but its link points to {row.anchor}",
            f"read the row as {chosen}"
            + (", the code its link points to" if chosen == row.anchor
               else f", as written ({row.anchor} is another row's or has no section)"),
        )


def _entry(row: _Row) -> dict:
    cells, column = row.cells, row.column
    entry = {
        "line": row.line,
        "code": row.code,
        "message": _without_code(cell_text(cells[column + 1]), row.code),
        "activation_type_text": cells[column + 2],
        "details": "",
    }
    if row.table.ncols - column == 5:
        entry["cause"] = cell_text(cells[column + 3])
        entry["resolution"] = cell_text(cells[column + 4])
    return entry


def cell_text(cell: str) -> str:
    """Return a cell as markdown text: layout HTML cleaned, spaces collapsed, empty lines gone."""
    lines = (_SPACES.sub(" ", line).strip() for line in clean_inline(cell).split("\n"))
    return "\n".join(line for line in lines if line)


def _without_code(text: str, code: str) -> str:
    """Remove the row's own code when a message cell repeats it (``0 x 80092328 le nom DNS``)."""
    kept = CODE_IN_TEXT.sub(lambda m: "" if f"0x{m.group(1).upper()}" == code else m.group(0), text)
    if kept == text:
        return text
    return _SPACES.sub(" ", kept).strip().lstrip(":-–— ").strip()
