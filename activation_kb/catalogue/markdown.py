"""Markdown structure of the activation error-code article: lines, front matter, tables, cells.

Tables are found by their separator row, code cells by pattern; links, layout HTML and entities
are read here. :mod:`.sections` reads the code sections and puts the article together;
:mod:`.article` turns the pieces into catalogue rows. What cannot be read is reported to a
:class:`~.problems.Problems` collector, which raises at the first problem in strict mode.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache

from .codes import CODE_IN_TEXT
from .problems import Problems

__all__ = [
    "PATTERNS",
    "Article",
    "CodeCell",
    "Section",
    "Table",
    "clean_block",
    "clean_inline",
    "code_of_cell",
    "code_of_heading",
    "links_in",
    "read_code_cell",
    "without_link_targets",
]

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING_START = re.compile(r"[ ]{0,3}(#{1,6})(?=\s|$)")
_SEPARATOR_CELL = re.compile(r":?-+:?")
_FRONT_KEY = re.compile(r"\A([A-Za-z0-9_.-]++)[ \t]*+:(.*)")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
# A markdown link [text](url "title"): the text may hold one pair of brackets ("Volume
# Activation [client]"). Possessive quantifiers, so no input makes it backtrack (issue 11).
_LINK = re.compile(
    r"\[([^\[\]\n]*+(?:\[[^\[\]\n]*+\][^\[\]\n]*+)?+)\]\("
    r"[ \t]*+(?:<([^<>\n]*+)>|([^\s)<>]*+))"
    r"(?:[ \t]++(?:\"[^\"\n]*+\"|'[^'\n]*+'))?+[ \t]*+\)"
)
# HTML tags the article uses for layout. Anything else in angle brackets (<kms_host_name>,
# <5x5 key>) is a placeholder and stays as text.
_BREAK = re.compile(r"<br\s*+/?>", re.I)
_BOLD_TAG = re.compile(r"</?(?:strong|b)(?:\s[^<>]*+)?>", re.I)
_ITALIC_TAG = re.compile(r"</?(?:em|i)(?:\s[^<>]*+)?>", re.I)
_ESCAPED_BRACKET = re.compile(r"\\([<>])")
_OTHER_TAG = re.compile(
    r"</?(?:span|p|div|sup|sub|u|kbd|code|a|font|center|nobr|li|ul|ol)(?:\s[^<>]*+)?/?>", re.I
)
_CODE_NOISE = " \t*_`.,;:!?()[]{}-–—|\"'«»“”„"

#: Every regular expression of this module, by name (the time-bound test feeds each one).
PATTERNS: dict[str, re.Pattern[str]] = {
    name: value for name, value in dict(globals()).items()
    if name.startswith("_") and isinstance(value, re.Pattern)
}


@dataclass(frozen=True)
class Table:
    """A markdown table: the line of its header, its column count and its data rows.

    ``gaps`` holds the lines of blank lines that cut the table and were bridged because rows
    of the same table followed them.
    """

    line: int
    ncols: int
    rows: list[tuple[int, list[str]]]
    gaps: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    """A section whose heading holds an error code, split into its parts.

    ``title`` is the heading's text without the code; ``missing`` names the parts ("cause",
    "resolution") that no sub-heading opened.
    """

    code: str
    line: int
    intro: str
    cause: str
    resolution: str
    title: str = ""
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Article:
    """The parts of an article that carry error codes."""

    front_matter: dict[str, str]
    tables: list[Table]
    sections: list[Section]


@dataclass(frozen=True)
class CodeCell:
    """What a table cell says about its code.

    ``code`` is the code written in the cell's text; ``anchor`` the code named by the target of
    its link (``[0x8007232A](#0x8007232b-dns-name...)`` has anchor 0x8007232B); ``noise`` the
    words beside the code (``0xC004F038 wird ausgegeben``); ``others`` further codes in the text.
    """

    code: str | None
    anchor: str | None
    noise: str
    others: tuple[str, ...] = ()


def without_link_targets(text: str) -> str:
    """Replace every markdown link ``[text](url)`` by its text."""
    return _LINK.sub(r"\1", text)


def links_in(text: str) -> list[tuple[str, str]]:
    """Return the (text, url) of every markdown link in ``text``, in order."""
    return [(m.group(1), m.group(2) if m.group(2) is not None else m.group(3))
            for m in _LINK.finditer(text)]


def _plain_cell(cell: str) -> str:
    text = without_link_targets(cell)
    text = _OTHER_TAG.sub("", _BOLD_TAG.sub("", _ITALIC_TAG.sub("", _BREAK.sub(" ", text))))
    return html.unescape(text).replace("\u00a0", " ").strip().strip("*_`").strip()


def read_code_cell(cell: str) -> CodeCell:
    """Read the code of a table cell, with its link's anchor and the words beside it."""
    # every cell is read three times (code column, known codes, rows): remember short ones
    return _read_code_cell_cached(cell) if len(cell) <= 1000 else _read_code_cell(cell)


@lru_cache(maxsize=4096)
def _read_code_cell_cached(cell: str) -> CodeCell:
    return _read_code_cell(cell)


def _read_code_cell(cell: str) -> CodeCell:
    anchor = None
    for _, url in links_in(cell):
        if url.startswith("#"):
            match = CODE_IN_TEXT.search(url)
            if match:
                anchor = f"0x{match.group(1).upper()}"
                break
    text = _plain_cell(cell)
    codes = [f"0x{m.group(1).upper()}" for m in CODE_IN_TEXT.finditer(text)]
    if not codes:
        return CodeCell(None, anchor, text)
    first = CODE_IN_TEXT.search(text)
    noise = f"{text[: first.start()]} {text[first.end():]}".strip(_CODE_NOISE)
    noise = " ".join(noise.split())
    others = tuple(dict.fromkeys(code for code in codes[1:] if code != codes[0]))
    return CodeCell(codes[0], anchor, noise, others)


def code_of_cell(cell: str) -> str | None:
    """Return the canonical code when a table cell holds exactly one code, else None."""
    match = CODE_IN_TEXT.fullmatch(_plain_cell(cell))
    return f"0x{match.group(1).upper()}" if match else None


def clean_inline(text: str) -> str:
    """Turn layout HTML into markdown, decode entities, keep placeholders such as <kms_host>."""
    text = _BREAK.sub("\n", text)
    text = _BOLD_TAG.sub("**", text)
    text = _ITALIC_TAG.sub("*", text)
    text = _OTHER_TAG.sub("", text)
    text = _ESCAPED_BRACKET.sub(r"\1", text)  # markdown's \<5x5 key\> is <5x5 key>
    return html.unescape(text).replace("\u00a0", " ")


def clean_block(lines: list[str]) -> str:
    """Join markdown lines: inline HTML cleaned, outer and repeated blank lines removed."""
    out: list[str] = []
    for line in clean_inline("\n".join(lines)).split("\n"):
        line = line.rstrip()
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def code_of_heading(text: str) -> str | None:
    """Return the first code written in a heading's text (not in its anchor), or None."""
    match = CODE_IN_TEXT.search(_OTHER_TAG.sub("", without_link_targets(text)))
    return f"0x{match.group(1).upper()}" if match else None


def heading_of(line: str) -> tuple[int, str] | None:
    """Return (level, text) of an ATX heading line (``### Title ##``), else None."""
    match = _HEADING_START.match(line)
    if match is None:
        return None
    text = line[match.end():].strip()
    closing = text.rstrip("#")
    if closing != text and (not closing or closing[-1] in " \t"):
        text = closing.rstrip()
    return len(match.group(1)), text


def label_of(line: str) -> str | None:
    """Return a ``**Label:**`` line (colon inside or outside the stars) as written, else None."""
    text = line.strip()
    if not (text.startswith("**") and len(text) > 4):
        return None
    tail = text[-1]
    body = text[:-1].rstrip() if tail in ":：" else text
    if not body.endswith("**") or len(body) < 5:
        return None
    inner = body[2:-2]
    if "*" in inner or "\n" in inner or not inner.strip() or len(inner) > 80:
        return None
    if tail not in ":：" and inner.rstrip()[-1:] not in (":", "："):
        return None
    return text


def _separator(line: str) -> bool:
    text = line.strip()
    if "-" not in text or "|" not in text:
        return False
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|"):
        text = text[:-1]
    cells = [cell.strip() for cell in text.split("|")]
    return len(cells) >= 2 and all(_SEPARATOR_CELL.fullmatch(cell) for cell in cells)


@dataclass(frozen=True)
class _Lines:
    """The article's lines without HTML comments, their numbers in the file, fence marks."""

    source: str
    text: list[str]
    number: list[int]
    fenced: list[bool]

    @classmethod
    def of(cls, text: str, problems: Problems) -> _Lines:
        text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        bare = _without_comments(text, problems)
        # Comments became as many line breaks, so lines keep their numbers; a line that only
        # held a comment is dropped (it must not end a table as a blank line would).
        kept = [
            (number, line)
            for number, (line, original) in enumerate(zip(bare.split("\n"), text.split("\n")), 1)
            if line.strip() or not original.strip()
        ]
        lines = [line for _, line in kept]
        return cls(problems.source, lines, [number for number, _ in kept], _fenced(lines))


def _without_comments(text: str, problems: Problems) -> str:
    """Replace each ``<!-- ... -->`` by its line breaks; an unclosed one is reported."""
    parts: list[str] = []
    position = 0
    while True:
        opened = text.find("<!--", position)
        if opened < 0:
            break
        closed = text.find("-->", opened + 4)
        if closed < 0:
            line = text.count("\n", 0, opened) + 1
            problems.add(
                line, None, "comment", "HTML comment '<!--' is never closed",
                "read the comment as ending with its line",
            )
            parts.append(text[position:opened])
            end_of_line = text.find("\n", opened)
            position = len(text) if end_of_line < 0 else end_of_line
            break
        parts.append(text[position:opened])
        parts.append("\n" * text.count("\n", opened, closed))
        position = closed + 3
    parts.append(text[position:])
    return "".join(parts)


def _front_matter(doc: _Lines, problems: Problems) -> tuple[dict[str, str], int]:
    if not doc.text or doc.text[0].strip() != "---":
        return {}, 0
    for end in range(1, len(doc.text)):
        if doc.text[end].strip() in ("---", "..."):
            break
    else:
        problems.add(
            doc.number[0], None, "front_matter",
            "front matter opened with '---' is never closed by a '---' line",
            "read the article as having no front matter",
        )
        return {}, 1
    front: dict[str, str] = {}
    for line in doc.text[1:end]:
        match = _FRONT_KEY.fullmatch(line.strip())
        if match and match.group(1).lower() not in front:
            front[match.group(1).lower()] = match.group(2).strip().strip("'\"")
    return front, end + 1


def _fenced(lines: list[str]) -> list[bool]:
    """Mark the lines inside (or opening/closing) fenced code blocks."""
    mask, fence = [], None
    for line in lines:
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            mask.append(True)
        elif fence is not None:
            mask.append(True)
            if line.strip().startswith(fence):
                fence = None
        else:
            mask.append(False)
    return mask


def cells_of(row: str) -> list[str]:
    r"""Split a table row into its cells (escaped ``\|`` stays in the cell)."""
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.replace("\\|", "|").strip() for cell in _CELL_SPLIT.split(row)]


def _tables(doc: _Lines, start: int) -> list[Table]:
    lines, fenced = doc.text, doc.fenced
    tables: list[Table] = []
    i = start
    while i + 1 < len(lines):
        if fenced[i] or "|" not in lines[i] or not _separator(lines[i + 1]):
            i += 1
            continue
        ncols = len(cells_of(lines[i]))
        rows: list[tuple[int, list[str]]] = []
        gaps: list[int] = []
        j = i + 2
        while True:
            j = _table_rows(doc, j, ncols, rows)
            # A blank line followed by more rows of this table (same cell count, no header of
            # their own) cuts the table in two by mistake: bridge it and let the caller say so.
            k = j
            while k < len(lines) and not lines[k].strip() and not fenced[k]:
                k += 1
            if (
                k == j
                or k >= len(lines)
                or fenced[k]
                or not lines[k].lstrip().startswith("|")
                or len(cells_of(lines[k])) != ncols
                or (k + 1 < len(lines) and _separator(lines[k + 1]))
            ):
                break
            gaps.append(doc.number[j])
            j = k
        tables.append(Table(doc.number[i], ncols, rows, gaps))
        i = j
    return tables


def _table_rows(doc: _Lines, j: int, ncols: int, rows: list[tuple[int, list[str]]]) -> int:
    """Read rows from line ``j`` to the end of the table; return the index after it."""
    lines, fenced = doc.text, doc.fenced
    while j < len(lines) and lines[j].strip() and not fenced[j]:
        first, row = j, lines[j].strip()
        # A row broken over several lines: join the following lines that do not open a new
        # row ("|...") until it has its cells, then those that still do not open a row as the
        # end of its last cell. A row that stays short is the caller's to report.
        while (
            j + 1 < len(lines)
            and lines[j + 1].strip()
            and not fenced[j + 1]
            and not lines[j + 1].lstrip().startswith("|")
        ):
            j += 1
            row = f"{row} {lines[j].strip()}"
        rows.append((doc.number[first], cells_of(row)))
        j += 1
    return j


