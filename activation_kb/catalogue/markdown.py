"""Markdown structure of the activation error-code article: front matter, tables, code sections.

Nothing here knows the article's words. Tables are found by their separator row, code cells by
pattern, sections by the code in their heading and the parts of a section (cause, resolution) by
position: the first sub-heading or ``**Label:**`` line opens the cause, the next ones the
resolution. :mod:`activation_kb.catalogue` turns these pieces into catalogue rows.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from ..errors import CatalogueParseError
from .codes import CODE_IN_TEXT

__all__ = [
    "Article",
    "Section",
    "Table",
    "clean_block",
    "clean_inline",
    "code_of_cell",
    "code_of_heading",
    "links_in",
    "read_article",
    "without_link_targets",
]

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)+\|?\s*$")
# A label alone on its line: **Cause:**, **Solution 2 :**, **Ursache**: (colon inside or outside).
_LABEL = re.compile(r"^\s*\*\*([^*\n]{1,80}?)\s*[:：]?\s*\*\*\s*[:：]?\s*$")
_LABEL_HAS_COLON = re.compile(r"[:：]\s*\*\*\s*$|\*\*\s*[:：]\s*$")
_FRONT_KEY = re.compile(r"^([A-Za-z0-9_.-]+)\s*:\s*(.*?)\s*$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
# HTML tags the article uses for layout. Anything else in angle brackets (<kms_host_name>,
# <5x5 key>) is a placeholder and stays as text.
_BREAK = re.compile(r"<br\s*/?>", re.I)
_BOLD_TAG = re.compile(r"</?(?:strong|b)(?:\s[^<>]*)?>", re.I)
_ITALIC_TAG = re.compile(r"</?(?:em|i)(?:\s[^<>]*)?>", re.I)
_ESCAPED_BRACKET = re.compile(r"\\([<>])")
_OTHER_TAG = re.compile(
    r"</?(?:span|p|div|sup|sub|u|kbd|code|a|font|center|nobr|li|ul|ol)(?:\s[^<>]*)?/?>", re.I
)


@dataclass(frozen=True)
class Table:
    """A markdown table: the line of its header, its column count and its data rows."""

    line: int
    ncols: int
    rows: list[tuple[int, list[str]]]


@dataclass(frozen=True)
class Section:
    """A section whose heading holds an error code, split into its positional parts."""

    code: str
    line: int
    intro: str
    cause: str
    resolution: str


@dataclass(frozen=True)
class Article:
    """The parts of an article that carry error codes."""

    front_matter: dict[str, str]
    tables: list[Table]
    sections: list[Section]


def without_link_targets(text: str) -> str:
    """Replace every markdown link ``[text](url)`` by its text."""
    return _LINK.sub(r"\1", text)


def code_of_cell(cell: str) -> str | None:
    """Return the canonical code when a table cell holds exactly one code, else None."""
    text = without_link_targets(cell)
    text = _OTHER_TAG.sub("", _BOLD_TAG.sub("", _ITALIC_TAG.sub("", text)))
    text = html.unescape(text).replace("\u00a0", " ").strip().strip("*_`").strip()
    match = CODE_IN_TEXT.fullmatch(text)
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


def read_article(text: str, source: str) -> Article:
    """Split an article into front matter, tables and code sections.

    Raises
    ------
    CatalogueParseError
        On an unclosed front matter or HTML comment, a table row that never gets its cells, or a
        code section that cannot be split into cause and resolution.
    """
    doc = _Lines.of(text, source)
    front, start = _front_matter(doc)
    return Article(front, _tables(doc, start), _sections(doc, start))


def links_in(text: str) -> list[tuple[str, str]]:
    """Return the (text, url) of every markdown link in ``text``, in order."""
    return [(m.group(1), m.group(2)) for m in _LINK.finditer(text)]


def code_of_heading(text: str) -> str | None:
    """Return the first code written in a heading's text (not in its anchor), or None."""
    match = CODE_IN_TEXT.search(_OTHER_TAG.sub("", without_link_targets(text)))
    return f"0x{match.group(1).upper()}" if match else None


@dataclass(frozen=True)
class _Lines:
    """The article's lines without HTML comments, their numbers in the file, fence marks."""

    source: str
    text: list[str]
    number: list[int]
    fenced: list[bool]

    @classmethod
    def of(cls, text: str, source: str) -> _Lines:
        text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        # Comments become as many line breaks, so lines keep their numbers; a line that only
        # held a comment is dropped (it must not end a table as a blank line would).
        bare = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        opened = bare.find("<!--")
        if opened >= 0:
            line = bare.count("\n", 0, opened) + 1
            raise CatalogueParseError(f"{source}: line {line}: HTML comment '<!--' is never closed")
        kept = [
            (number, line)
            for number, (line, original) in enumerate(zip(bare.split("\n"), text.split("\n")), 1)
            if line.strip() or not original.strip()
        ]
        lines = [line for _, line in kept]
        return cls(source, lines, [number for number, _ in kept], _fenced(lines))

    def error(self, index: int, message: str) -> CatalogueParseError:
        """Return a parse error naming the source and the file line of ``text[index]``."""
        return CatalogueParseError(f"{self.source}: line {self.number[index]}: {message}")


