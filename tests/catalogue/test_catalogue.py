"""parse_catalogue on the real revisions and on synthetic variants; load_catalogue contract."""

import re
from pathlib import Path

import pytest
from conftest import TEST_DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from activation_kb import (
    CatalogueParseError,
    UnsupportedLanguageError,
    category_label,
    category_of,
    load_catalogue,
    parse_catalogue,
)
from activation_kb.catalogue.article import (
    CATALOGUE_COLUMNS,
    SHIPPED_FILES,
    normalize_activation_types,
)
from activation_kb.resources import data_path

FIXTURES = TEST_DATA / "catalogue"

# The 30 codes of the article (the category table); the French seed lacks 0x80070490.
ARTICLE_CODES = {
    "0xC004C001", "0xC004C003", "0xC004C008", "0xC004B100", "0xC004C020", "0xC004C021",
    "0xC004F009", "0xC004F00F", "0xC004F014", "0xC004F02C", "0xC004F035", "0xC004F038",
    "0xC004F039", "0xC004F041", "0xC004F042", "0xC004F050", "0xC004F051", "0xC004F064",
    "0xC004F065", "0xC004F06C", "0x80070005", "0x8007232A", "0x8007232B", "0x800706BA",
    "0x8007251D", "0xC004F074", "0x8004FE21", "0x80092328", "0x8007007B", "0x80070490",
}
SEED_CODES = ARTICLE_CODES - {"0x80070490"}
CONTRACT_COLUMNS = [
    "code", "value", "message", "activation_types", "activation_type_text", "cause",
    "resolution", "links", "category", "category_label", "lang", "source",
]
SHARED_REVISIONS = {
    "seeds/000_24a0914429cd1f65.txt": ("fr", SEED_CODES),
    "catalogue-sources/en-us_activation-error-codes_2019-03-21.md": ("en", ARTICLE_CODES),
    "catalogue-sources/en-us_troubleshoot-activation-error-codes_2025-01-15.md": (
        "en", ARTICLE_CODES,
    ),
}


def _parse_file(path: Path, **kwargs):
    return parse_catalogue(path.read_text(encoding="utf-8"), source=path.name, **kwargs)


def _check_rows(frame, lang, codes):
    assert list(frame.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert set(frame["code"]) == codes and len(frame) == len(codes)
    for row in frame.itertuples():
        assert re.fullmatch(r"0x[0-9A-F]{8}", row.code)
        assert row.value == int(row.code, 16)
        for column in ("message", "cause", "resolution"):
            assert getattr(row, column).strip(), f"{row.code} has an empty {column}"
        assert row.code not in row.message.upper().replace(" ", "")
        assert row.activation_types and set(row.activation_types) <= {
            "MAK", "KMS client", "KMS host",
        }
        assert row.category == category_of(row.code) != "other"
        label_lang = "fr" if lang == "fr" else "en"
        assert row.category_label == category_label(row.category, lang=label_lang)
        assert row.lang == lang
    assert str(frame["value"].dtype) == "uint32"


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_shipped_revisions_parse_to_their_codes(lang):
    frame = _parse_file(data_path(SHIPPED_FILES[lang]))
    _check_rows(frame, lang, ARTICLE_CODES if lang == "en" else SEED_CODES)
    assert set(frame["source"]) == {Path(SHIPPED_FILES[lang]).name}


@pytest.mark.parametrize("name", sorted(SHARED_REVISIONS))
def test_shared_revisions_parse_to_their_codes(shared_dir, name):
    lang, codes = SHARED_REVISIONS[name]
    _check_rows(_parse_file(shared_dir / name), lang, codes)


def test_shipped_files_are_the_shared_sources_unchanged(shared_dir):
    assert data_path(SHIPPED_FILES["fr"]).read_bytes() == (
        shared_dir / "seeds/000_24a0914429cd1f65.txt"
    ).read_bytes()
    name = Path(SHIPPED_FILES["en"]).name
    assert data_path(SHIPPED_FILES["en"]).read_bytes() == (
        shared_dir / "catalogue-sources" / name
    ).read_bytes()


def test_seed_activation_types_agree_with_the_english_original():
    english = load_catalogue("en").set_index("code")["activation_types"]
    french = _parse_file(data_path(SHIPPED_FILES["fr"])).set_index("code")
    for code, row in french.iterrows():
        assert row["activation_types"] == english[code], (code, row["activation_type_text"])


def test_revision_2025_agrees_with_2019_on_activation_types(shared_dir):
    newest = _parse_file(
        shared_dir / "catalogue-sources/en-us_troubleshoot-activation-error-codes_2025-01-15.md"
    ).set_index("code")["activation_types"]
    english = load_catalogue("en").set_index("code")["activation_types"]
    assert newest.sort_index().tolist() == english.sort_index().tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MAK", ["MAK"]),
        ("KMS", ["KMS host"]),
        ("KMS Client", ["KMS client"]),
        ("MAK/KMS client/KMS host", ["MAK", "KMS client", "KMS host"]),
        ("KMS, KMS client, MAK", ["MAK", "KMS client", "KMS host"]),
        ("MAK/KMS", ["MAK", "KMS host"]),
        ("MAK<br />KMS<br />KMS client", ["MAK", "KMS client", "KMS host"]),
        ("Service de gestion de clés (KMS)", ["KMS host"]),
        ("Client une clé MAK/KMS", ["MAK", "KMS client"]),
        ("Hôte de client/serveur gestionnaire de clés MAK/KMS", ["MAK", "KMS client", "KMS host"]),
        ("Hôte de client/MAK/KMS de KMS", ["MAK", "KMS client", "KMS host"]),
        ("UNE CLÉ MAK/KMS", ["MAK", "KMS host"]),
        ("Client/hôte KMS", ["KMS client", "KMS host"]),
        ("MAK/KMS-Client/KMS-Host", ["MAK", "KMS client", "KMS host"]),
        ("Cliente KMS", ["KMS client"]),
        ("Windows", []),
    ],
)
def test_normalize_activation_types(text, expected):
    assert normalize_activation_types(text) == expected


