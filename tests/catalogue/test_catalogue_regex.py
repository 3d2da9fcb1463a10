"""Issue 11 (defect 10): no catalogue pattern backtracks; 100 kB of its worst input stays fast.

Every compiled pattern of the catalogue modules is fed 100 kB of each hostile input (runs of
the characters its quantifiers repeat, openers that never close, prefixes of its literals
followed by long runs) with search, finditer, sub and match, and must answer within a bound
that only a linear pattern meets on this machine. The whole parser is then fed the same inputs
inside a table cell and a section, and the defect's article (``[x](`` and 40,000 spaces).
"""

from __future__ import annotations

import re
import time

import pytest

from activation_kb import parse_catalogue
from activation_kb.catalogue import activation_types, codes, entries, markdown, search, vocabulary
from activation_kb.catalogue.article import SHIPPED_FILES
from activation_kb.resources import data_path

SIZE = 100_000
# CPU seconds for one operation on 100 kB (CPU time, so a busy machine does not fail the test):
# linear patterns take milliseconds, a quadratic one seconds to hours.
BOUND = 1.0


def _patterns() -> dict[str, re.Pattern[str]]:
    found = {}
    for module in (markdown, codes, search, vocabulary, activation_types, entries):
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found[f"{module.__name__.rsplit('.', 1)[-1]}.{name}"] = value
            elif isinstance(value, tuple) and value and all(
                isinstance(v, re.Pattern) for v in value
            ):
                for n, pattern in enumerate(value):
                    found[f"{module.__name__.rsplit('.', 1)[-1]}.{name}[{n}]"] = pattern
    return found


PATTERNS = _patterns()


def _fill(unit: str, prefix: str = "", suffix: str = "") -> str:
    body = unit * ((SIZE - len(prefix) - len(suffix)) // len(unit) + 1)
    return (prefix + body)[: SIZE - len(suffix)] + suffix


# The worst inputs: runs of what the quantifiers repeat, after the literal that starts a match,
# and openers that never close.
HOSTILE = {
    "spaces": _fill(" "),
    "spaces_then_letter": _fill(" ", suffix="x"),
    "tabs_spaces": _fill(" \t"),
    "newlines": _fill("\n"),
    "link_open_then_spaces": _fill(" ", prefix="[x](", suffix="y"),
    "link_title_unclosed": _fill('[x](a "'),
    "link_close_open": _fill("]("),
    "brackets_open": _fill("["),
    "brackets_nested": _fill("[a]"),
    "comment_openers": _fill("<!--"),
    "angle_tag_unclosed": _fill("<b "),
    "angle_spaces": _fill(" ", prefix="<br", suffix="x"),
    "heading_spaces": _fill(" ", prefix="# a", suffix="b"),
    "heading_hashes": _fill("#", prefix="# ", suffix="x"),
    "label_spaces": _fill(" ", prefix="**a**", suffix="x"),
    "stars": _fill("*"),
    "pipes": _fill("|"),
    "separator_dashes": _fill("-", prefix="|", suffix="x"),
    "separator_cells": _fill("|--"),
    "colons": _fill(":"),
    "front_key_spaces": _fill(" ", prefix="key:", suffix="v"),
    "hex_run": _fill("0", prefix="0x"),
    "hex_spaced": _fill("0 x "),
    "code_almost": _fill("0xC004F07 "),
    "letters": _fill("a"),
    "label_words": _fill("ab "),
    "phrase_prefix": _fill("multiple "),
    "phrase_spaces": _fill(" ", prefix="multiple", suffix="x"),
    "phrase_hyphens": _fill("- ", prefix="key management", suffix="x"),
    "cyrillic": _fill("ключ "),
    "cjk": _fill("キー管理 "),
    "kms_parens": _fill("KMS ("),
    "kms_spaces": _fill(" ", prefix="kms", suffix="("),
    "solution_spaces": _fill(" ", prefix="solution"),
    "escaped_pipes": _fill("\\|"),
    "digits": _fill("1"),
}


def _timed(operation) -> float:
    started = time.process_time()
    operation()
    return time.process_time() - started


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_each_pattern_is_linear_on_100_kb_of_hostile_input(name):
    pattern = PATTERNS[name]
    slow = []
    for label, text in HOSTILE.items():
        for op, run in (
            ("search", lambda: pattern.search(text)),
            ("finditer", lambda: sum(1 for _ in pattern.finditer(text))),
            ("sub", lambda: pattern.sub("", text)),
            ("match", lambda: pattern.match(text)),
        ):
            seconds = _timed(run)
            if seconds > BOUND:
                slow.append(f"{label}/{op}: {seconds:.2f} s")
    assert not slow, f"{name} ({pattern.pattern[:60]}...) is slow on {slow}"


def test_every_catalogue_module_pattern_is_covered():
    # the table above finds patterns by walking the modules: make sure it sees the known ones
    assert {"markdown._LINK", "markdown._HEADING_START", "codes.CODE_IN_TEXT", "codes._LABELS[0]",
            "vocabulary._MAK", "vocabulary._KMS", "search._LOOKS_HEX"} <= set(PATTERNS)
    assert len(PATTERNS) >= 25


def _article(cell: str, section: str) -> str:
    return (
        "|Code |Message |Type |\n|---|---|---|\n"
        f"|0xC004F074 |{cell} |KMS client |\n"
        "|0xC004F038 |m |MAK |\n\n"
        f"## 0xC004F074 t\n\n### Cause\n\n{section}\n\n### Fix\n\nr\n\n"
        "## 0xC004F038 t\n\n### Cause\n\nc\n\n### Fix\n\nr\n"
    )


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_parser_is_fast_on_hostile_text_in_a_cell_and_a_section(label):
    hostile = HOSTILE[label]
    cell = hostile.replace("\n", " ").replace("|", "/")
    seconds = _timed(lambda: parse_catalogue(_article(cell, hostile), with_problems=True))
    assert seconds < 3 * BOUND, f"{label}: {seconds:.2f} s"
    seconds = _timed(lambda: parse_catalogue(hostile, with_problems=True))
    assert seconds < 3 * BOUND, f"{label} alone: {seconds:.2f} s"


def test_defect_10_link_opener_and_40k_spaces_in_a_148_kb_article():
    text = data_path(SHIPPED_FILES["en"]).read_text(encoding="utf-8")
    cut = text.index("### Resolution\n") + len("### Resolution\n")
    article = text[:cut] + "\n[x](" + " " * 40_000 + "y\n" + text[cut:]
    article += "\nfiller text line.\n" * ((148_000 - len(article)) // 18)
    assert len(article) >= 148_000 - 18
    started = time.process_time()
    frame = parse_catalogue(article)
    seconds = time.process_time() - started
    assert len(frame) == 30
    assert seconds < BOUND, f"{seconds:.2f} s (14.5 s before the fix)"
