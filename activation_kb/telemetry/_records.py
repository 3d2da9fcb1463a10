"""Turn one event log record (System fields + EventData strings) into a canonical row.

The field orders follow ``/work/shared/reference/telemetry-formats.md`` (section 1):

* 12288 (client request): one Info string ``hr, flags, host:port, cmid, client time, vm,
  license status, minutes to expiry, sku id, min count``.
* 12289 (client response): ``hr, flags, fBound, unused, kms count, activation interval,
  renewal interval, client time``.
* 12290 (KMS host): ten ``<Data>`` items; item 0 is unused, then ``hr, min count, client name,
  cmid, client time, vm, license status, minutes to expiry, sku id``.
* 8198 ``hr=0x...`` and ``RuleId=...;AppId=...;SkuId=...;Trigger=...``; 8233 ``Reason:0x...``;
  12293 ``hr, domain``; 12294 ``domain``; 12308 ``sku id, ...``; 1003 ``app id, status``.

``is_success`` is ``result_code == 0``; for 12289 it also needs ``fBound == 1`` (the client is
activated only when the response bound it). 12294 and 12308 are successes by definition; events
without a result code get ``<NA>``.
"""

from __future__ import annotations

import re
from typing import Any

from ..categories import category_of
from .. import schema as S

__all__ = ["EVENT_KIND_BY_ID", "KMS_CHANNEL", "PROVIDERS", "build_row", "split_info", "level_name"]

#: Event ID (masked with 0xFFFF) -> event_kind. Any other ID is "other".
EVENT_KIND_BY_ID: dict[int, str] = {
    12288: "kms_request",
    12289: "kms_response",
    12290: "kms_host_request",
    8198: "activation_failure",
    8233: "vl_failure",
    1003: "status_check",
    12293: "dns_publish_fail",
    12294: "dns_publish_ok",
    12308: "adba_success",
}
KMS_CHANNEL = "Key Management Service"
PROVIDERS = ("Microsoft-Windows-Security-SPP", "Microsoft-Windows-Security-Licensing-SLC")
_HOST_IDS = {12290, 12293, 12294}
_HEX = re.compile(r"0\s?[xX]\s?([0-9A-Fa-f]{1,8})(?![0-9A-Fa-f])")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def level_name(level: object) -> str:
    """Map an event ``Level`` (number or name) to error / warning / info."""
    text = str(level).strip().lower()
    if text in ("1", "2", "critical", "error"):
        return "error"
    if text in ("3", "warning"):
        return "warning"
    return "info"


def split_info(data: list[str], expected: int) -> list[str]:
    """Return the Info fields: one comma-separated string is split, several ``<Data>`` kept."""
    items = [d if d is not None else "" for d in data]
    if len(items) == 1 and "," in items[0]:
        items = [p.strip() for p in items[0].split(",")]
    else:
        items = [p.strip() for p in items]
    if len(items) < expected:
        items = items + [""] * (expected - len(items))
    return items


def _hr(text: str) -> int | None:
    m = _HEX.search(text or "")
    if m is None:
        text = (text or "").strip()
        return int(text) & 0xFFFFFFFF if text.lstrip("-").isdigit() else None
    return int(m.group(1), 16)


def _int(text: str) -> int | None:
    text = (text or "").strip()
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _guid(text: str) -> str | None:
    m = _GUID.search(text or "")
    return m.group(0).lower() if m else None