def test_messages_drop_the_repeated_code_in_the_seed():
    seed = load_catalogue("fr").set_index("code")["message"]
    assert seed["0x80092328"] == "le nom DNS n’existe pas."
    assert seed["0x8007007B"] == "le nom DNS n’existe pas."
    english = load_catalogue("en").set_index("code")["message"]
    assert english["0x80092328"] == english["0x8007007B"] == "DNS name does not exist."


def test_placeholders_lists_and_commands_survive():
    fr = load_catalogue("fr").set_index("code")
    assert "slmgr.vbs /skms <kms_host_name>" in fr.loc["0x8007232B", "resolution"]
    en = load_catalogue("en").set_index("code")
    assert "**slmgr.vbs /skms <*kms_host_name*>**" in en.loc["0x8007232B", "resolution"]
    assert "**slmgr -ipk <5x5 key>**" in en.loc["0x80070490", "resolution"]
    assert "> [!NOTE]" in en.loc["0x8004FE21", "cause"]


def test_revision_2025_keeps_steps_code_blocks_and_solutions(shared_dir):
    newest = _parse_file(
        shared_dir / "catalogue-sources/en-us_troubleshoot-activation-error-codes_2025-01-15.md"
    ).set_index("code")
    steps = newest.loc["0x80070005", "resolution"]
    assert steps.splitlines()[0] == "1. Open the Start menu and search for **Command Prompt**."
    assert "3. In the command prompt, run `slmgr.vbs`." in steps
    fenced = "```console\nslmgr.vbs /skms <kms_host_name>\n```"
    assert fenced in newest.loc["0x8007232B", "resolution"]
    rpc = newest.loc["0x800706BA", "resolution"]
    assert [line for line in rpc.splitlines() if line.startswith("**Solution")] == [
        "**Solution 1:**", "**Solution 2:**", "**Solution 3:**",
    ]
    assert newest.loc["0x8004FE21", "cause"].startswith("This issue can occur for several reasons:")
    assert newest.loc["0xC004F035", "details"].startswith(
        "When you encounter this error, you see this error message:"
    )
    assert {"text": "Common troubleshooting procedures for KMS and DNS issues",
            "url": "https://learn.microsoft.com/windows-server/get-started/"
                   "common-troubleshooting-procedures-kms-dns"} in newest.loc["0x8007232A", "links"]


