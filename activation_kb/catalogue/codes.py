"""Activation error codes: one canonical spelling for every way people write an HRESULT.

The canonical text of a code is ``0x`` followed by eight upper-case hexadecimal digits
(``0xC004F074``); its value is the unsigned 32-bit integer.
"""

from __future__ import annotations

import numbers
import re

from ..errors import InvalidCodeError

__all__ = ["normalize_code", "code_value", "find_codes", "CODE_IN_TEXT"]

#: A hexadecimal code written with a ``0x`` prefix inside free text, tolerating the spaces that
#: machine translation inserts (``0 x 80070005``). Group 1 holds the hex digits.
CODE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])0\s?[xX]\s?([0-9A-Fa-f]{8})(?![0-9A-Fa-f])")

# "hr=0x...", "Reason:0x...", "Error code: 0x...", "HRESULT 0x..." : a short label before the code.
_LABELS = (
    re.compile(r"^[A-Za-z][A-Za-z _-]{0,30}+[ \t]*+[=:#]\s*+(.+)$"),  # hr=..., Reason:..., Code #
    re.compile(r"^[A-Za-z][A-Za-z_-]{0,30}+\s++(.+)$"),  # HRESULT 0x..., Error 0x...
)
_HEX_PREFIXED = re.compile(r"^0\s*+[xX]\s*+([0-9A-Fa-f]{1,8})$")
_HEX_BARE = re.compile(r"^[0-9A-Fa-f]{8}$")
_DECIMAL = re.compile(r"^[-+]?[0-9]{1,10}$")

_MAX = 0xFFFFFFFF


def _from_int(value: int, original: object) -> int:
    if -(2**31) <= value < 0:
        return value & _MAX
    if 0 <= value <= _MAX:
        return value
    raise InvalidCodeError(
        f"{original!r} is not an activation error code: {value} is outside the 32-bit range "
        f"(-2147483648 to 4294967295)"
    )


def code_value(code: object) -> int:
    """Return the unsigned 32-bit value of an error code written in any accepted spelling.

    Parameters
    ----------
    code : str or int
        See :func:`normalize_code` for the accepted spellings.

    Returns
    -------
    int
        The code as an unsigned 32-bit integer (0 to 0xFFFFFFFF).

    Raises
    ------
    InvalidCodeError
        When ``code`` is not a recognisable 32-bit code.
    """
    if isinstance(code, bool):
        raise InvalidCodeError(f"{code!r} is not an activation error code: booleans are not codes")
    if isinstance(code, numbers.Integral):
        return _from_int(int(code), code)
    if not isinstance(code, str):
        raise InvalidCodeError(
            f"{code!r} is not an activation error code: expected a string or an integer, "
            f"not {type(code).__name__}"
        )
    text = code.strip().replace("\u00a0", " ")
    match = _HEX_PREFIXED.match(text) or _HEX_BARE.match(text)
    if match is None and not _DECIMAL.match(text):
        for label in _LABELS:
            labelled = label.match(text)
            if labelled is not None:
                text = labelled.group(1).strip()
                match = _HEX_PREFIXED.match(text) or _HEX_BARE.match(text)
                break
    if match is not None:
        digits = match.group(1) if match.groups() else match.group(0)
        return int(digits, 16)
    if _DECIMAL.match(text):
        return _from_int(int(text), code)
    raise InvalidCodeError(
        f"{code!r} is not an activation error code: expected a 32-bit HRESULT such as "
        f"0xC004F074, C004F074, 3221549172 or -1073418124"
    )


def normalize_code(code: object) -> str:
    """Return the canonical spelling ``0xXXXXXXXX`` of an activation error code.

    Parameters
    ----------
    code : str or int
        The code as people and tools write it: ``0xC004F074``, ``0XC004F074``, ``0 x C004F074``,
        ``C004F074`` (exactly eight hex digits), ``c004f074``, ``hr=0xC004F074``,
        ``Reason:0xC004F074``, unsigned decimal ``3221549172``, signed decimal ``-1073418124``, or
        an integer. A bare string of eight hexadecimal digits is read as hexadecimal even when all
        its digits are decimal (``80070005`` is 0x80070005), as Windows tools print it.

    Returns
    -------
    str
        ``0x`` followed by eight upper-case hexadecimal digits.

    Raises
    ------
    InvalidCodeError
        When ``code`` is not a recognisable 32-bit code; the message names the input.

    Examples
    --------
    >>> normalize_code("hr=0xc004f074")
    '0xC004F074'
    >>> normalize_code(-1073418124)
    '0xC004F074'
    """
    return f"0x{code_value(code):08X}"


def find_codes(text: str) -> list[str]:
    """Return every ``0x``-prefixed eight-digit code found in free text, canonical, in order.

    Parameters
    ----------
    text : str
        Any text, such as an event message or a table cell.

    Returns
    -------
    list of str
        Canonical codes, duplicates kept in order of appearance.
    """
    return [f"0x{m.group(1).upper()}" for m in CODE_IN_TEXT.finditer(text)]