def _client_time(text: str) -> Any:
    text = (text or "").strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d{4})/(\d{1,2})/(\d{1,2}) (\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if m is None:
        return None
    y, mo, d, h, mi, s = m.groups()
    return f"{int(y):04d}-{int(mo):02d}-{int(d):02d} {int(h):02d}:{mi}:{s or '00'}"


def _kv(text: str) -> dict[str, str]:
    out = {}
    for part in re.split(r"[;,]", text or ""):
        if "=" in part:
            k, _, v = part.partition("=")
            out[k.strip().lower()] = v.strip()
    return out


def build_row(
    *, time: Any, host: str, channel: str, provider: str, event_id: int, record_id: int | None,
    level: object, data: list[str], message: str | None = None,
) -> dict[str, Any]:
    """Build one canonical row (a dict keyed by schema columns) from a record's parts."""
    eid = int(event_id) & 0xFFFF
    kind = EVENT_KIND_BY_ID.get(eid, "other")
    in_kms_channel = (channel or "").strip().lower() == KMS_CHANNEL.lower()
    if eid in _HOST_IDS and (in_kms_channel or eid != 12290 or provider in PROVIDERS):
        role = "kms_host"
    else:
        role = "client"
    if eid == 12290 and not (in_kms_channel or provider in PROVIDERS):
        kind, role = "other", "client"
    if in_kms_channel and eid not in _HOST_IDS:
        kind = "other"  # e.g. Persistence/1337 written with -Source KmsRequests: not KMS traffic
    row: dict[str, Any] = {
        S.EVENT_TIME: time, S.HOST: host, S.ROLE: role, S.CHANNEL: channel, S.PROVIDER: provider,
        S.EVENT_ID: eid, S.RECORD_ID: record_id, S.LEVEL: level_name(level), S.EVENT_KIND: kind,
        S.ACTIVATION_METHOD: "unknown", S.MESSAGE: message, S.SITE: "",
    }
    hr: int | None = None
    success: bool | None = None
    if kind == "kms_request":
        f = split_info(data, 10)
        hr = _hr(f[0])
        row[S.STATUS_FLAGS] = _hr(f[1])
        name, _, port = f[2].rpartition(":")
        row[S.KMS_HOST] = name if name else (f[2] or None)
        row[S.KMS_PORT] = _int(port.lstrip("_")) if name else None
        row[S.CMID] = _guid(f[3])
        row[S.CLIENT_TIME] = _client_time(f[4])
        row[S.IS_VM] = {"0": False, "1": True}.get(f[5])
        row[S.LICENSE_STATUS] = _int(f[6])
        row[S.MINUTES_TO_EXPIRY] = _int(f[7])
        row[S.SKU_ID] = _guid(f[8])
        row[S.MIN_COUNT] = _int(f[9])
        row[S.ACTIVATION_METHOD] = "KMS"
    elif kind == "kms_response":
        f = split_info(data, 8)
        hr = _hr(f[0])
        row[S.STATUS_FLAGS] = _hr(f[1])
        bound = _int(f[2])
        row[S.KMS_COUNT] = _int(f[4])
        row[S.ACTIVATION_INTERVAL_MIN] = _int(f[5])
        row[S.RENEWAL_INTERVAL_MIN] = _int(f[6])
        row[S.CLIENT_TIME] = _client_time(f[7])
        row[S.ACTIVATION_METHOD] = "KMS"
        if hr is not None:
            success = hr == 0 and bound == 1
    elif kind == "kms_host_request":
        f = split_info(data, 10)
        if len(f) == 10 or (len(data) == 1 and len(f) > 9):
            f = f[1:]
        hr = _hr(f[0])
        row[S.MIN_COUNT] = _int(f[1])
        row[S.CMID] = _guid(f[3])
        row[S.CLIENT_TIME] = _client_time(f[4])
        row[S.IS_VM] = {"0": False, "1": True}.get(f[5])
        row[S.LICENSE_STATUS] = _int(f[6])
        row[S.MINUTES_TO_EXPIRY] = _int(f[7])
        row[S.SKU_ID] = _guid(f[8])
        row[S.ACTIVATION_METHOD] = "KMS"
    elif kind == "activation_failure":
        text = " ".join(data)
        hr = _hr(text)
        kv = _kv(data[1] if len(data) > 1 else text)
        row[S.APP_ID] = _guid(kv.get("appid", ""))
        row[S.SKU_ID] = _guid(kv.get("skuid", ""))
        row[S.TRIGGER] = kv.get("trigger") or None
    elif kind == "vl_failure":
        text = " ".join(data)
        hr = _hr(text)
        m = re.search(r"AppId\s*=\s*([0-9a-fA-F-]{36})", text)
        row[S.APP_ID] = m.group(1).lower() if m else None
        m = re.search(r"SkuId\s*=\s*([0-9a-fA-F-]{36})", text)
        row[S.SKU_ID] = m.group(1).lower() if m else None
        m = re.search(r"Trigger\s*=\s*([A-Za-z]+)", text)
        row[S.TRIGGER] = m.group(1) if m else None
    elif kind == "dns_publish_fail":
        hr = _hr(data[0] if data else "")
    elif kind in ("dns_publish_ok", "adba_success"):
        success = True
        if kind == "adba_success":
            row[S.ACTIVATION_METHOD] = "ADBA"
            row[S.SKU_ID] = _guid(data[0] if data else "")
    elif kind == "status_check":
        row[S.APP_ID] = _guid(data[0] if data else "")
    if hr is not None:
        row[S.RESULT_CODE] = hr
        row[S.CODE] = f"0x{hr:08X}"
        row[S.CATEGORY] = category_of(row[S.CODE]) if hr else None
        if success is None:
            success = hr == 0
    row[S.IS_SUCCESS] = success
    return row