def test_links_and_details_of_the_2019_revision():
    en = load_catalogue("en").set_index("code")
    assert en.loc["0xC004C001", "links"] == [{
        "text": "Microsoft Licensing Activation Centers",
        "url": "https://www.microsoft.com/en-us/Licensing/existing-customer/activation-centers",
    }]
    assert en.loc["0xC004F035", "details"].startswith(
        "The full text of this error resembles the following:\n\n"
        "> Error: Invalid Volume License Key."
    )
    assert en.loc["0xC004C001", "details"] == ""
    assert en.loc["0x8007232A", "links"] == []


# --- synthetic variants: one quirk each -------------------------------------------------------


def _fixture(name: str):
    return _parse_file(FIXTURES / name).set_index("code")


def test_codes_with_spaces_and_lower_case_hex():
    frame = _fixture("quirk_spaced_codes.md")
    assert list(frame.index) == ["0x80070005", "0xC004F074", "0x8007007B", "0xC004F06C"]
    assert frame.loc["0x80070005", "message"] == "Accès refusé."
    assert frame.loc["0x80070005", "activation_types"] == ["MAK", "KMS client", "KMS host"]
    assert set(frame["lang"]) == {"fr"}
    assert frame.loc["0xC004F06C", "category_label"] == "Horloge et horodatage"


def test_code_repeated_in_the_message_cell_is_removed():
    messages = _fixture("quirk_code_in_message.md")["message"]
    assert messages["0x80092328"] == "le nom DNS n'existe pas."
    assert messages["0x8007007B"] == "le nom DNS n'existe pas."
    assert messages["0x8007232B"] == "DNS name does not exist."
    # another code in a message is text, not the row's own code
    assert messages["0x8007251D"] == "No records found for DNS query; compare 0x8007232B."


def test_rows_broken_over_lines():
    frame = _fixture("quirk_broken_row.md")
    assert list(frame.index) == ["0xC004F038", "0xC004F039", "0xC004F041", "0xC004F042"]
    assert frame.loc["0xC004F038", "message"] == (
        "The count reported by your Key Management Service (KMS) is insufficient."
    )
    assert frame.loc["0xC004F039", "resolution"] == (
        "Make sure that TCP port 1688 is not blocked by a firewall."
    )
    assert frame.loc["0xC004F041", "activation_types"] == ["KMS client"]
    assert frame.loc["0xC004F042", "resolution"] == "Connect the clients to the correct hosts"


def test_activation_type_separators():
    frame = _fixture("quirk_activation_separators.md")
    assert frame["activation_types"].to_dict() == {
        "0xC004F00F": ["MAK", "KMS client", "KMS host"],
        "0xC004F050": ["MAK", "KMS client", "KMS host"],
        "0xC004F035": ["KMS client", "KMS host"],
        "0xC004F051": ["MAK", "KMS host"],
        "0xC004C008": ["KMS host"],
        "0xC004F014": ["MAK", "KMS client"],
    }
    assert frame.loc["0xC004F00F", "activation_type_text"] == "MAK<br />KMS client<br/>KMS host"


def test_html_comments_entities_and_placeholders():
    frame = _fixture("quirk_html.md")
    # the commented-out rows are not read, and a comment line does not end the table
    assert list(frame.index) == ["0x8007232B", "0x80070490"]
    row = frame.loc["0x8007232B"]
    assert row["message"] == "DNS name does not exist."
    assert row["cause"] == "The client can't find SRV records."
    assert row["resolution"] == (
        "Run **slmgr.vbs /skms <kms_host_name>** or slmgr.vbs /skms <kms_host_name>:1688."
    )
    assert frame.loc["0x80070490", "resolution"] == (
        "Run *slmgr -ipk <5x5 key>* at an elevated prompt.\nThen restart."
    )