def _front_matter(doc: _Lines) -> tuple[dict[str, str], int]:
    if not doc.text or doc.text[0].strip() != "---":
        return {}, 0
    for end in range(1, len(doc.text)):
        if doc.text[end].strip() in ("---", "..."):
            break
    else:
        raise doc.error(0, "front matter opened with '---' is never closed by a '---' line")
    front: dict[str, str] = {}
    for line in doc.text[1:end]:
        match = _FRONT_KEY.match(line)
        if match and match.group(1).lower() not in front:
            front[match.group(1).lower()] = match.group(2).strip("'\"")
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


def _cells(row: str) -> list[str]:
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
        if fenced[i] or "|" not in lines[i] or not _SEPARATOR.match(lines[i + 1]):
            i += 1
            continue
        ncols = len(_cells(lines[i]))
        rows: list[tuple[int, list[str]]] = []
        j = i + 2
        while j < len(lines) and lines[j].strip() and not fenced[j]:
            first, row = j, lines[j].strip()
            # A row broken over several lines: join until it has its cells, then take the
            # following lines that do not open a new row as the end of its last cell.
            while len(_cells(row)) < ncols:
                j += 1
                if j >= len(lines) or not lines[j].strip() or fenced[j]:
                    raise doc.error(
                        first,
                        f"table row has {len(_cells(row))} cells, expected {ncols} like the "
                        f"header on line {doc.number[i]}",
                    )
                row = f"{row} {lines[j].strip()}"
            while (
                j + 1 < len(lines)
                and lines[j + 1].strip()
                and not fenced[j + 1]
                and not lines[j + 1].lstrip().startswith("|")
            ):
                j += 1
                row = f"{row} {lines[j].strip()}"
            rows.append((doc.number[first], _cells(row)))
            j += 1
        tables.append(Table(doc.number[i], ncols, rows))
        i = j
    return tables


def _sections(doc: _Lines, start: int) -> list[Section]:
    headings = [
        (index, len(match.group(1)), code_of_heading(match.group(2)))
        for index in range(start, len(doc.text))
        if not doc.fenced[index] and (match := _HEADING.match(doc.text[index]))
    ]
    sections: list[Section] = []
    seen: dict[str, int] = {}
    for position, (index, level, code) in enumerate(headings):
        if code is None:
            continue
        if code in seen:
            raise doc.error(
                index, f"a second section for {code} (the first is on line {seen[code]})"
            )
        seen[code] = doc.number[index]
        end = len(doc.text)
        for later, (other_index, other_level, other_code) in enumerate(headings):
            if later <= position:
                continue
            # A heading at the section's level without a code ends it only when no code section
            # follows: otherwise it is a stray label ("### Solution 2") inside the section.
            more_codes = any(c is not None and lv <= level for _, lv, c in headings[later + 1 :])
            if (
                other_code is not None
                or other_level < level
                or (other_level == level and not more_codes)
            ):
                end = other_index
                break
        sections.append(_split_section(doc, code, index, end))
    return sections


def _split_section(doc: _Lines, code: str, index: int, end: int) -> Section:
    """Split a code section by position: intro, then the first part (cause), then the rest."""
    parts: list[list[str]] = [[]]
    markers: list[str] = []
    several_solutions = False
    for k in range(index + 1, end):
        line = doc.text[k]
        marker = None
        if not doc.fenced[k]:
            heading = _HEADING.match(line)
            if heading:
                marker = f"**{heading.group(2)}**"
            elif _LABEL.match(line) and _LABEL_HAS_COLON.search(line):
                marker = line.strip()
        if marker is None:
            parts[-1].append(line)
        elif len(markers) < 2:
            markers.append(marker)
            parts.append([])
        else:
            # Later labels (a stray "### Solution 2", "**Solution 3:**") stay in the resolution.
            several_solutions = True
            parts[-1].extend(["", marker, ""])
    if len(markers) < 2:
        raise doc.error(
            index,
            f"the section for {code} has {len(markers)} labelled part(s); expected a cause and a "
            f"resolution, each opened by a sub-heading or a '**Label:**' line",
        )
    if several_solutions:
        # Several solutions: keep the label of the first one too ("**Solution 1:**").
        parts[2][:0] = [markers[1], ""]
    intro, cause, resolution = (clean_block(part) for part in parts)
    return Section(code, doc.number[index], intro, cause, resolution)
