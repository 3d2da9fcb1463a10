import pytest
from hypothesis import given
from hypothesis import strategies as st

from activation_kb import InvalidCodeError, normalize_code
from activation_kb.catalogue.codes import code_value, find_codes


@pytest.mark.parametrize(
    "spelling",
    [
        "0xC004F074", "0XC004F074", "0 x C004F074", "C004F074", "c004f074", "hr=0xC004F074",
        "Reason:0xC004F074", "3221549172", "-1073418124", 3221549172, -1073418124,
        "  0xc004f074  ", "Error code: 0xC004F074", "HRESULT 0xC004F074", "0x c004F074",
    ],
)
def test_normalize_code_spellings(spelling):
    assert normalize_code(spelling) == "0xC004F074"


def test_normalize_code_spaces_from_translation():
    assert normalize_code("0 x 80070005") == "0x80070005"


def test_bare_eight_digits_are_hex():
    assert normalize_code("80070005") == "0x80070005"


@pytest.mark.parametrize(
    "bad", ["", "hello", "0x", "0xZZZZZZZZ", "C004F07", "0x1C004F074", "4294967296",
            "-2147483649", 2**32, -(2**31) - 1, True, 1.5, None, "Reason:"],
)
def test_normalize_code_rejects(bad):
    with pytest.raises(InvalidCodeError) as info:
        normalize_code(bad)
    assert repr(bad) in str(info.value)
    assert isinstance(info.value, ValueError)


SPELLINGS = [
    lambda v: f"0x{v:08X}", lambda v: f"0x{v:08x}", lambda v: f"0X{v:X}", lambda v: f"{v:08X}",
    lambda v: f"{v:08x}", lambda v: f"0 x {v:08X}", lambda v: f"hr=0x{v:08X}",
    lambda v: f"Reason:0x{v:08x}", lambda v: v, lambda v: v - 2**32 if v >= 2**31 else v,
]


@given(st.integers(0, 2**32 - 1), st.sampled_from(range(len(SPELLINGS))))
def test_round_trip_any_value_any_spelling(value, which):
    spelled = SPELLINGS[which](value)
    assert normalize_code(spelled) == f"0x{value:08X}"
    assert code_value(normalize_code(spelled)) == value


@given(st.integers(0, 2**32 - 1))
def test_decimal_strings_round_trip_unless_eight_characters(value):
    # An eight-character bare string is read as hex (documented); other decimals are decimal.
    text = str(value)
    expected = int(text, 16) if len(text) == 8 else value
    assert code_value(text) == expected


def test_find_codes_in_text():
    text = "0 x 80092328 le nom DNS n'existe pas; voir aussi 0xc004f074 et 0x8007232B."
    assert find_codes(text) == ["0x80092328", "0xC004F074", "0x8007232B"]
