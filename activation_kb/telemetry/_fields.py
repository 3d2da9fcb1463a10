"""Activation fields of each event kind, parsed column-wise from the records' insertion strings.

A record's insertion strings (``<Data>`` items, ``<Param>`` items, or the Info line of a
message) reach this module joined by :data:`SEP` (U+001F, which XML 1.0 cannot carry, so the join
is lossless). Field orders follow the reference notes (``telemetry-formats.md`` section 1):

* 12288 (client request): one Info string ``hr, flags, host:port, cmid, client time, vm,
  license status, minutes to expiry, sku id, min count`` (or one item per field).
* 12289 (client response): ``hr, flags, fBound, unused, kms count, activation interval,
  renewal interval, client time``.
* 12290 (KMS host): ten ``<Data>`` items, item 0 unused, then ``hr, min count, client name,
  cmid, client time, vm, license status, minutes to expiry, sku id``; the rendered Info string
  holds items 1-9 joined by ``,``.
* 8198 ``hr=0x...`` and ``RuleId=...;AppId=...;SkuId=...;Trigger=...``; 8233 ``Reason:0x...``,
  ``AppId = ..., SkuId = ...``, ``Trigger=...``; 12293 ``hr, domain``; 12308 ``sku id, ...``;
  1003 ``app id, status``.

Every parser takes the insertion strings of the records of one kind (a pyarrow string array)
and returns ``{column: values}`` aligned with it. A value that is present but does not parse
(a code that cannot be a 32-bit HRESULT, a number out of its column's range, a client time out
of range) becomes missing and is listed under :data:`UNREADABLE` as ``(column, where, text,
reason)``: the record is still loaded, and the loader reports each such value with its record.

HRESULTs are read in every spelling the exports use: ``0xC004F074``, ``C004F074``, unsigned
decimal ``3221549172`` and signed decimal ``-1073418124`` (how some tools print an HRESULT).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

from .. import schema as S
from ..catalogue.codes import code_value
from ..errors import InvalidCodeError

__all__ = ["SEP", "KIND_PARSERS", "HR", "BOUND", "UNREADABLE", "TIME_RANGE", "bounded_times",
           "parse_times"]

#: Separator of insertion strings inside one record's ``data`` text.
SEP = "\x1f"
#: Keys of the parsers' output that are not canonical columns.
HR, BOUND = "_hr", "_bound"
#: Key of the parsers' output listing values present but unreadable: ``[(column, mask, text,
#: reason)]``, ``mask`` a boolean array over the parser's input, ``text`` the values as found.
UNREADABLE = "_unreadable"
#: Times the events frame can hold (nanoseconds since 1970 in 64 bits, a day spare for time
#: zones). A zero FILETIME (1601-01-01) or 9999-12-31 falls outside.
TIME_RANGE = (pd.Timestamp("1677-09-22"), pd.Timestamp("2262-04-10"))
_COLUMN_OF = {HR: S.RESULT_CODE, BOUND: S.IS_SUCCESS}
_CODE_WHY = ("not a 32-bit HRESULT; expected a code such as 0xC004F074, 3221549172 or "
             "-1073418124")
_TIME_WHY = ("not a client time in range; expected yyyy/mm/dd hh:mm between "
             f"{TIME_RANGE[0].year} and {TIME_RANGE[1].year}")

_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_LIMITS = {"Int8": (-128, 127), "Int16": (-(2**15), 2**15 - 1), "Int32": (-(2**31), 2**31 - 1),
           "UInt16": (0, 2**16 - 1), "UInt32": (0, 2**32 - 1), "Int64": (-(2**63), 2**63 - 1)}


def items(data: pa.Array, count: int, *, info: bool = False, lead: bool = False) -> list[pa.Array]:
    """Split insertion strings into ``count`` trimmed fields (missing fields are ``""``).

    ``info=True``: a record holding one string is an Info line, split on ``,``; ``lead=True``
    then also puts an empty field 0 in front (the rendered 12290 Info lacks Data[0]).
    """
    if info:
        single = pc.equal(pc.count_substring(data, SEP), 0)
        split = pc.replace_substring(data, ",", SEP)
        if lead:
            split = pc.binary_join_element_wise(SEP, split, "")
        data = pc.if_else(single, split, data)
    padded = pc.binary_join_element_wise(data, SEP * count, "")
    lists = pc.split_pattern(padded, SEP, max_splits=count)
    return [pc.utf8_trim_whitespace(pc.list_element(lists, i)) for i in range(count)]


def _extract(data: pa.Array, pattern: str) -> pa.Array:
    """Return the named group ``v`` of ``pattern`` in each string (null when it does not match)."""
    return pc.struct_field(pc.extract_regex(data, pattern), [0])


def _by_unique(arr: pa.Array, convert: Callable[[str], object], dtype: str) -> ExtensionArray:
    """Convert each distinct string once (activation fields repeat a lot), then spread back."""
    enc = pc.dictionary_encode(arr)
    uniques = enc.dictionary.to_pylist()
    converted = pd.array([convert(u) for u in uniques], dtype=dtype)
    idx = enc.indices.to_numpy(zero_copy_only=False)
    nulls = np.isnan(idx) if idx.dtype.kind == "f" else np.zeros(len(idx), bool)
    out = converted.take(np.where(nulls, -1, idx).astype(np.int64), allow_fill=True)
    return out


def bounded_times(out: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Blank the times outside :data:`TIME_RANGE`; return (nanosecond times, where blanked)."""
    lo, hi = TIME_RANGE
    if out.dt.tz is not None:
        lo, hi = lo.tz_localize("UTC"), hi.tz_localize("UTC")
    outside = (out.notna() & ((out < lo) | (out > hi))).to_numpy().copy()
    if outside.any():
        out = out.where(~outside)
    return out.astype(f"datetime64[ns{', UTC' if out.dt.tz is not None else ''}]"), outside


