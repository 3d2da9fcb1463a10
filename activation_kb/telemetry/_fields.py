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
and returns ``{column: values}`` aligned with it. A value that does not parse becomes missing;
the record is still loaded.
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

__all__ = ["SEP", "KIND_PARSERS", "HR", "BOUND"]

#: Separator of insertion strings inside one record's ``data`` text.
SEP = "\x1f"
#: Keys of the parsers' output that are not canonical columns.
HR, BOUND = "_hr", "_bound"

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


def _code(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return code_value(text)
    except InvalidCodeError:
        return None


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
    """Parse the client's local time (``2010/09/29 17:52`` or ``2010/9/29 21:46[:05]``)."""
    text = pd.Series(arr, dtype=S.EVENT_DTYPES[S.HOST])
    out = pd.to_datetime(text, format="%Y/%m/%d %H:%M", errors="coerce")
    retry = out.isna() & text.notna() & (text != "")
    if retry.any():
        out[retry] = pd.to_datetime(text[retry], format="%Y/%m/%d %H:%M:%S", errors="coerce")
    return out.to_numpy(dtype="datetime64[ns]")


def _first_code(data: pa.Array, label: str) -> ExtensionArray:
    """Return the code after ``label`` (``hr=``, ``Reason:``), else the first 8-digit hex code."""
    labelled = _extract(data, rf"(?i){label}\s*(?P<v>0[xX][0-9A-Fa-f]{{1,8}})")
    anywhere = _extract(data, r"(?P<v>0[xX][0-9A-Fa-f]{8})")
    return hexcode(pc.coalesce(labelled, anywhere))


def _kv(data: pa.Array, key: str, value: str) -> pa.Array:
    return _extract(data, rf"(?i)\b{key}\s*=\s*\{{?(?P<v>{value})")


# ---- one parser per event kind ---------------------------------------------------------------


def _kms_request(data: pa.Array) -> dict[str, object]:
    f = items(data, 10, info=True)
    hostport = pc.extract_regex(f[2], r"^(?P<h>.*?)\s*:\s*_?(?P<p>\d{1,5})$")
    host = pc.if_else(pc.is_valid(hostport), pc.struct_field(hostport, [0]),
                      pc.if_else(pc.equal(f[2], ""), pa.scalar(None, pa.string()), f[2]))
    return {
        HR: hexcode(f[0]), S.STATUS_FLAGS: hexcode(f[1]), S.KMS_HOST: host,
        S.KMS_PORT: integer(pc.struct_field(hostport, [1]), "UInt16"), S.CMID: guid(f[3]),
        S.CLIENT_TIME: client_time(f[4]), S.IS_VM: flag(f[5]),
        S.LICENSE_STATUS: integer(f[6], "Int8"), S.MINUTES_TO_EXPIRY: integer(f[7], "Int32"),
        S.SKU_ID: guid(f[8]), S.MIN_COUNT: integer(f[9], "Int16"),
    }


def _kms_response(data: pa.Array) -> dict[str, object]:
    f = items(data, 8, info=True)
    return {
        HR: hexcode(f[0]), S.STATUS_FLAGS: hexcode(f[1]), BOUND: integer(f[2], "Int8"),
        S.KMS_COUNT: integer(f[4], "Int16"), S.ACTIVATION_INTERVAL_MIN: integer(f[5], "Int32"),
        S.RENEWAL_INTERVAL_MIN: integer(f[6], "Int32"), S.CLIENT_TIME: client_time(f[7]),
    }


def _name(arr: pa.Array) -> pa.Array:
    """Return trimmed text, null where it is empty."""
    text = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _kms_host_request(data: pa.Array) -> dict[str, object]:
    f = items(data, 10, info=True, lead=True)
    return {
        HR: hexcode(f[1]), S.MIN_COUNT: integer(f[2], "Int16"), S.CLIENT_NAME: _name(f[3]),
        S.CMID: guid(f[4]),
        S.CLIENT_TIME: client_time(f[5]), S.IS_VM: flag(f[6]),
        S.LICENSE_STATUS: integer(f[7], "Int8"), S.MINUTES_TO_EXPIRY: integer(f[8], "Int32"),
        S.SKU_ID: guid(f[9]),
    }


def _rules_engine(label: str) -> Callable[[pa.Array], dict[str, object]]:
    def parse(data: pa.Array) -> dict[str, object]:
        return {
            HR: _first_code(data, label), S.APP_ID: pc.utf8_lower(_kv(data, "AppId", _GUID)),
            S.SKU_ID: pc.utf8_lower(_kv(data, "SkuId", _GUID)),
            S.TRIGGER: _kv(data, "Trigger", "[A-Za-z]+"),
        }
    return parse


def _dns_publish_fail(data: pa.Array) -> dict[str, object]:
    return {HR: hexcode(items(data, 1)[0])}


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
