"""Categories: the issue's table of documented codes, English and French labels."""

import pytest

from activation_kb import (
    CATEGORY_NAMES,
    ChoiceError,
    UnsupportedLanguageError,
    category_label,
    category_of,
    load_catalogue,
    load_categories,
)

# The issue's table, word for word.
ISSUE_TABLE = {
    "dns": "0x8007232A 0x8007232B 0x8007251D 0x8007007B 0x80092328",
    "kms_unreachable": "0xC004F074 0x800706BA 0xC004F039",
    "kms_count": "0xC004F038",
    "kms_host": "0xC004F041 0xC004F042",
    "clock": "0xC004F06C",
    "product_key": "0xC004C001 0xC004C003 0xC004B100 0xC004F014 0xC004F035 0xC004F050 "
                   "0xC004F051 0x80070490",
    "activation_limit": "0xC004C008 0xC004C020 0xC004C021",
    "grace_genuine": "0xC004F009 0xC004F064 0xC004F065 0x8004FE21",
    "hardware": "0xC004F00F",
    "offline_data": "0xC004F02C",
    "permissions": "0x80070005",
}


def test_categories_follow_the_issue_table():
    assert CATEGORY_NAMES == (*ISSUE_TABLE, "other")
    for category, codes in ISSUE_TABLE.items():
        for code in codes.split():
            assert category_of(code.lower()) == category


def test_every_article_code_has_a_category_and_others_are_other():
    assert "other" not in set(load_catalogue("en")["category"])
    assert category_of("0x80072EE7") == category_of(0) == "other"
    documented = set(load_categories()["code"]) - {""}
    assert documented == set(load_catalogue("en")["code"])


def test_labels_in_both_languages():
    assert category_label("clock") == "Clock and time stamp"
    assert category_label("clock", lang="fr") == "Horloge et horodatage"
    assert all(category_label(c, lang="fr") and category_label(c, lang="en")
               for c in CATEGORY_NAMES)
    with pytest.warns(DeprecationWarning, match="lang=..."):  # the 0.1 form still works
        assert category_label("clock", "fr") == "Horloge et horodatage"


def test_label_errors():
    with pytest.raises(UnsupportedLanguageError, match="'de'"):
        category_label("clock", lang="de")
    with pytest.raises(ChoiceError, match="category='weather': unknown category; expected one "
                                          "of: dns, kms_unreachable") as info:
        category_label("weather")
    assert isinstance(info.value, ValueError) and info.value.parameter == "category"
