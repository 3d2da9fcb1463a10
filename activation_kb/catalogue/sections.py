"""Code sections of the article: where each starts and ends, and its intro, cause and resolution.

A section is opened by a heading holding a code; a deeper heading naming the same code
(``#### 0x8004FE21 Causes``) is one of its sub-headings. Its parts are opened by sub-headings or
``**Label:**`` lines: the cause by the first one (or the first whose words say "cause" in any
language, see :mod:`.vocabulary`), the resolution by the next (or the first that says
"solution"); several solutions stay in order. :func:`read_article` puts the article together.
"""

from __future__ import annotations

import html

from .codes import CODE_IN_TEXT
from .markdown import (
    _OTHER_TAG,
    Article,
    Section,
    _front_matter,
    _Lines,
    _tables,
    clean_block,
    code_of_heading,
    heading_of,
    label_of,
    read_code_cell,
    without_link_targets,
)
from .problems import Problems
from .vocabulary import heading_kind

__all__ = ["read_article"]


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
    """Say whether a label has words after its colon: ``Solution: reinstall the system``."""
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
    """Return the heading's words without its code, anchors or tags (a lone section's message)."""
    text = _OTHER_TAG.sub("", without_link_targets(heading))
    text = CODE_IN_TEXT.sub(
        lambda m: "" if f"0x{m.group(1).upper()}" == code else m.group(0), text
    )
    return " ".join(html.unescape(text).split()).strip(" :-–—")
