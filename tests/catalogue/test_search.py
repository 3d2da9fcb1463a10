"""lookup: codes in any spelling, words ranked by relevance, accents and case ignored."""

import re

import pytest
from conftest import TEST_DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from activation_kb import (
    InvalidCodeError,
    UnsupportedLanguageError,
    load_catalogue,
    lookup,
    parse_catalogue,
)
from activation_kb.catalogue.article import CATALOGUE_COLUMNS
from activation_kb.catalogue.categories import load_categories
from activation_kb.catalogue.search import normalize_words, query_code

COLUMNS = [*CATALOGUE_COLUMNS, "score"]


@pytest.mark.parametrize(
    "query",
    ["0xC004F074", "0XC004F074", "0 x C004F074", "C004F074", "c004f074", "hr=0xC004F074",
     "Reason:0xC004F074", "3221549172", "-1073418124", 3221549172, -1073418124],
)
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_code_in_any_spelling(query, lang):
    result = lookup(query, lang=lang)
    assert list(result.columns) == COLUMNS
    assert result["code"].tolist() == ["0xC004F074"] and result["score"].tolist() == [1.0]
    assert result["lang"].tolist() == [lang]
    assert result.index.tolist() == [0]


def test_valid_code_outside_the_article_gives_an_empty_frame():
    result = lookup("0x80072EE7")
    assert result.empty and list(result.columns) == COLUMNS


def test_malformed_hex_code_raises():
    with pytest.raises(InvalidCodeError, match="'0xZZZZ'"):
        lookup("0xZZZZ")
    with pytest.raises(InvalidCodeError, match="not a lookup query"):
        lookup(["0xC004F074"])


def test_unknown_language_raises():
    with pytest.raises(UnsupportedLanguageError, match="'de'"):
        lookup("DNS", lang="de")


def test_horloge_finds_the_clock_code_through_the_french_label():
    for lang in ("en", "fr"):
        assert lookup("horloge", lang=lang)["code"].tolist() == ["0xC004F06C"]


def test_dns_ranks_the_dns_codes_first():
    result = lookup("DNS")
    dns = set(load_categories().query("category == 'dns'")["code"])
    assert set(result["code"].head(len(dns))) == dns
    assert result["score"].iloc[0] == 1.0
    assert result["score"].is_monotonic_decreasing and (result["score"] > 0).all()


def test_grace_period_ranks_the_grace_codes_first():
    result = lookup("grace period")
    assert set(result["code"].head(3)) == {"0xC004F009", "0xC004F064", "0xC004F065"}
    assert "0xC004F00F" in set(result["code"])  # "OOT grace period" in its resolution


@pytest.mark.parametrize(
    ("one", "other"),
    [("PÉRIODE DE GRÂCE", "periode de grace"), ("Horodatage", "HORODATAGE"),
     ("clé de produit", "cle de PRODUIT")],
)
def test_accents_and_case_do_not_matter(one, other):
    first, second = lookup(one, lang="fr"), lookup(other, lang="fr")
    assert not first.empty
    assert first["code"].tolist() == second["code"].tolist()
    assert first["score"].tolist() == second["score"].tolist()


def test_every_word_must_match():
    assert lookup("DNS zebra").empty
    both = set(lookup("DNS server")["code"])
    assert both and both <= set(lookup("DNS")["code"]) & set(lookup("server")["code"])


def test_prefix_matches_longer_words():
    assert "0xC004F041" in set(lookup("activat")["code"])


def test_decimal_number_that_is_no_code_is_a_word():
    assert query_code("1688") is None
    assert "0xC004F039" in set(lookup("1688")["code"])
    assert query_code("3221549172") == "0xC004F074"
    assert query_code("0x80072EE7") == "0x80072EE7"
    assert query_code("DNS") is None


def test_nothing_matches_gives_an_empty_frame_with_the_columns():
    for query in ("zzzzqqq", "", "   ", "!!!"):
        result = lookup(query)
        assert result.empty and list(result.columns) == COLUMNS


def test_results_are_independent_of_the_cache():
    first = lookup("0xC004F074")
    first.loc[0, "message"] = "changed"
    first["score"] = 0.0
    again = lookup("0xC004F074")
    assert again.loc[0, "message"] != "changed" and again.loc[0, "score"] == 1.0
    words = lookup("DNS")
    words.loc[0, "cause"] = "changed"
    assert "changed" not in set(lookup("DNS")["cause"])


def test_lookup_in_a_given_catalogue():
    frame = parse_catalogue((TEST_DATA / "catalogue" / "translated_es.md").read_text("utf-8"))
    assert lookup("0x80070005", catalogue=frame)["lang"].tolist() == ["es"]
    assert lookup("0xC004F074", catalogue=frame).empty
    assert lookup("simbolo sistema", catalogue=frame)["code"].tolist() == ["0x80070005"]


def _searched_words(row, labels):
    # link targets are not searched, their text is
    text = " ".join([row.message, row.cause, row.resolution, labels[row.category]])
    return set(normalize_words(re.sub(r"\]\([^)]*\)", "]", text)))


_EN = load_catalogue("en")
_LABELS = {
    row.category: f"{row.label_en} {row.label_fr}"
    for row in load_categories().drop_duplicates("category").itertuples()
}
_VOCABULARY = sorted(
    {
        w
        for row in _EN.itertuples()
        for w in _searched_words(row, _LABELS)
        if not w.isdigit() and not w.startswith("0x")  # those are read as codes
    }
)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(_VOCABULARY))
def test_a_word_finds_exactly_the_rows_holding_it_or_a_longer_word(word):
    found = set(lookup(word)["code"])
    expected = {
        row.code
        for row in _EN.itertuples()
        if any(w == word or (len(word) >= 3 and w.startswith(word))
               for w in _searched_words(row, _LABELS))
    }
    assert found == expected