def test_stray_solution_heading_in_the_2025_layout():
    frame = _fixture("quirk_stray_solution_heading.md")
    assert list(frame.index) == ["0x800706BA", "0x8007232B", "0xC004F074"]
    rpc = frame.loc["0x800706BA"]
    assert rpc["cause"] == "The KMS host doesn't have configured firewall settings."
    assert rpc["resolution"].startswith("**Solution 1:**\n\nEnable the firewall exception")
    assert "**Solution 2**\n\nCheck your DNS SRV records." in rpc["resolution"]
    assert "# nslookup -type=srv _vlmcs._tcp" in rpc["resolution"]  # not a heading: in a fence
    assert rpc["details"].endswith("> The RPC server is unavailable.")
    assert frame.loc["0xC004F074", "resolution"] == (
        "1. Open the **Application Event Log**.\n2. Troubleshoot each event 12288."
    )
    assert "belongs to no code" not in "".join(frame["resolution"])


def test_stray_solution_heading_in_the_2019_layout():
    frame = _fixture("quirk_stray_solution_2019.md")
    hardware = frame.loc["0xC004F00F", "resolution"]
    assert hardware == (
        "**Resolution**\n\nIf you are using MAK activation, reactivate by phone.\n\n"
        "**Solution 2**\n\nIf you are using KMS activation, run **slmgr.vbs /ato**."
    )
    assert frame.loc["0xC004F06C", "resolution"] == "Sync the time with NTP."
    assert frame.loc["0xC004F06C", "details"].endswith(
        "> The Key Management Service (KMS) determined that the request timestamp is invalid."
    )


def test_anchors_in_headings_are_not_read_and_deeper_levels_work():
    frame = _fixture("quirk_anchor_headings.md")
    # the first section's anchor names another code (an old slug): the heading text decides
    assert list(frame.index) == ["0xC004F038", "0xC004F035"]
    assert frame.loc["0xC004F038", "cause"] == "KMS ホストの数が不足しています。"
    assert frame.loc["0xC004F038", "resolution"] == "**Slmgr.vbs /dli** を実行します。"
    assert frame.loc["0xC004F035", "activation_types"] == ["KMS client", "KMS host"]
    assert frame.loc["0xC004F035", "resolution"].splitlines()[1:] == [
        "   1. **slmgr /dti** を実行します。",
        "   1. **slmgr /atp <確認 ID>** を実行します。",
    ]
    assert set(frame["lang"]) == {"ja"}


def test_front_matter_with_odd_dates():
    frame = _fixture("quirk_front_matter_dates.md")
    assert list(frame.index) == ["0xC004C020"]
    assert set(frame["lang"]) == {"en"}


@pytest.mark.parametrize(
    ("name", "lang", "codes"),
    [
        ("translated_de.md", "de", ["0xC004F074", "0xC004F00F", "0xC004C008"]),
        ("translated_es.md", "es", ["0x8007232B", "0x8007232A", "0x80070005"]),
    ],
)
def test_translated_layouts_need_no_header_words(name, lang, codes):
    frame = _fixture(name)
    assert list(frame.index) == codes
    assert set(frame["lang"]) == {lang}
    assert all(frame["cause"].str.len() > 10) and all(frame["resolution"].str.len() > 10)


def test_translated_german_parts():
    frame = _fixture("translated_de.md")
    assert frame.loc["0xC004F00F", "activation_types"] == ["MAK", "KMS client", "KMS host"]
    assert frame.loc["0xC004C008", "activation_types"] == ["KMS host"]
    cause = frame.loc["0xC004F074", "cause"]
    assert cause == "Alle KMS-Hostsysteme haben einen Fehler zurückgegeben."
    assert frame.loc["0xC004F074", "details"].startswith("Der vollständige Text")
    assert "**slmgr.vbs /ato**" in frame.loc["0xC004F00F", "resolution"]


def test_translated_spanish_parts():
    frame = _fixture("translated_es.md")
    assert frame.loc["0x8007232B", "resolution"].startswith("**Solución 1:**")
    assert "**Solución 2:**" in frame.loc["0x8007232B", "resolution"]
    assert frame.loc["0x80070005", "activation_types"] == ["MAK", "KMS client", "KMS host"]
    assert frame.loc["0x8007232A", "links"][0]["url"].startswith("https://learn.microsoft.com/")


def test_lang_parameter_overrides_the_front_matter():
    frame = _parse_file(FIXTURES / "translated_de.md", lang="fr")
    assert set(frame["lang"]) == {"fr"}
    assert frame.set_index("code").loc["0xC004F074", "category_label"] == "Hôte KMS injoignable"


