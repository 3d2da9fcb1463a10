"""Decode an activation error code: HRESULT fields, Win32 error, SL_E_* symbol, article status."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ..resources import package_data_path
from .article import cached_catalogue
from .categories import category_label, category_of
from .codes import code_value

__all__ = ["CodeDescription", "FACILITY_NAMES", "KNOWN_DEFECTS", "describe_code"]

#: HRESULT facility numbers and their winerror.h names (FACILITY_xxx without the prefix).
FACILITY_NAMES: dict[int, str] = {
    0: "NULL",
    1: "RPC",
    2: "DISPATCH",
    3: "STORAGE",
    4: "ITF",
    7: "WIN32",
    8: "WINDOWS",
    9: "SECURITY",
    10: "CONTROL",
    11: "CERT",
    12: "INTERNET",
    13: "MEDIASERVER",
    14: "MSMQ",
    15: "SETUPAPI",
    16: "SCARD",
    17: "COMPLUS",
    18: "AAF",
    19: "URT",
    20: "ACS",
    21: "DPLAY",
    22: "UMI",
    23: "SXS",
    24: "WINDOWS_CE",
    25: "HTTP",
    32: "BACKGROUNDCOPY",
    33: "CONFIGURATION",
    34: "STATE_MANAGEMENT",
    35: "METADIRECTORY",
    36: "WINDOWSUPDATE",
    37: "DIRECTORYSERVICE",
}

_FACILITY_WIN32 = 7

#: Defects of the article's codes that the bits alone do not reveal, reported by describe_code.
KNOWN_DEFECTS: dict[int, str] = {
    0x80092328: (
        "The article lists 0x80092328 with the message and fix of 0x8007232B (DNS name does not "
        "exist, DNS_ERROR_RCODE_NAME_ERROR). As an HRESULT it is FACILITY_SECURITY code 0x2328 "
        "(9000, the base of the DNS error numbers), not a known SDK error: it looks like a "
        "garbled 0x8007232B. Check the code in the event log."
    ),
}


@dataclass(frozen=True)
class CodeDescription:
    """What a 32-bit activation error code means, decoded from its bits and the shipped tables.

    Attributes
    ----------
    code : str
        Canonical spelling, ``0xC004F074``.
    value : int
        Unsigned 32-bit value.
    severity : str
        ``"failure"`` when bit 31 is set, else ``"success"``.
    customer : bool
        Bit 29, set for codes defined outside Microsoft.
    facility : int
        Bits 16 to 26.
    facility_name : str or None
        ``"WIN32"``, ``"ITF"``, ``"NULL"``, ``"RPC"``, ... where winerror.h names it.
    code_number : int
        The low 16 bits.
    win32_error : int or None
        The Win32 error number (``code_number``) when the facility is WIN32.
    win32_name : str or None
        Its symbolic name (``DNS_ERROR_RCODE_NAME_ERROR``) where the shipped table knows it.
    symbol : str or None
        The ``SL_E_*`` / ``SL_I_*`` symbol of the Software Licensing table, else ``win32_name``.
    message : str or None
        The SDK message of that symbol or Win32 error.
    in_article : bool
        Whether the article "Troubleshoot activation error codes" documents the code.
    category : str
        The code's category (``"other"`` when the article does not document it).
    category_label : str
        English label of the category.
    notes : tuple of str
        Known defects of the sources about this code.
    """

    code: str
    value: int
    severity: str
    customer: bool
    facility: int
    facility_name: str | None
    code_number: int
    win32_error: int | None
    win32_name: str | None
    symbol: str | None
    message: str | None
    in_article: bool
    category: str
    category_label: str
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-ready dict.

        Returns
        -------
        dict
            Every field, ``notes`` as a list.
        """
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data

    def summary(self) -> str:
        """Return a few readable lines describing the code.

        Returns
        -------
        str
            The code, its severity, facility and number, and what names it.
        """
        facility = f"{self.facility} ({self.facility_name or 'unknown'})"
        lines = [
            f"{self.code} ({self.value})",
            f"  severity: {self.severity}, facility: {facility}, "
            f"code: 0x{self.code_number:04X} ({self.code_number})"
            + (", customer-defined" if self.customer else ""),
        ]
        if self.win32_error is not None:
            lines.append(f"  Win32 error: {self.win32_error} {self.win32_name or '(name unknown)'}")
        if self.symbol and self.symbol != self.win32_name:
            lines.append(f"  symbol: {self.symbol}")
        if self.message:
            lines.append(f"  message: {self.message}")
        where = "documented" if self.in_article else "not documented"
        lines.append(f"  article: {where}; category: {self.category} ({self.category_label})")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def describe_code(code: object) -> CodeDescription:
    """Decode an error code: HRESULT fields, Win32 error, SL_E_* symbol and article status.

    Parameters
    ----------
    code : str or int
        Any spelling accepted by :func:`~activation_kb.normalize_code`.

    Returns
    -------
    CodeDescription
        Frozen; ``as_dict()`` gives JSON-ready data, ``str()`` a readable summary.

    Raises
    ------
    InvalidCodeError
        When ``code`` is not a valid 32-bit code.

    Examples
    --------
    >>> describe_code("0x8007232B").win32_name
    'DNS_ERROR_RCODE_NAME_ERROR'
    >>> describe_code(-1073418124).symbol
    'SL_E_VL_BINDING_SERVICE_UNAVAILABLE'
    """
    value = code_value(code)
    facility = (value >> 16) & 0x7FF
    number = value & 0xFFFF
    win32_error = number if facility == _FACILITY_WIN32 else None
    win32_name, win32_message = _win32_errors().get(win32_error, (None, None))
    symbol, message = _sl_codes().get(value, (win32_name, win32_message))
    category = category_of(value)
    return CodeDescription(
        code=f"0x{value:08X}",
        value=value,
        severity="failure" if value & 0x80000000 else "success",
        customer=bool(value & 0x20000000),
        facility=facility,
        facility_name=FACILITY_NAMES.get(facility),
        code_number=number,
        win32_error=win32_error,
        win32_name=win32_name,
        symbol=symbol,
        message=message,
        in_article=value in _article_values(),
        category=category,
        category_label=category_label(category),
        notes=_notes(value),
    )