_FRACTION = r"(\.\d{6})\d+"


def parse_times(text: pd.Series, fmt: str = "ISO8601", utc: bool = True,
                ) -> tuple[pd.Series, np.ndarray]:
    """Parse times in nanoseconds; return (times, where a time is valid but out of range).

    A time that does not parse, or falls outside :data:`TIME_RANGE`, is missing. Raises
    ``ValueError``/``TypeError`` as :func:`pandas.to_datetime` does on mixed naive/aware input.
    """
    out, outside = bounded_times(pd.to_datetime(text, format=fmt, errors="coerce", utc=utc))
    failed = (out.isna() & text.notna() & (text != "")).to_numpy() & ~outside
    if failed.any():  # a batch read in nanoseconds blanks the times it cannot hold: which?
        again = text[failed].str.replace(_FRACTION, r"\1", regex=True)
        try:
            second = pd.to_datetime(again, format=fmt, errors="coerce", utc=utc)
        except (ValueError, TypeError):
            second = None
        if second is not None:
            outside[np.flatnonzero(failed)] = bounded_times(second)[1]
    return out, outside


def _code(text: str | None) -> int | None:
    if not text:
        return None
    text = text.strip()
    if len(text) > 40:  # no spelling of a 32-bit code is this long: not worth parsing
        return None
    if text[:2] in ("0x", "0X") and len(text) > 10:  # 0x0C004F074: leading zeros are harmless
        text = "0x" + (text[2:].lstrip("0") or "0")
    try:
        return code_value(text)
    except InvalidCodeError:
        return None


def _unreadable(out: dict[str, object], column: str, text: pa.Array, values: object,
                why: str) -> object:
    """Note where ``text`` holds a value but ``values`` (its conversion) is missing; return it."""
    present = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(text), ""), False)
    bad = present.to_numpy(zero_copy_only=False) & np.asarray(pd.isna(values), bool)
    if bad.any():
        out.setdefault(UNREADABLE, []).append((_COLUMN_OF.get(column, column), bad, text, why))
    return values


