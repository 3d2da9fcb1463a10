"""describe_code: HRESULT fields, Win32 names, SL_E_* symbols, article status, known defects."""

import csv
import dataclasses
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activation_kb import CodeDescription, InvalidCodeError, describe_code, load_catalogue
from activation_kb.resources import package_data_path

# Win32 names that describe_code must know (from winerror.h / wininet.h): every 0x8007xxxx of
# the article plus the codes the issue lists.
WIN32_NAMES = {
    "0x80070005": "ERROR_ACCESS_DENIED",
    "0x8007232A": "DNS_ERROR_RCODE_SERVER_FAILURE",
    "0x8007232B": "DNS_ERROR_RCODE_NAME_ERROR",
    "0x800706BA": "RPC_S_SERVER_UNAVAILABLE",
    "0x8007251D": "DNS_INFO_NO_RECORDS",
    "0x8007007B": "ERROR_INVALID_NAME",
    "0x80070490": "ERROR_NOT_FOUND",
    "0x80072EE7": "ERROR_INTERNET_NAME_NOT_RESOLVED",
    "0x8007267C": "DNS_ERROR_NO_DNS_SERVERS",
    "0x80072338": "DNS_ERROR_RCODE_BADSIG",
    "0x8007000D": "ERROR_INVALID_DATA",
    "0x8007139F": "ERROR_INVALID_STATE",
}


def test_describe_kms_unreachable():
    d = describe_code("0xC004F074")
    assert d.code == "0xC004F074" and d.value == 0xC004F074
    assert (d.severity, d.customer, d.facility, d.facility_name) == ("failure", False, 4, "ITF")
    assert d.code_number == 0xF074
    assert d.win32_error is None and d.win32_name is None
    assert d.symbol == "SL_E_VL_BINDING_SERVICE_UNAVAILABLE"
    assert d.message.startswith("The Software Licensing Service reported that the product")
    assert d.in_article is True
    assert (d.category, d.category_label) == ("kms_unreachable", "KMS host unreachable")
    assert d.notes == ()


@pytest.mark.parametrize(("code", "name"), sorted(WIN32_NAMES.items()))
def test_win32_names(code, name):
    d = describe_code(code)
    assert d.facility == 7 and d.facility_name == "WIN32"
    assert d.win32_error == int(code, 16) & 0xFFFF
    assert d.win32_name == name == d.symbol
    assert d.message and d.message.endswith(".")


def test_every_win32_code_of_the_article_has_a_name():
    codes = [c for c in load_catalogue("en")["code"] if c.startswith("0x8007")]
    assert len(codes) == 7
    assert all(describe_code(c).win32_name for c in codes)


def test_every_sl_code_of_the_article_has_its_sdk_symbol_except_the_defective_one():
    missing = [
        code for code in load_catalogue("en")["code"]
        if code.startswith("0xC004") and describe_code(code).symbol is None
    ]
    assert missing == ["0xC004F065"]


def test_garbled_dns_code_is_reported():
    d = describe_code("0x80092328")
    assert (d.facility, d.facility_name, d.code_number) == (9, "SECURITY", 0x2328)
    assert d.in_article and d.category == "dns"
    assert d.symbol is None and d.message is None
    assert len(d.notes) == 1 and "0x8007232B" in d.notes[0] and "garbled" in d.notes[0]


def test_informational_sdk_code_written_as_failure_is_reported():
    d = describe_code("0xC004F065")
    assert d.symbol is None
    assert len(d.notes) == 1
    assert "0x4004F065 SL_I_NONGENUINE_GRACE_PERIOD (informational" in d.notes[0]
    sdk = describe_code("0x4004F065")
    assert sdk.severity == "success" and sdk.symbol == "SL_I_NONGENUINE_GRACE_PERIOD"
    assert sdk.in_article is False and sdk.category == "other" and sdk.notes == ()


def test_only_the_two_known_defects_carry_notes():
    noted = [c for c in load_catalogue("en")["code"] if describe_code(c).notes]
    assert sorted(noted) == ["0x80092328", "0xC004F065"]


def test_code_outside_the_article():
    d = describe_code("0x80072EE7")
    assert d.in_article is False and d.category == "other"
    assert d.message == "The server name could not be resolved."
    assert d.facility_name == "WIN32" and d.win32_error == 12007


def test_success_null_and_customer_bits():
    zero = describe_code(0)
    assert (zero.severity, zero.facility_name, zero.symbol, zero.win32_error) == (
        "success", "NULL", None, None,
    )
    custom = describe_code(0xA0010005)
    assert custom.customer is True and custom.facility_name == "RPC"
    assert describe_code(0x87FF0001).facility_name is None


def test_as_dict_is_json_ready_and_lists_every_field():
    data = describe_code("0xC004F065").as_dict()
    assert list(data) == [f.name for f in dataclasses.fields(CodeDescription)]
    assert isinstance(data["notes"], list) and data["notes"]
    assert json.loads(json.dumps(data)) == data


def test_summary_is_readable():
    d = describe_code("0x8007232B")
    text = str(d)
    assert text == d.summary()
    assert text.splitlines()[0] == "0x8007232B (2147951403)"
    assert "Win32 error: 9003 DNS_ERROR_RCODE_NAME_ERROR" in text
    assert "message: DNS name does not exist." in text
    assert "article: documented; category: dns" in text
    assert "note: " in str(describe_code("0x80092328"))


def test_description_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        describe_code("0xC004F074").code = "x"


@pytest.mark.parametrize("bad", ["", "nope", "0x1C004F074", 2**32, None, 1.0])
def test_invalid_codes_raise(bad):
    with pytest.raises(InvalidCodeError, match=re.escape(repr(bad))):
        describe_code(bad)


@given(st.integers(0, 2**32 - 1))
def test_fields_rebuild_the_value_for_any_code(value):
    d = describe_code(value)
    rebuilt = (
        (0x80000000 if d.severity == "failure" else 0)
        | (0x20000000 if d.customer else 0)
        | (d.facility << 16)
        | d.code_number
    )
    assert rebuilt == value & ~0x58000000  # bits 30, 28 and 27 are not fields of their own
    assert (d.win32_error is not None) == (d.facility == 7)
    signed = value - 2**32 if value >= 2**31 else value
    assert describe_code(f"0x{value:08x}") == d == describe_code(signed)


def test_shipped_tables_have_unique_keys():
    with package_data_path("win32_errors.tsv").open(encoding="utf-8") as f:
        win32 = list(csv.DictReader(f, delimiter="\t"))
    assert len({int(r["number"]) for r in win32}) == len(win32)
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+", r["name"]) and r["message"] for r in win32)
    with package_data_path("sl_error_codes_pykms.tsv").open(encoding="utf-8") as f:
        sl = list(csv.DictReader(f, delimiter="\t"))
    assert len(sl) == 358 and len({int(r["hresult"], 16) for r in sl}) == len(sl)