def _notes(value: int) -> tuple[str, ...]:
    notes = [KNOWN_DEFECTS[value]] if value in KNOWN_DEFECTS else []
    if value in _article_values() and value not in _sl_codes():
        # A severity mismatch with the SDK: the same facility and number, other top bits.
        for other in (value & 0x3FFFFFFF | 0x40000000, value & 0x3FFFFFFF):
            if other != value and other in _sl_codes():
                symbol = _sl_codes()[other][0]
                kind = "informational" if other & 0x40000000 else "success"
                notes.append(
                    f"The SDK defines this value as 0x{other:08X} {symbol} ({kind}, not a "
                    f"failure); the article writes it with the failure bit set."
                )
    return tuple(notes)


@lru_cache(maxsize=1)
def _sl_codes() -> dict[int, tuple[str, str]]:
    with package_data_path("sl_error_codes_pykms.tsv").open(encoding="utf-8", newline="") as f:
        return {
            int(row["hresult"], 16): (row["symbol"], row["message"])
            for row in csv.DictReader(f, delimiter="\t")
        }


@lru_cache(maxsize=1)
def _win32_errors() -> dict[int, tuple[str, str]]:
    with package_data_path("win32_errors.tsv").open(encoding="utf-8", newline="") as f:
        return {
            int(row["number"]): (row["name"], row["message"])
            for row in csv.DictReader(f, delimiter="\t")
        }


@lru_cache(maxsize=1)
def _article_values() -> frozenset[int]:
    return frozenset(int(v) for v in cached_catalogue("en")["value"])
