"""Issue 14: real copies of the article in other languages and revisions, read despite their quirks.

One fixture per quirk in several languages (short synthetic articles in tests/data/catalogue),
each read leniently with its problems listed, and refused by ``strict=True`` at the first one.
"""

import re
import warnings

import pandas as pd
import pytest
from conftest import TEST_DATA

from activation_kb import CatalogueParseError, load_catalogue, parse_catalogue
from activation_kb.catalogue import (
    PROBLEM_COLUMNS,
    PROBLEM_KINDS,
    CatalogueResult,
    CatalogueWarning,
    read_catalogue_file,
)
from activation_kb.catalogue.article import CATALOGUE_COLUMNS, SHIPPED_FILES
from activation_kb.resources import data_path

FIXTURES = TEST_DATA / "catalogue"
ENGLISH = load_catalogue("en").set_index("code")["activation_types"]


def _read(name: str) -> CatalogueResult:
    return read_catalogue_file(FIXTURES / name)


def _problems(result: CatalogueResult) -> list[tuple[int | None, str | None, str]]:
    return [(r["line"], r["code"], r["kind"]) for r in result.problem_records()]


def _lines_with(name: str, needle: str) -> list[int]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [number for number, line in enumerate(lines, 1) if needle in line]


# --- the result object ------------------------------------------------------------------------


def test_result_carries_the_frame_and_a_problems_frame():
    result = _read("quirk_words_after_code_de.md")
    assert isinstance(result, CatalogueResult)
    frame, problems = result  # unpacks like a tuple
    assert list(frame.columns) == list(CATALOGUE_COLUMNS)
    assert list(problems.columns) == list(PROBLEM_COLUMNS)
    assert str(problems["line"].dtype) == "Int64"
    assert set(problems["kind"]) <= set(PROBLEM_KINDS)
    assert set(problems["source"]) == {"quirk_words_after_code_de.md"}
    assert not result.ok


def test_shipped_and_shared_revisions_have_no_problem(shared_dir):
    paths = [data_path(SHIPPED_FILES["en"]), data_path(SHIPPED_FILES["fr"]),
             shared_dir / "catalogue-sources"
             / "en-us_troubleshoot-activation-error-codes_2025-01-15.md"]
    for path in paths:
        result = read_catalogue_file(path)
        assert result.ok, result.problems.to_dict(orient="records")
        assert len(result.frame) in (29, 30)


