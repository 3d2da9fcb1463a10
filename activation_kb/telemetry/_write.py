"""Write canonical events to Parquet, CSV or wevtutil-style XML."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

from .. import schema as S
from ..errors import TelemetryError

__all__ = ["write_events", "render_event_xml"]

_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
_GUID = {"Microsoft-Windows-Security-SPP": "{E23B33B0-C8C9-472C-A5F9-F2BDFEA0F156}",
         "Microsoft-Windows-Security-Licensing-SLC": "{1FD7C1D2-D037-4620-8D29-B2C7E5FCC13A}"}
_SOURCE = {"Microsoft-Windows-Security-SPP": "Software Protection Platform Service",
           "Microsoft-Windows-Security-Licensing-SLC": "Software Licensing Service"}
_LEVEL = {"error": 2, "warning": 3, "info": 4}


def _s(v: object) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)


def _hx(v: object) -> str:
    return "" if _s(v) == "" else f"0x{int(v):08X}"


def _ct(v: object, pad: bool = True) -> str:
    if v is None or v is pd.NaT or v is pd.NA:
        return ""
    y, mo, d, h, mi = v  # precomputed (year, month, day, hour, minute)
    if pad:
        return f"{y:04d}/{mo:02d}/{d:02d} {h:02d}:{mi:02d}"
    return f"{y}/{mo}/{d} {h}:{mi:02d}"


def _b(v: object) -> str:
    return "" if _s(v) == "" else ("1" if v else "0")


def _data(r: dict) -> list[str]:
    eid = r[S.EVENT_ID]
    if eid == 12288:
        hostport = _s(r[S.KMS_HOST]) + (f":{r[S.KMS_PORT]}" if _s(r[S.KMS_PORT]) else "")
        return [", ".join([_hx(r[S.RESULT_CODE]), _hx(r[S.STATUS_FLAGS]), hostport, _s(r[S.CMID]),
                           _ct(r[S.CLIENT_TIME]), _b(r[S.IS_VM]), _s(r[S.LICENSE_STATUS]),
                           _s(r[S.MINUTES_TO_EXPIRY]), _s(r[S.SKU_ID]), _s(r[S.MIN_COUNT])])]
    if eid == 12289:
        bound = "1" if r[S.IS_SUCCESS] is True else "0"
        return [", ".join([_hx(r[S.RESULT_CODE]), _hx(r[S.STATUS_FLAGS]), bound, "0",
                           _s(r[S.KMS_COUNT]), _s(r[S.ACTIVATION_INTERVAL_MIN]),
                           _s(r[S.RENEWAL_INTERVAL_MIN]), _ct(r[S.CLIENT_TIME])])]
    if eid == 12290:
        return ["", _hx(r[S.RESULT_CODE]), _s(r[S.MIN_COUNT]), "", _s(r[S.CMID]),
                _ct(r[S.CLIENT_TIME], pad=False), _b(r[S.IS_VM]), _s(r[S.LICENSE_STATUS]),
                _s(r[S.MINUTES_TO_EXPIRY]), _s(r[S.SKU_ID])]
    if eid == 8198:
        return [f"hr={_hx(r[S.RESULT_CODE])}",
                f"RuleId=;Action=AutoActivate;AppId={_s(r[S.APP_ID])};SkuId={_s(r[S.SKU_ID])};"
                f"NotificationInterval=1440;Trigger={_s(r[S.TRIGGER])};SessionId=1"]
    if eid == 8233:
        return [f"Reason:{_hx(r[S.RESULT_CODE])}", f"AppId = {_s(r[S.APP_ID])}, SkuId = {_s(r[S.SKU_ID])}",
                f"Trigger={_s(r[S.TRIGGER])}"]
    if eid == 12293:
        return [_hx(r[S.RESULT_CODE]), ""]
    if eid == 12308:
        return [_s(r[S.SKU_ID])]
    if eid == 1003:
        return [_s(r[S.APP_ID]), ""]
    return []


def render_event_xml(r: dict) -> str:
    """Render one canonical row (dict) as a wevtutil-style ``<Event>`` element."""
    provider = _s(r[S.PROVIDER]) or "Microsoft-Windows-Security-SPP"
    st = r["_st"]
    level = _LEVEL.get(_s(r[S.LEVEL]), 4)
    qual = {2: 49152, 3: 32768}.get(level, 16384)
    data = "".join(f"<Data>{escape(d)}</Data>" for d in _data(r))
    return (
        f'<Event xmlns="{_NS}"><System><Provider Name="{escape(provider)}" '
        f'Guid="{_GUID.get(provider, "")}" EventSourceName="{_SOURCE.get(provider, provider)}"/>'
        f'<EventID Qualifiers="{qual}">{r[S.EVENT_ID]}</EventID><Version>0</Version>'
        f"<Level>{level}</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords>"
        f'<TimeCreated SystemTime="{st}"/><EventRecordID>{_s(r[S.RECORD_ID])}</EventRecordID>'
        f'<Correlation/><Execution ProcessID="0" ThreadID="0"/><Channel>{escape(_s(r[S.CHANNEL]))}</Channel>'
        f"<Computer>{escape(_s(r[S.HOST]))}</Computer><Security/></System>"
        f"<EventData>{data}</EventData></Event>\n"
    )


def write_events(events: pd.DataFrame, path: str | Path, format: str | None = None) -> Path:
    """Write a canonical events frame to ``path`` as ``parquet``, ``csv`` or ``xml``.

    Parameters
    ----------
    events : pandas.DataFrame
        Any frame :func:`activation_kb.schema.coerce_events` accepts.
    path : str or Path
        Output file; its suffix chooses the format when ``format`` is None.
    format : {"parquet", "csv", "xml"}, optional

    Returns
    -------
    Path
        The path written.
    """
    path = Path(path)
    fmt = format or {".parquet": "parquet", ".csv": "csv", ".xml": "xml"}.get(path.suffix.lower())
    if fmt not in ("parquet", "csv", "xml"):
        raise TelemetryError(
            f"cannot write events to {path}: format {format or path.suffix!r} is not supported; "
            "expected parquet, csv or xml (or a .parquet/.csv/.xml suffix)")
    ev = S.coerce_events(events)
    if fmt == "parquet":
        ev.to_parquet(path, index=False)
    elif fmt == "csv":
        ev.to_csv(path, index=False)
    else:
        cols = [c for c in S.EVENT_COLUMNS if c not in (S.EVENT_TIME, S.CLIENT_TIME)]
        records = ev[cols].astype(object).where(ev[cols].notna(), None).to_dict("records")
        et = ev[S.EVENT_TIME]
        ns = (et.dt.microsecond * 10 + et.dt.nanosecond // 100).to_numpy()
        st = et.dt.strftime("%Y-%m-%dT%H:%M:%S.").tolist()
        ct = ev[S.CLIENT_TIME]
        parts = zip(ct.dt.year.tolist(), ct.dt.month.tolist(), ct.dt.day.tolist(),
                    ct.dt.hour.tolist(), ct.dt.minute.tolist())
        for r, s0, f, p in zip(records, st, ns.tolist(), parts):
            r["_st"] = f"{s0}{f:07d}Z"
            r[S.CLIENT_TIME] = None if pd.isna(p[0]) else tuple(int(x) for x in p)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.writelines(render_event_xml(r) for r in records)
    return path
