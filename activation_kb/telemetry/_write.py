"""Write canonical events to Parquet, CSV or wevtutil-style XML (each optionally gzipped).

CSV is written by pyarrow: strings quoted, missing values as empty unquoted fields, so a
missing value and an empty string survive the round trip. XML follows the layouts of the
reference notes (one Info string for 12288/12289, ten ``<Data>`` for 12290, ...) inside an
``<Events>`` root, like ``wevtutil qe /e:Events``.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .. import schema as S
from ..errors import TelemetryError

__all__ = ["write_events", "render_event_xml", "output_format"]

_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
_GUID = {"Microsoft-Windows-Security-SPP": "{E23B33B0-C8C9-472C-A5F9-F2BDFEA0F156}",
         "Microsoft-Windows-Security-Licensing-SLC": "{1FD7C1D2-D037-4620-8D29-B2C7E5FCC13A}"}
_SOURCE = {"Microsoft-Windows-Security-SPP": "Software Protection Platform Service",
           "Microsoft-Windows-Security-Licensing-SLC": "Software Licensing Service"}
_LEVEL = {"error": 2, "warning": 3, "info": 4}
_FORMATS = {".parquet": "parquet", ".csv": "csv", ".xml": "xml"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _s(v: object) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)


def _x(v: object) -> str:
    """Text safe inside an XML element (characters XML 1.0 cannot carry become spaces)."""
    return escape(_NOT_XML.sub(" ", _s(v)))


def _hx(v: object) -> str:
    return "" if _s(v) == "" else f"0x{int(v):08X}"


def _ct(v: object, pad: bool = True) -> str:
    if v is None:
        return ""
    y, mo, d, h, mi = v  # precomputed (year, month, day, hour, minute)
    return f"{y:04d}/{mo:02d}/{d:02d} {h:02d}:{mi:02d}" if pad else f"{y}/{mo}/{d} {h}:{mi:02d}"


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
        return ["", _hx(r[S.RESULT_CODE]), _s(r[S.MIN_COUNT]), _s(r[S.CLIENT_NAME]), _s(r[S.CMID]),
                _ct(r[S.CLIENT_TIME], pad=False), _b(r[S.IS_VM]), _s(r[S.LICENSE_STATUS]),
                _s(r[S.MINUTES_TO_EXPIRY]), _s(r[S.SKU_ID])]
    if eid == 8198:
        return [f"hr={_hx(r[S.RESULT_CODE])}",
                f"RuleId=;Action=AutoActivate;AppId={_s(r[S.APP_ID])};SkuId={_s(r[S.SKU_ID])};"
                f"NotificationInterval=1440;Trigger={_s(r[S.TRIGGER])};SessionId=1"]
    if eid == 8233:
        return [f"Reason:{_hx(r[S.RESULT_CODE])}",
                f"AppId = {_s(r[S.APP_ID])}, SkuId = {_s(r[S.SKU_ID])}",
                f"Trigger={_s(r[S.TRIGGER])}"]
    if eid == 12293:
        return [_hx(r[S.RESULT_CODE]), ""]
    if eid == 12308:
        return [_s(r[S.SKU_ID])]
    if eid == 1003:
        return [_s(r[S.APP_ID]), ""]
    return []


def render_event_xml(r: dict) -> str:
    """Render one canonical row (a dict, ``_st`` = SystemTime text) as a wevtutil ``<Event>``."""
    provider = _s(r[S.PROVIDER]) or "Microsoft-Windows-Security-SPP"
    level = _LEVEL.get(_s(r[S.LEVEL]), 4)
    qualifiers = {2: 49152, 3: 32768}.get(level, 16384)
    data = "".join(f"<Data>{_x(d)}</Data>" for d in _data(r))
    return (
        f'<Event xmlns="{_NS}"><System><Provider Name={quoteattr(_NOT_XML.sub(" ", provider))} '
        f'Guid="{_GUID.get(provider, "")}" '
        f'EventSourceName={quoteattr(_NOT_XML.sub(" ", _SOURCE.get(provider, provider)))}/>'
        f'<EventID Qualifiers="{qualifiers}">{r[S.EVENT_ID]}</EventID><Version>0</Version>'
        f"<Level>{level}</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords>"
        f'<TimeCreated SystemTime="{r["_st"]}"/><EventRecordID>{_s(r[S.RECORD_ID])}</EventRecordID>'
        f'<Correlation/><Execution ProcessID="0" ThreadID="0"/>'
        f"<Channel>{_x(r[S.CHANNEL])}</Channel>"
        f"<Computer>{_x(r[S.HOST])}</Computer><Security/></System>"
        f"<EventData>{data}</EventData></Event>\n"
    )


def _xml_lines(ev: pd.DataFrame):
    cols = [c for c in S.EVENT_COLUMNS if c not in (S.EVENT_TIME, S.CLIENT_TIME)]
    records = ev[cols].astype(object).where(ev[cols].notna(), None).to_dict("records")
    et = ev[S.EVENT_TIME]
    ticks = (et.dt.microsecond * 10 + et.dt.nanosecond // 100).tolist()
    seconds = et.dt.strftime("%Y-%m-%dT%H:%M:%S.").tolist()
    ct = ev[S.CLIENT_TIME]
    parts = zip(ct.dt.year.tolist(), ct.dt.month.tolist(), ct.dt.day.tolist(),
                ct.dt.hour.tolist(), ct.dt.minute.tolist())
    for r, s0, f, p in zip(records, seconds, ticks, parts):
        r["_st"] = f"{s0}{f:07d}Z"
        r[S.CLIENT_TIME] = None if pd.isna(p[0]) else tuple(int(x) for x in p)
        yield render_event_xml(r)


def output_format(path: str | Path, format: str | None = None) -> tuple[str, bool]:
    """Return ``(format, gzipped)`` for writing events to ``path``.

    Parameters
    ----------
    path : str or Path
        The output file: ``.parquet``, ``.csv`` or ``.xml``, the last two optionally ``.gz``.
    format : {"parquet", "csv", "xml"}, optional
        The format, when the suffix does not say it.

    Returns
    -------
    tuple
        ``(format, gzipped)``.

    Raises
    ------
    TelemetryError
        For an unsupported format or suffix, naming what is supported.
    """
    path = Path(path)
    gz = path.suffix.lower() == ".gz"
    suffix = Path(path.stem).suffix.lower() if gz else path.suffix.lower()
    fmt = format or _FORMATS.get(suffix)
    if fmt not in ("parquet", "csv", "xml"):
        raise TelemetryError(
            f"cannot write events to {path}: format {format or suffix or path.name!r} is not "
            "supported; expected parquet, csv or xml (or a .parquet/.csv/.xml suffix)")
    if gz and fmt == "parquet":
        raise TelemetryError(f"cannot write events to {path}: Parquet is compressed already; "
                             "expected a .parquet path without .gz")
    return fmt, gz


def write_events(events: pd.DataFrame, path: str | Path, format: str | None = None) -> Path:
    """Write an events frame to ``path`` as Parquet, CSV or wevtutil-style XML.

    Parameters
    ----------
    events : pandas.DataFrame
        Any frame :func:`activation_kb.schema.coerce_events` accepts.
    path : str or Path
        Output file. Its suffix chooses the format when ``format`` is None; a further ``.gz``
        (``events.csv.gz``, ``events.xml.gz``) compresses CSV and XML.
    format : {"parquet", "csv", "xml"}, optional
        The format, whatever the suffix.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    TelemetryError
        For an unsupported format or suffix.
    SchemaError
        When ``events`` lacks a required column or a column cannot be cast.
    """
    path = Path(path)
    fmt, gz = output_format(path, format)
    ev = S.coerce_events(events)
    if fmt == "parquet":
        ev.to_parquet(path, index=False)
    elif fmt == "csv":
        table = pa.Table.from_pandas(ev, preserve_index=False)
        with pa.output_stream(str(path), compression="gzip" if gz else None) as sink:
            pacsv.write_csv(table, sink)
    else:
        opener = gzip.open if gz else open
        with opener(path, "wt", encoding="utf-8", newline="\n") as fh:
            fh.write("<Events>\n")
            fh.writelines(_xml_lines(ev))
            fh.write("</Events>\n")
    return path