def _typed(out: dict[str, object], column: str, text: pa.Array, kind: str) -> None:
    """Convert ``text`` for ``column`` (``kind``: code, an integer dtype, flag, time, guid)."""
    if kind == "code":
        values, why = hexcode(text), _CODE_WHY
    elif kind == "flag":
        values, why = flag(text), "not a flag; expected 0 or 1"
    elif kind == "time":
        values, why = client_time(text), _TIME_WHY
    elif kind == "guid":
        values, why = guid(text), "not a GUID"
    else:
        lo, hi = _LIMITS[kind]
        values, why = integer(text, kind), f"not a whole number from {lo} to {hi}"
    out[column] = _unreadable(out, column, text, values, why)


def hexcode(arr: pa.Array) -> ExtensionArray:
    """Parse HRESULTs and flags (``0xC004F074``, ``0x8``, ``hr=0x...``, signed decimals)."""
    return _by_unique(arr, _code, "UInt32")


def integer(arr: pa.Array, dtype: str) -> ExtensionArray:
    """Parse decimal integers to a nullable ``dtype``; non-numbers and out-of-range values -> NA."""
    lo, hi = _LIMITS[dtype]
    ok = pc.match_substring_regex(arr, r"^-?\d{1,18}$")
    values = pc.cast(pc.if_else(ok, arr, pa.scalar(None, pa.string())), pa.int64())
    inside = pc.and_(pc.greater_equal(values, lo), pc.less_equal(values, hi))
    return pd.array(pc.if_else(inside, values, pa.scalar(None, pa.int64())), dtype="Int64") \
        .astype(dtype)


def guid(arr: pa.Array) -> pa.Array:
    """Return the first GUID in each string, lower-case (null when there is none)."""
    return pc.utf8_lower(_extract(arr, f"(?P<v>{_GUID})"))


def flag(arr: pa.Array) -> ExtensionArray:
    """``"1"`` -> True, ``"0"`` -> False, anything else -> NA."""
    values = pc.if_else(pc.is_in(arr, pa.array(["0", "1"])), pc.equal(arr, "1"),
                        pa.scalar(None, pa.bool_()))
    return pd.array(values, dtype="boolean")


def client_time(arr: pa.Array) -> np.ndarray:
    """Parse the client's local time (``2010/09/29 17:52`` or ``2010/9/29 21:46[:05]``).

    Times outside :data:`TIME_RANGE` are missing.
    """
    text = pd.Series(arr, dtype=S.EVENT_DTYPES[S.HOST])
    out = bounded_times(pd.to_datetime(text, format="%Y/%m/%d %H:%M", errors="coerce"))[0]
    retry = out.isna() & text.notna() & (text != "")
    if retry.any():
        again = pd.to_datetime(text[retry], format="%Y/%m/%d %H:%M:%S", errors="coerce")
        out[retry] = bounded_times(again)[0]
    return out.to_numpy(dtype="datetime64[ns]")


def _first_code(out: dict[str, object], data: pa.Array, label: str) -> None:
    """Read the code after ``label`` (``hr=``, ``Reason:``), else the first 8-digit hex code.

    Whatever follows the label is taken whole (``0x1C004F074`` is not cut to 8 digits), so a
    value that is not a 32-bit code is reported as unreadable rather than misread.
    """
    labelled = _extract(data, rf"(?i){label}\s*(?P<v>[-+]?\w+)")
    anywhere = _extract(data, r"(?P<v>0[xX][0-9A-Fa-f]{8})\b")
    _typed(out, HR, pc.coalesce(labelled, anywhere), "code")


def _kv(data: pa.Array, key: str, value: str) -> pa.Array:
    return _extract(data, rf"(?i)\b{key}\s*=\s*\{{?(?P<v>{value})")


# ---- one parser per event kind ---------------------------------------------------------------


def _fields(f: list[pa.Array], layout: dict[int, tuple[str, str]]) -> dict[str, object]:
    """Convert the fields at the positions of ``layout`` ({position: (column, kind)})."""
    out: dict[str, object] = {}
    for i, (column, kind) in layout.items():
        _typed(out, column, f[i], kind)
    return out


