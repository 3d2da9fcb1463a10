"""lookup's arguments: a catalogue that is not one is named, the 0.1 positions still work."""

from __future__ import annotations

import pandas as pd
import pytest

from activation_kb import SchemaError, load_catalogue, lookup


@pytest.mark.parametrize(
    "catalogue, match",
    [
        (pd.DataFrame({"code": ["0xC004F074"]}), r"catalogue lacks column\(s\) \['value', "
                                                 r"'message', 'category', 'cause', 'resolution'\]"),
        (pd.DataFrame(), "catalogue lacks column"),
        ("fr", "catalogue must be a catalogue DataFrame .* not the str 'fr'"),
        ({"code": "0xC004F074"}, "not the dict"),
    ],
)
def test_a_bad_catalogue_is_named(catalogue, match):
    """lookup(catalogue=bad) used to raise a bare KeyError."""
    with pytest.raises(SchemaError, match=match) as info:
        lookup("0xC004F074", catalogue=catalogue)
    assert isinstance(info.value, ValueError)


def test_positional_language_still_works_with_a_warning():
    french = load_catalogue("fr")
    with pytest.warns(DeprecationWarning, match=r"lookup\(\): passing lang by position"):
        old = lookup("horloge", "fr")
    new = lookup("horloge", lang="fr")
    pd.testing.assert_frame_equal(old, new)
    assert list(lookup("horloge", catalogue=french)["code"]) == list(new["code"]) == [
        "0xC004F06C"]