def test_frame_alone_warns_once_and_carries_its_problems():
    text = (FIXTURES / "quirk_words_after_code_de.md").read_text(encoding="utf-8")
    with pytest.warns(CatalogueWarning, match=r"2 problem\(s\) while reading the article, 3 code"):
        frame = parse_catalogue(text, source="de.md")
    assert isinstance(frame, pd.DataFrame)
    assert frame["code"].tolist() == ["0xC004F074", "0xC004F038", "0xC004C003"]
    expected = parse_catalogue(text, source="de.md", with_problems=True).problems
    pd.testing.assert_frame_equal(frame.problems, expected)
    assert frame.copy().problems["kind"].tolist() == ["words_after_code"] * 2  # kept by copies
    assert load_catalogue("en").problems.empty and list(load_catalogue("fr").problems.columns) == [
        "source", "line", "code", "kind", "problem", "action"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_catalogue(data_path(SHIPPED_FILES["en"]).read_text("utf-8"))  # no warning


def test_nothing_readable_is_an_empty_result_or_an_error():
    result = parse_catalogue("Just words.", source="x.md", with_problems=True)
    assert result.frame.empty and list(result.frame.columns) == list(CATALOGUE_COLUMNS)
    assert _problems(result) == [(None, None, "no_codes")]
    with pytest.raises(CatalogueParseError, match=r"^x\.md: no table with a column of error"):
        parse_catalogue("Just words.", source="x.md")


# --- quirk 1: words after the code ------------------------------------------------------------


def test_words_after_the_code_in_german():
    result = _read("quirk_words_after_code_de.md")
    assert result.frame["code"].tolist() == ["0xC004F074", "0xC004F038", "0xC004C003"]
    line_038 = _lines_with("quirk_words_after_code_de.md", "wird ausgegeben")[0]
    line_003 = _lines_with("quirk_words_after_code_de.md", "wurde gemeldet")[0]
    assert _problems(result) == [
        (line_038, "0xC004F038", "words_after_code"),
        (line_003, "0xC004C003", "words_after_code"),
    ]
    first = result.problem_records()[0]
    assert "'0xC004F038 wird ausgegeben'" in first["problem"]
    assert first["action"] == "read the row as 0xC004F038 and ignored 'wird ausgegeben'"
    frame = result.frame.set_index("code")
    assert frame.loc["0xC004F038", "message"] == "Die gemeldete Anzahl reicht nicht aus."
    assert frame.loc["0xC004F038", "cause"] == "Es gibt zu wenige Computer im KMS-Pool."
    assert frame.loc["0xC004C003", "activation_types"] == ["MAK"]  # Mehrfachaktivierungsschlüssel
    assert set(frame["lang"]) == {"de"}


def test_words_after_the_code_in_portuguese_one_table_layout():
    result = _read("quirk_words_after_code_pt-br.md")
    frame = result.frame.set_index("code")
    assert list(frame.index) == ["0xC004F009", "0xC004F06C", "0xC004F039"]
    assert [kind for _, _, kind in _problems(result)] == ["words_after_code"] * 2
    assert "ignored 'veja abaixo'" in result.problem_records()[1]["action"]
    assert frame.loc["0xC004F009", "activation_types"] == ["MAK"]
    assert frame.loc["0xC004F039", "activation_types"] == ["KMS client"]
    assert frame.loc["0xC004F06C", "resolution"] == "Sincronize o relógio com o host KMS."
    assert set(frame["lang"]) == {"pt-br"}


@pytest.mark.parametrize(
    ("cell", "noise"),
    [
        ("0xC004F038 wird ausgegeben", "wird ausgegeben"),
        ("0xC004F038 が返されます", "が返されます"),
        ("返回 0xC004F038", "返回"),
        ("**0 x C004F038** — возвращается", "возвращается"),
        ("[0xC004F038](#0xc004f038-x) 발생", "발생"),
    ],
)
def test_words_beside_the_code_in_any_language(cell, noise):
    text = f"|Code |Message |Type |Cause |Fix |\n|---|---|---|---|---|\n|{cell} |m |MAK |c |r |\n"
    result = parse_catalogue(text, with_problems=True)
    assert result.frame["code"].tolist() == ["0xC004F038"]
    action = result.problem_records()[0]["action"]
    assert action == f"read the row as 0xC004F038 and ignored {noise!r}"
    with pytest.raises(CatalogueParseError, match="line 3: the code cell .* holds words besides"):
        parse_catalogue(text, strict=True)


# --- quirk 2: the same code twice -------------------------------------------------------------


def test_duplicate_code_the_link_decides_in_spanish():
    result = _read("quirk_duplicate_code_es.md")
    frame = result.frame.set_index("code")
    assert list(frame.index) == ["0x8007232A", "0x8007232B", "0xC004F074"]
    assert frame.loc["0x8007232B", "message"] == "El nombre DNS no existe."
    assert frame.loc["0x8007232B", "cause"] == "El cliente KMS no encuentra los registros SRV."
    assert frame.loc["0x8007232B", "resolution"].startswith("**Solución 1: apuntar al host**")
    assert frame.loc["0x8007232A", "message"] == "Error del servidor DNS."
    assert frame.loc["0xC004F074", "message"] == "No se pudo contactar con ningún KMS."
    rows = _lines_with("quirk_duplicate_code_es.md", "|[0x")
    assert _problems(result) == [
        (rows[1], "0x8007232B", "anchor_decides"),
        (rows[3], "0xC004F074", "duplicate_code"),  # nothing tells the two apart: first kept
    ]
    assert result.problem_records()[1]["action"] == (
        f"kept the row on line {rows[2]} and skipped this one"
    )


def test_duplicate_code_in_a_chinese_one_table_layout():
    result = _read("quirk_duplicate_code_zh-tw.md")
    frame = result.frame.set_index("code")
    assert list(frame.index) == ["0xC004F050", "0xC004F051", "0xC004F064"]
    assert frame.loc["0xC004F051", "message"] == "產品金鑰已封鎖。"
    assert frame.loc["0xC004F051", "activation_types"] == ["MAK", "KMS host"]
    assert frame.loc["0xC004F064", "message"] == "非正版寬限期已過期。"
    assert [kind for _, _, kind in _problems(result)] == ["anchor_decides", "duplicate_code"]
    assert set(frame["lang"]) == {"zh-tw"}


def test_a_link_to_a_code_another_row_has_does_not_move_the_row():
    text = (
        "|Code |Message |Type |\n|---|---|---|\n"
        "|[0xC004F074](#0xc004f074-a) |first |KMS client |\n"
        "|[0xC004F038](#0xc004f074-a) |second |KMS client |\n\n"
        "## 0xC004F074 a\n\n### Cause\n\nc1\n\n### Fix\n\nr1\n\n"
        "## 0xC004F038 b\n\n### Cause\n\nc2\n\n### Fix\n\nr2\n"
    )
    result = parse_catalogue(text, with_problems=True)
    assert result.frame[["code", "message"]].values.tolist() == [
        ["0xC004F074", "first"], ["0xC004F038", "second"],
    ]
    assert _problems(result) == [(4, "0xC004F038", "anchor_decides")]
    assert "as written" in result.problem_records()[0]["action"]


# --- quirk 3: activation types in the reader's language ---------------------------------------


def test_italian_activation_types_and_english_fallback():
    result = _read("quirk_local_activation_types_it.md")
    frame = result.frame.set_index("code")
    assert frame["activation_types"].to_dict() == {
        "0xC004C020": ["MAK"],
        "0xC004C008": ["KMS host"],
        "0xC004F00F": ["MAK", "KMS client", "KMS host"],
        "0xC004F035": ENGLISH["0xC004F035"],  # "Vedere sotto" names nothing: English types
    }
    assert frame["activation_types_from"].to_dict() == {
        "0xC004C020": "it", "0xC004C008": "it", "0xC004F00F": "it", "0xC004F035": "en",
    }
    assert frame.loc["0xC004F035", "activation_type_text"] == "Vedere sotto"
    (problem,) = result.problem_records()
    assert (problem["code"], problem["kind"]) == ("0xC004F035", "activation_type")
    assert problem["action"] == (
        "used the English article's types for 0xC004F035: KMS client, KMS host"
    )


def test_russian_activation_types():
    result = _read("quirk_local_activation_types_ru.md")
    frame = result.frame.set_index("code")
    assert frame["activation_types"].to_dict() == {
        "0xC004F041": ["KMS client"],
        "0xC004C008": ["KMS host"],
        "0x8007232A": ["KMS host"],
        "0xC004F014": ["MAK", "KMS client"],
        "0xC004B100": ENGLISH["0xC004B100"],
    }
    assert frame.loc["0xC004B100", "activation_types_from"] == "en"
    assert _problems(result) == [
        (_lines_with("quirk_local_activation_types_ru.md", "Неизвестно")[0], "0xC004B100",
         "activation_type"),
    ]


def test_japanese_activation_types():
    result = _read("quirk_local_activation_types_ja.md")
    assert result.ok
    assert result.frame.set_index("code")["activation_types"].to_dict() == {
        "0xC004F050": ["MAK", "KMS client", "KMS host"],
        "0xC004F039": ["KMS client"],
        "0xC004C021": ["MAK"],
    }


def test_no_type_and_no_english_row_leaves_the_types_empty():
    text = "|C |M |T |C |F |\n|---|---|---|---|---|\n|0x80070001 |m |Ninguno |c |r |\n"
    result = parse_catalogue(text, with_problems=True)
    row = result.frame.iloc[0]
    assert row["activation_types"] == [] and row["activation_types_from"] is None
    assert "the English article does not list 0x80070001" in result.problem_records()[0]["action"]
    with pytest.raises(CatalogueParseError, match="line 3: the activation type 'Ninguno'"):
        parse_catalogue(text, strict=True)


def test_english_types_can_be_given():
    text = "|Code |Message |Type |Cause |Fix |\n|---|---|---|---|---|\n|0xC004F074 |m |?? |c |r |\n"
    frame = parse_catalogue(text, english={"0xC004F074": ["MAK"]}, with_problems=True).frame
    assert frame["activation_types"].tolist() == [["MAK"]]


# --- quirk 4: the current English layout and its translations ---------------------------------


def test_current_english_layout():
    result = _read("layout_2023_en.md")
    assert result.ok, result.problems.to_dict(orient="records")
    frame = result.frame.set_index("code")
    assert list(frame.index) == [
        "0x8004FE21", "0x80070005", "0x800706BA", "0xC004F00F", "0xC004F014",
    ]
    genuine = frame.loc["0x8004FE21"]
    assert genuine["cause"].startswith("Several things can cause this:")
    assert "  > [!NOTE]\n  > This doesn't always mean tampering." in genuine["cause"]
    assert genuine["cause"].endswith("- Malware changed Windows.")
    assert genuine["resolution"] == (
        "**Solution: reinstall the operating system**\n\nReinstall Windows."
    )
    assert genuine["details"] == ""  # the <!--Missing intro--> comment is not text
    details = frame.loc["0x80070005", "details"]
    assert details == 'The full text of this error says, "Access denied."'
    rpc = frame.loc["0x800706BA", "resolution"]
    labels = [line for line in rpc.splitlines() if line.startswith("**")]
    assert labels == [
        "**Solution 1: inspect the firewall**",
        "**Solution 2: inspect DNS SRV records**",
        "**Solution 3: Troubleshoot network connections**",
    ]
    assert "Should this link" not in rpc
    assert frame.loc["0xC004F00F", "resolution"].endswith("   ```cmd\n   slmgr.vbs /ato\n   ```")
    assert frame.loc["0xC004F014", "cause"] == "No product key is installed."
    assert frame.loc["0xC004F014", "resolution"] == "If you use MAK activation, install a MAK."


def test_current_layout_in_korean_finds_parts_by_their_words():
    result = _read("layout_2023_ko.md")
    frame = result.frame.set_index("code")
    assert frame.loc["0xC004F074", "cause"] == "모든 KMS 호스트가 오류를 반환했습니다."
    assert frame.loc["0xC004F074", "resolution"].count("**해결 방법") == 2
    # the only sub-heading of 0xC004C001 says "solution": the cause is missing, not the fix
    assert frame.loc["0xC004C001", "cause"] == ""
    assert frame.loc["0xC004C001", "resolution"].startswith("**해결 방법: MAK 다시 입력**")
    assert frame.loc["0xC004F042", "cause"].startswith("클라이언트가")
    assert _problems(result) == [
        (_lines_with("layout_2023_ko.md", "### 0xC004C001")[0], "0xC004C001", "section_parts"),
    ]
    assert result.problem_records()[0]["action"] == "left its cause empty"
    assert frame.loc["0xC004C001", "activation_types"] == ["MAK"]


@pytest.mark.parametrize(
    ("cause", "solution"),
    [
        ("#### 0xC004F074 Ursache", "#### Lösung 2: Ereignisse prüfen"),
        ("#### Causa possibile", "#### Soluzione: controllare il registro"),
        ("#### Возможная причина", "#### Решение"),
        ("#### 0xC004F074 原因", "#### 解决方案"),
        ("#### 考えられる原因", "#### 解決方法"),
        ("**Causa:**", "**Solução 1:**"),
    ],
)
def test_a_solution_alone_before_the_cause_text_is_recognised(cause, solution):
    # Sub-headings in the reader's language: a section with only a solution keeps it as one.
    table = "|Code |Message |Type |\n|---|---|---|\n|0xC004F074 |m |KMS client |\n\n"
    both = f"{table}### 0xC004F074 t\n\n{cause}\n\nC.\n\n{solution}\n\nR.\n"
    frame = parse_catalogue(both, with_problems=True).frame
    assert frame[["cause", "resolution"]].values.tolist()[0][0] == "C."
    assert frame["resolution"].iloc[0].endswith("R.")
    only = f"{table}### 0xC004F074 t\n\nIntro.\n\n{solution}\n\nR.\n"
    result = parse_catalogue(only, with_problems=True)
    row = result.frame.iloc[0]
    assert (row["details"], row["cause"]) == ("Intro.", "")
    assert row["resolution"].endswith("R.")
    assert [kind for _, _, kind in _problems(result)] == ["section_parts"]


# --- other damage is reported, never fatal ----------------------------------------------------

_TABLE = "|Code |Message |Type |Cause |Fix |\n|---|---|---|---|---|\n"


@pytest.mark.parametrize(
    ("text", "kinds", "codes"),
    [
        (_TABLE + "|0xC004F074 |m |KMS client |c |\n|0xC004F038 |m2 |MAK |c2 |r2 |\n",
         ["row_cells", "empty_field"], ["0xC004F074", "0xC004F038"]),
        (_TABLE + "|see above |m |MAK |c |r |\n|0xC004F038 |m2 |MAK |c2 |r2 |\n",
         ["not_a_code"], ["0xC004F038"]),
        (_TABLE + "|0xC004F074 |m |KMS client | |r |\n", ["empty_field"], ["0xC004F074"]),
        ("---\ntitle: x\n" + _TABLE + "|0xC004F074 |m |KMS client |c |r |\n",
         ["front_matter"], ["0xC004F074"]),
        (_TABLE + "<!-- unfinished\n|0xC004F074 |m |KMS client |c |r |\n",
         ["comment"], ["0xC004F074"]),
        (_TABLE + "|0xC004F074 |m |KMS client |c |r |\n\n|0xC004F038 |m2 |MAK |c2 |r2 |\n",
         ["table_interrupted"], ["0xC004F074", "0xC004F038"]),
        ("|Code |Message |Type |\n|---|---|---|\n|0xC004F074 |m |KMS client |\n\n"
         "## 0xC004F074 t\n\n### A\n\nc\n\n### B\n\nr\n\n## 0xC004F038 Orphan title\n\n"
         "### A\n\nc2\n\n"
         "### B\n\nr2\n", ["orphan_section"], ["0xC004F074", "0xC004F038"]),
        ("|Code |Message |Type |\n|---|---|---|\n|0xC004F074 |m |KMS client |\n\n"
         "## 0xC004F074 t\n\n### A\n\nc\n\n### B\n\nr\n\n## 0xC004F074 again\n\n### A\n\nx\n\n"
         "### B\n\ny\n", ["duplicate_section"], ["0xC004F074"]),
        ("|Code |Message |Type |Cause |\n|---|---|---|---|\n|0xC004F074 |m |KMS client |c |\n",
         ["no_codes", "table_width"], []),
    ],
)
def test_damage_is_a_problem_not_a_crash(text, kinds, codes):
    result = parse_catalogue(text, with_problems=True)
    assert [kind for _, _, kind in _problems(result)] == kinds
    assert result.frame["code"].tolist() == codes
    with pytest.raises(CatalogueParseError):
        parse_catalogue(text, strict=True)


def test_orphan_section_takes_its_message_from_the_heading():
    text = ("|Code |Message |Type |\n|---|---|---|\n|0xC004F074 |m |KMS client |\n\n"
            "## 0xC004F074 t\n\n### A\n\nc\n\n### B\n\nr\n\n"
            "## 0xC004F038 The count is insufficient\n\n### A\n\nc2\n\n### B\n\nr2\n")
    row = parse_catalogue(text, with_problems=True).frame.set_index("code").loc["0xC004F038"]
    assert row["message"] == "The count is insufficient"
    assert (row["cause"], row["resolution"]) == ("c2", "r2")
    assert row["activation_types"] == ENGLISH["0xC004F038"]
    assert row["activation_types_from"] == "en" and row["category"] == "kms_count"


def test_problems_name_lines_of_the_file_despite_comments():
    text = "<!--\n\n\n-->\n" + _TABLE + "|0xC004F074 wörter |m |KMS client |c |r |\n"
    (problem,) = parse_catalogue(text, with_problems=True).problem_records()
    assert problem["line"] == 7
    assert text.splitlines()[problem["line"] - 1].startswith("|0xC004F074 wörter")


def test_result_problems_frame_is_sorted_by_line():
    text = ("|Code |Message |Type |\n|---|---|---|\n|0xC004F074 x |m |?? |\n"
            "|0xC004F038 y |m |MAK |\n")
    problems = parse_catalogue(text, with_problems=True).problems
    assert problems["line"].tolist() == sorted(problems["line"].tolist())
    assert problems.dtypes["line"] == pd.Int64Dtype()
    assert all(re.match(r"\w", text) for text in problems["action"])


# --- load_catalogue(source=...) and use_catalogue ---------------------------------------------


def test_load_catalogue_from_a_downloaded_revision_keeps_categories(shared_dir):
    path = shared_dir / "catalogue-sources/en-us_troubleshoot-activation-error-codes_2025-01-15.md"
    frame = load_catalogue(source=path)
    shipped = load_catalogue("en").set_index("code")
    assert set(frame["code"]) == set(shipped.index)
    assert frame.set_index("code")["category"].to_dict() == shipped["category"].to_dict()
    assert set(frame["source"]) == {path.name}


def test_load_catalogue_source_warns_and_new_codes_are_other(tmp_path):
    path = tmp_path / "new.md"
    path.write_text(
        "|Code |Message |Type |Cause |Fix |\n|---|---|---|---|---|\n"
        "|0xC004F074 |m |KMS client |c |r |\n|0x8007000D wird ausgegeben |new |MAK |c |r |\n",
        encoding="utf-8",
    )
    with pytest.warns(CatalogueWarning, match="1 problem"):
        frame = load_catalogue(source=path).set_index("code")
    assert frame["category"].to_dict() == {"0xC004F074": "kms_unreachable", "0x8007000D": "other"}
    with pytest.raises(CatalogueParseError, match=r"not_the_article\.md: no table"):
        load_catalogue(source=FIXTURES / "not_the_article.md")
    (tmp_path / "latin1.md").write_bytes("|Café|".encode("latin-1"))
    with pytest.raises(CatalogueParseError, match="not UTF-8 text"):
        load_catalogue(source=tmp_path / "latin1.md")
    with pytest.raises(FileNotFoundError):
        load_catalogue(source=tmp_path / "missing.md")


def test_use_catalogue_switches_every_reader_and_back():
    from activation_kb import describe_code, lookup
    from activation_kb.catalogue import cached_catalogue, use_catalogue

    path = FIXTURES / "layout_2023_en.md"
    try:
        frame = use_catalogue(path, "en")
        assert cached_catalogue("en") is frame and len(frame) == 5
        assert lookup("0x8004FE21")["resolution"].iloc[0].startswith("**Solution: reinstall")
        assert not describe_code("0xC004F074").in_article
    finally:
        use_catalogue(None, "en")
    assert len(cached_catalogue("en")) == 30
    assert describe_code("0xC004F074").in_article
    assert lookup("0x8004FE21")["resolution"].iloc[0] == (
        load_catalogue("en").set_index("code").loc["0x8004FE21", "resolution"]
    )


def test_relative_links_of_the_current_layout_point_next_to_the_article():
    text = ("|Code |Message |Type |\n|---|---|---|\n|0xC004F074 |m |KMS client |\n\n"
            "### 0xC004F074 t\n\n#### Cause\n\nc\n\n#### Resolution\n\nSee "
            "[the procedures](common-troubleshooting-procedures-kms-dns.md) and "
            "[planning](/windows/deployment/plan).\n")
    links = parse_catalogue(text)["links"].iloc[0]
    assert links == [
        {"text": "the procedures", "url": "https://learn.microsoft.com/troubleshoot/windows-server/"
                                          "licensing-and-activation/"
                                          "common-troubleshooting-procedures-kms-dns"},
        {"text": "planning", "url": "https://learn.microsoft.com/windows/deployment/plan"},
    ]


@pytest.mark.parametrize(
    ("words", "kind"),
    [
        ("0x8004FE21 Causes", "cause"), ("Mögliche Ursache", "cause"), ("Causa posible", "cause"),
        ("Возможная причина", "cause"), ("考えられる原因", "cause"), ("가능한 원인", "cause"),
        ("可能的原因", "cause"), ("Solution 2: inspect DNS SRV records", "solution"),
        ("Lösung: Computer hinzufügen", "solution"), ("Resolución", "solution"),
        ("Risoluzione", "solution"), ("Resolução", "solution"), ("Решение", "solution"),
        ("解決方法", "solution"), ("解析度", "solution"), ("해결 방법 1", "solution"),
        ("解决方案", "solution"), ("Méthode 2", "solution"),
        ("More information", None), ("Symptoms", None), ("原因と解決策", None),
    ],
)
def test_sub_heading_words_in_every_language(words, kind):
    from activation_kb.catalogue.vocabulary import heading_kind

    assert heading_kind(words) == kind


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Mehrfachaktivierungsschlüssel<br />KMS-Clientcomputer", ["MAK", "KMS client"]),
        ("Schlüsselverwaltungsdienst", ["KMS host"]),
        ("Clave de activación múltiple / Cliente del Servicio de administración de claves",
         ["MAK", "KMS client"]),
        ("Servidor KMS", ["KMS host"]),
        ("clé d’activation multiple, hôte du service de gestion de clés", ["MAK", "KMS host"]),
        ("Codice ad attivazione multipla", ["MAK"]),
        ("Servizio di gestione delle chiavi", ["KMS host"]),
        ("Chave de Ativação Múltipla<br />Serviço de Gerenciamento de Chaves",
         ["MAK", "KMS host"]),
        ("Сервер управления ключами", ["KMS host"]),
        ("ключ многократной активации, клиент KMS, узел KMS", ["MAK", "KMS client", "KMS host"]),
        ("マルチ ライセンス認証キー<br />KMSクライアント", ["MAK", "KMS client"]),
        ("キー管理サービス", ["KMS host"]),
        ("복수 정품 인증 키<br />키 관리 서비스 클라이언트", ["MAK", "KMS client"]),
        ("키 관리 서비스", ["KMS host"]),
        ("多次激活密钥、KMS 客户端、KMS 主机", ["MAK", "KMS client", "KMS host"]),
        ("密钥管理服务", ["KMS host"]),
        ("多重啟用金鑰<br />KMS 用戶端", ["MAK", "KMS client"]),
        ("金鑰管理服務", ["KMS host"]),
        ("Windows Server", []),
        ("Multiple Activation Key (MAK)", ["MAK"]),
        ("Key Management Service (KMS) client", ["KMS client"]),
    ],
)
def test_activation_types_in_every_language_of_the_article(cell, expected):
    from activation_kb.catalogue.article import normalize_activation_types

    assert normalize_activation_types(cell) == expected