# --- errors -----------------------------------------------------------------------------------

_TABLE = "|Code |Message |Type |Cause |Fix |\n|---|---|---|---|---|\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", r"<text>: no table with a column of error codes"),
        ("Just some words about activation and 0xC004F074.", r"no table with a column"),
        ("|a |b |\n|---|---|\n|1 |2 |\n", r"no table with a column of error codes"),
        (_TABLE + "|0xC004F074 |m |KMS client |c |\n\n",
         r"line 3: table row has 4 cells, expected 5"),
        ("|Code |Message |Type |Cause |\n|---|---|---|---|\n|0xC004F074 |m |KMS client |c |\n",
         r"line 1: the table of codes has 4 columns .* expected 3 .* or 5"),
        (_TABLE + "|0xC004F074 |m |KMS client |c |r |\n|0xc004f074 |m |MAK |c |r |\n",
         r"line 4: 0xC004F074 is listed twice \(also on line 3\)"),
        (_TABLE + "|0xC004F074 |m |KMS client |c |r |\n|see above |m |MAK |c |r |\n",
         r"line 4: column 1 should hold an error code such as 0xC004F074, found 'see above'"),
        (_TABLE + "|0xC004F074 |m |Windows |c |r |\n",
         r"line 3: the activation type 'Windows' of 0xC004F074 names none of MAK"),
        (_TABLE + "|0xC004F074 |m |KMS client | |r |\n", r"line 3: 0xC004F074 has an empty cause"),
        ("|Code |Message |Type |\n|---|---|---|\n|0xC004F074 |m |KMS client |\n",
         r"line 3: 0xC004F074 is in a table with code, message and activation type only"),
        ("|Code |Message |Type |\n|---|---|---|\n|0xC004F074 |m |KMS client |\n\n"
         "## 0xC004F074 t\n\n### Cause\n\nc\n\n### Fix\n\nr\n\n## 0xC004F038 t\n\n### A\n\nc\n\n"
         "### B\n\nr\n", r"line 15: the section for 0xC004F038 has no row in the table"),
        ("|Code |Message |Type |\n|---|---|---|\n|0xC004F074 |m |KMS client |\n\n"
         "## 0xC004F074 t\n\nOnly text.\n\n### Fix\n\nr\n",
         r"line 5: the section for 0xC004F074 has 1 labelled part\(s\); expected a cause and a"),
        ("|Code |Message |Type |\n|---|---|---|\n|0xC004F074 |m |KMS client |\n\n"
         "## 0xC004F074 t\n\n### A\n\nc\n\n### B\n\nr\n\n## 0xC004F074 again\n\n### A\n\nc\n\n"
         "### B\n\nr\n", r"line 15: a second section for 0xC004F074 \(the first is on line 5\)"),
        ("---\ntitle: x\n" + _TABLE, r"line 1: front matter opened with '---' is never closed"),
        (_TABLE + "<!-- unfinished\n|0xC004F074 |m |KMS client |c |r |\n",
         r"line 3: HTML comment '<!--' is never closed"),
    ],
)
def test_bad_text_raises_a_clear_error_when_strict(text, expected):
    with pytest.raises(CatalogueParseError, match=expected) as info:
        parse_catalogue(text, strict=True)
    assert isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_not_the_article_names_the_source():
    with pytest.raises(CatalogueParseError) as info:
        _parse_file(FIXTURES / "not_the_article.md")
    assert str(info.value).startswith("not_the_article.md: no table with a column of error codes")
    assert "Troubleshoot activation error codes" in str(info.value)


def test_non_text_input_raises():
    with pytest.raises(CatalogueParseError, match="expected the article's text, not bytes"):
        parse_catalogue(b"|0xC004F074|")


# --- generated articles: any codes, any spelling, any of the three layouts ---------------------

_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwyzéèàüß ,.'()-", min_size=1, max_size=40).map(
    lambda text: " ".join(text.split())
).filter(bool)
_SPELL = [
    lambda v: f"0x{v:08X}", lambda v: f"0x{v:08x}", lambda v: f"0 x {v:08X}",
    lambda v: f"[0x{v:08X}](#0x{v:08x}-anchor)", lambda v: f"0X{v:08X}",
]


