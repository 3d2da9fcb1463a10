"""Markdown structure of the activation error-code article: front matter, tables, code sections.

Tables are found by their separator row, code cells by pattern, sections by the code in their
heading (a deeper heading naming the same code, ``#### 0x8004FE21 Causes``, is one of its
sub-headings). A section's parts are opened by sub-headings or ``**Label:**`` lines: the cause
by the first one (or the first whose words say "cause" in any language, see
:mod:`.vocabulary`), the resolution by the next (or the first that says "solution"); several
solutions stay in order. :mod:`.article` turns these pieces into catalogue rows.

What cannot be read is reported to a :class:`~.problems.Problems` collector, which raises at the
first problem in strict mode.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .codes import CODE_IN_TEXT
from .problems import Problems
from .vocabulary import heading_kind

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
    "read_article",
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


def read_article(text: str, source: str, problems: Problems | None = None) -> Article:
    """Split an article into front matter, tables and code sections.

    Parameters
    ----------
    text : str
        The article's markdown.
    source : str
        Name used in problems and errors.
    problems : Problems, optional
        Collector for what cannot be read; by default a strict one (the first problem raises).

    Raises
    ------
    CatalogueParseError
        In strict mode, on an unclosed front matter or HTML comment, two sections for one code
        or a code section that cannot be split into cause and resolution.
    """
    problems = Problems(source, strict=True) if problems is None else problems
    doc = _Lines.of(text, problems)
    front, start = _front_matter(doc, problems)
    tables = _tables(doc, start)
    known: set[str] = set()
    for table in tables:
        for _, cells in table.rows:
            for cell in cells[: table.ncols]:
                read = read_code_cell(cell)
                known.update(code for code in (read.code, read.anchor) if code is not None)
    return Article(front, tables, _sections(doc, start, known, problems))


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
    """Split a table row into its cells (escaped ``\\|`` stays in the cell)."""
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


def _sections(doc: _Lines, start: int, known: set[str], problems: Problems) -> list[Section]:
    headings = []
    for index in range(start, len(doc.text)):
        if doc.fenced[index]:
            continue
        heading = heading_of(doc.text[index])
        if heading is not None:
            headings.append((index, heading[0], code_of_heading(heading[1]), heading[1]))
    starts = _section_starts(headings, known)
    sections: list[Section] = []
    seen: dict[str, int] = {}
    opening = set(starts)
    for position in starts:
        index, level, code, text = headings[position]
        end = _section_end(headings, opening, starts[-1], position)
        if code in seen:
            problems.add(
                doc.number[index], code, "duplicate_section",
                f"a second section for {code} (the first is on line {seen[code]})",
                "kept the first section and ignored this one",
            )
            continue
        seen[code] = doc.number[index]
        section = _split_section(doc, code, index, end, text)
        if section.missing:
            found = 2 - len(section.missing)
            problems.add(
                section.line, code, "section_parts",
                f"the section for {code} has {found} labelled part(s); expected a cause and a "
                f"resolution, each opened by a sub-heading or a '**Label:**' line",
                f"left its {' and '.join(section.missing)} empty",
            )
        sections.append(section)
    return sections


def _section_starts(headings: list[tuple[int, int, str | None, str]], known: set[str]) -> list[int]:
    """Return the positions (in ``headings``) of the headings that open a code section.

    A code heading opens a section unless it sits deeper inside an open section and names that
    section's code (``#### 0x8004FE21 Causes``) or a code no table lists; a deeper heading
    naming another listed code opens its own section (a heading level mistyped).
    """
    starts: list[int] = []
    current: tuple[int, str] | None = None  # (level, code) of the open section
    for position, (_, level, code, _text) in enumerate(headings):
        if current is not None and level < current[0] and code is None:
            current = None
        if code is None:
            continue
        if current is None or level <= current[0] or (code != current[1] and code in known):
            starts.append(position)
            current = (level, code)
    return starts


def _section_end(
    headings: list[tuple[int, int, str | None, str]], opening: set[int], last_start: int,
    position: int,
) -> int | None:
    """Return the line index where the section opened at ``headings[position]`` ends.

    ``opening`` holds the positions of the headings that open sections, ``last_start`` the
    last of them.
    """
    level = headings[position][1]
    for later in range(position + 1, len(headings)):
        other_index, other_level, _, text = headings[later]
        if later in opening or other_level < level:
            return other_index
        # A heading at the section's level without a code ends it only when no code section
        # follows and its words do not say "solution": otherwise it is a stray label
        # ("### Solution 2") inside the section.
        if other_level == level and later > last_start and heading_kind(text) != "solution":
            return other_index
    return None


def _split_section(doc: _Lines, code: str, index: int, end: int | None, title: str) -> Section:
    """Split a code section into intro, cause and resolution by its labelled parts."""
    end = len(doc.text) if end is None else end
    parts: list[list[str]] = [[]]
    markers: list[tuple[str, str | None, bool]] = []  # (label as markdown, kind, has a title)
    for k in range(index + 1, end):
        line = doc.text[k]
        marker = None
        if not doc.fenced[k]:
            heading = heading_of(line)
            if heading is not None:
                marker = (f"**{heading[1]}**", heading[1])
            elif (label := label_of(line)) is not None:
                marker = (label, label.strip("*:： "))
        if marker is None:
            parts[-1].append(line)
            continue
        markdown, words = marker
        markers.append((markdown, heading_kind(words), _titled(words)))
        parts.append([])
    intro, cause, resolution, missing = _assign_parts(parts, markers)
    return Section(
        code, doc.number[index], clean_block(intro), clean_block(cause),
        clean_block(resolution), _title(title, code), missing,
    )


def _titled(words: str) -> bool:
    """True for a label with words after its colon: ``Solution: reinstall the system``."""
    for colon in (":", "："):
        head, sep, tail = words.partition(colon)
        if sep and tail.strip(" *"):
            return True
    return False


def _assign_parts(
    parts: list[list[str]], markers: list[tuple[str, str | None, bool]]
) -> tuple[list[str], list[str], list[str], tuple[str, ...]]:
    """Give each labelled part to the intro, the cause or the resolution.

    The cause opens at the first label whose words say "cause" (any language), else at the
    first label unless it says "solution"; the resolution at the first later label that says
    "solution", else at the next label. Labels after it stay in the resolution, in order, and
    every solution label is kept when there are several or when it has a title.
    """
    kinds = [kind for _, kind, _ in markers]
    cause_at = next((m for m, kind in enumerate(kinds) if kind == "cause"), None)
    if cause_at is None and markers and kinds[0] != "solution":
        cause_at = 0
    after = -1 if cause_at is None else cause_at
    solution_at = next(
        (m for m in range(after + 1, len(markers)) if kinds[m] == "solution"), None
    )
    if solution_at is None and after + 1 < len(markers) and cause_at is not None:
        solution_at = after + 1
    first_part = cause_at if cause_at is not None else solution_at
    first_part = len(markers) if first_part is None else first_part
    intro = list(parts[0])
    for m in range(first_part):  # labels before the cause ("Symptoms") stay in the intro
        intro += ["", markers[m][0], ""] + parts[m + 1]
    cause: list[str] = []
    if cause_at is not None:
        stop = solution_at if solution_at is not None else len(markers)
        for m in range(cause_at, stop):
            if m > cause_at:
                cause += ["", markers[m][0], ""]
            cause += parts[m + 1]
    resolution: list[str] = []
    if solution_at is not None:
        labels = markers[solution_at:]
        keep = len(labels) > 1 or any(titled for _, _, titled in labels)
        for m in range(solution_at, len(markers)):
            if keep or m > solution_at:
                resolution += ["", markers[m][0], ""]
            resolution += parts[m + 1]
    missing = tuple(
        name for name, found in (("cause", cause_at), ("resolution", solution_at)) if found is None
    )
    return intro, cause, resolution, missing


def _title(heading: str, code: str) -> str:
    """The heading's words without its code, anchors or tags (the message of a lone section)."""
    text = _OTHER_TAG.sub("", without_link_targets(heading))
    text = CODE_IN_TEXT.sub(
        lambda m: "" if f"0x{m.group(1).upper()}" == code else m.group(0), text
    )
    return " ".join(html.unescape(text).split()).strip(" :-–—")