_KMS_REQUEST = {0: (HR, "code"), 1: (S.STATUS_FLAGS, "code"), 3: (S.CMID, "guid"),
                4: (S.CLIENT_TIME, "time"), 5: (S.IS_VM, "flag"), 6: (S.LICENSE_STATUS, "Int8"),
                7: (S.MINUTES_TO_EXPIRY, "Int32"), 8: (S.SKU_ID, "guid"),
                9: (S.MIN_COUNT, "Int16")}
_KMS_RESPONSE = {0: (HR, "code"), 1: (S.STATUS_FLAGS, "code"), 2: (BOUND, "Int8"),
                 4: (S.KMS_COUNT, "Int16"), 5: (S.ACTIVATION_INTERVAL_MIN, "Int32"),
                 6: (S.RENEWAL_INTERVAL_MIN, "Int32"), 7: (S.CLIENT_TIME, "time")}
_KMS_HOST_REQUEST = {1: (HR, "code"), 2: (S.MIN_COUNT, "Int16"), 4: (S.CMID, "guid"),
                     5: (S.CLIENT_TIME, "time"), 6: (S.IS_VM, "flag"),
                     7: (S.LICENSE_STATUS, "Int8"), 8: (S.MINUTES_TO_EXPIRY, "Int32"),
                     9: (S.SKU_ID, "guid")}


def _kms_request(data: pa.Array) -> dict[str, object]:
    f = items(data, 10, info=True)
    out = _fields(f, _KMS_REQUEST)
    hostport = pc.extract_regex(f[2], r"^(?P<h>.*?)\s*:\s*_?(?P<p>\d{1,5})$")
    out[S.KMS_HOST] = pc.if_else(pc.is_valid(hostport), pc.struct_field(hostport, [0]),
                                 pc.if_else(pc.equal(f[2], ""), pa.scalar(None, pa.string()),
                                            f[2]))
    _typed(out, S.KMS_PORT, pc.fill_null(pc.struct_field(hostport, [1]), ""), "UInt16")
    return out


def _kms_response(data: pa.Array) -> dict[str, object]:
    return _fields(items(data, 8, info=True), _KMS_RESPONSE)


def _name(arr: pa.Array) -> pa.Array:
    """Return trimmed text, null where it is empty."""
    text = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _kms_host_request(data: pa.Array) -> dict[str, object]:
    f = items(data, 10, info=True, lead=True)
    out = _fields(f, _KMS_HOST_REQUEST)
    out[S.CLIENT_NAME] = _name(f[3])
    return out


def _rules_engine(label: str) -> Callable[[pa.Array], dict[str, object]]:
    def parse(data: pa.Array) -> dict[str, object]:
        out: dict[str, object] = {
            S.APP_ID: pc.utf8_lower(_kv(data, "AppId", _GUID)),
            S.SKU_ID: pc.utf8_lower(_kv(data, "SkuId", _GUID)),
            S.TRIGGER: _kv(data, "Trigger", "[A-Za-z]+"),
        }
        _first_code(out, data, label)
        return out
    return parse


def _dns_publish_fail(data: pa.Array) -> dict[str, object]:
    out: dict[str, object] = {}
    _typed(out, HR, items(data, 1)[0], "code")
    return out


def _adba_success(data: pa.Array) -> dict[str, object]:
    return {S.SKU_ID: guid(data)}


def _status_check(data: pa.Array) -> dict[str, object]:
    return {S.APP_ID: guid(data)}


#: event_kind -> parser of its insertion strings (kinds not listed carry no activation fields).
KIND_PARSERS: dict[str, Callable[[pa.Array], dict[str, object]]] = {
    "kms_request": _kms_request,
    "kms_response": _kms_response,
    "kms_host_request": _kms_host_request,
    "activation_failure": _rules_engine(r"hr\s*="),
    "vl_failure": _rules_engine(r"Reason\s*:"),
    "dns_publish_fail": _dns_publish_fail,
    "adba_success": _adba_success,
    "status_check": _status_check,
}