@st.composite
def _articles(draw):
    values = draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6, unique=True))
    layout = draw(st.sampled_from(["one_table", "sections_2019", "sections_2025"]))
    rows = [
        {
            "value": value,
            "spelled": _SPELL[draw(st.integers(0, len(_SPELL) - 1))](value),
            "message": draw(_WORDS), "cause": draw(_WORDS), "fix": draw(_WORDS),
            "types": draw(st.sampled_from(["MAK", "KMS client", "MAK<br />KMS host", "KMS"])),
        }
        for value in values
    ]
    lines = ["---", "ms.date: 99/99/9999", "---", "# Article", ""]
    if layout == "one_table":
        lines += ["|a |b |c |d |e |", "|---|---|---|---|---|"]
        lines += [f"|{r['spelled']} |{r['message']} |{r['types']} |{r['cause']} |{r['fix']} |"
                  for r in rows]
    else:
        lines += ["|a |b |c |", "|---|---|---|"]
        lines += [f"|{r['spelled']} |{r['message']} |{r['types']} |" for r in rows]
        for r in draw(st.permutations(rows)):
            code = f"0x{r['value']:08X}"
            if layout == "sections_2019":
                lines += ["", f"## {code} title", "", "### x", "", r["cause"], "", "### y", "",
                          r["fix"]]
            else:
                lines += ["", f"### {code} title", "", "> full text", "", "**x:**", "",
                          r["cause"], "", "**y:**", "", r["fix"]]
    return "\n".join(lines) + "\n", rows


@settings(max_examples=60, deadline=None)
@given(_articles())
def test_generated_articles_round_trip(article):
    text, rows = article
    frame = parse_catalogue(text)
    assert frame["value"].tolist() == [r["value"] for r in rows]
    assert frame["message"].tolist() == [r["message"] for r in rows]
    assert frame["cause"].tolist() == [r["cause"] for r in rows]
    assert frame["resolution"].tolist() == [r["fix"] for r in rows]
    assert frame["activation_type_text"].tolist() == [r["types"] for r in rows]


# --- load_catalogue ---------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_load_catalogue_has_30_codes_and_the_contract_columns(lang):
    frame = load_catalogue(lang)
    assert len(frame) == 30 and set(frame["code"]) == ARTICLE_CODES
    assert list(frame.columns) == list(CATALOGUE_COLUMNS)
    assert list(frame.columns[:12]) == CONTRACT_COLUMNS
    assert set(frame["category_label"]) <= {category_label(c, lang=lang) for c in frame["category"]}


def test_french_catalogue_falls_back_to_english_for_the_missing_code():
    frame = load_catalogue("fr").set_index("code")
    assert frame.loc["0x80070490", "lang"] == "en"
    assert frame.loc["0x80070490", "source"] == Path(SHIPPED_FILES["en"]).name
    assert frame.loc["0x80070490", "message"].startswith("The product key you entered")
    assert frame.loc["0x80070490", "category_label"] == "Clé de produit"
    assert set(frame.drop(index="0x80070490")["lang"]) == {"fr"}
    assert frame.index[-1] == "0x80070490"


def test_load_catalogue_returns_independent_copies():
    first = load_catalogue("en")
    first.loc[0, "message"] = "changed"
    first.loc[0, "activation_types"].append("changed")
    first.loc[0, "links"][0]["url"] = "changed"
    again = load_catalogue("en")
    assert again.loc[0, "message"] != "changed"
    assert "changed" not in again.loc[0, "activation_types"]
    assert again.loc[0, "links"][0]["url"].startswith("https://")


def test_load_catalogue_parses_once_per_language():
    from activation_kb.catalogue.article import _cached

    load_catalogue("en")
    before = _cached.cache_info()
    load_catalogue("en")
    after = _cached.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 1


@pytest.mark.parametrize("lang", ["de", "EN", "", None, "en-US"])
def test_load_catalogue_rejects_other_languages(lang):
    with pytest.raises(UnsupportedLanguageError, match=r"expected one of: en, fr") as info:
        load_catalogue(lang)
    assert repr(lang) in str(info.value)
    assert isinstance(info.value, ValueError)
