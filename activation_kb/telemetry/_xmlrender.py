"""Render canonical events as wevtutil ``<Event>`` XML, one row or a whole frame at a time.

:func:`render_event_xml` writes one row (a dict) and is the reference layout, field by field as
in the reference notes: one Info string for 12288/12289, ten ``<Data>`` for 12290, ...
:func:`render_events_xml` writes the same text for a whole frame column by column with pyarrow:
each distinct value (a host, a code, a SKU) is formatted once in Python, and the per-row
concatenation runs in Arrow's C++ kernels, so a million events take seconds, not minutes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema as S

__all__ = ["render_event_xml", "render_events_xml", "text_bytes"]

_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
_GUID = {"Microsoft-Windows-Security-SPP": "{E23B33B0-C8C9-472C-A5F9-F2BDFEA0F156}",
         "Microsoft-Windows-Security-Licensing-SLC": "{1FD7C1D2-D037-4620-8D29-B2C7E5FCC13A}"}
_SOURCE = {"Microsoft-Windows-Security-SPP": "Software Protection Platform Service",
           "Microsoft-Windows-Security-Licensing-SLC": "Software Licensing Service"}
_LEVEL = {"error": 2, "warning": 3, "info": 4}
_QUALIFIERS = {2: 49152, 3: 32768}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TEXT = pa.large_string()


# ---- one row ---------------------------------------------------------------------------------


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
    """Render one canonical row (a dict, ``_st`` = SystemTime text) as a wevtutil ``<Event>``.

    ``client_time`` is given as a ``(year, month, day, hour, minute)`` tuple or None.
    """
    provider = _s(r[S.PROVIDER]) or "Microsoft-Windows-Security-SPP"
    level = _LEVEL.get(_s(r[S.LEVEL]), 4)
    qualifiers = _QUALIFIERS.get(level, 16384)
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


# ---- a whole frame, column by column --------------------------------------------------------


def _text(series: pd.Series, render: Callable[[object], str]) -> pa.Array:
    """``render`` applied once per distinct value of ``series`` (``None`` for a missing one)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    table = pa.array([render(u) for u in uniques] + [render(None)], type=_TEXT)
    codes[codes < 0] = len(uniques)
    return table.take(pa.array(codes))


def _digits(values: pa.Array, width: int = 0) -> pa.Array:
    text = pc.cast(values, _TEXT)
    return pc.utf8_lpad(text, width, "0") if width else text


def _clock(series: pd.Series, pad: bool) -> pa.Array:
    """``YYYY/MM/DD HH:MM`` (``pad``) or ``Y/M/D H:MM`` for each naive time; ``""`` for NaT."""
    ts = pa.array(series.to_numpy(dtype="datetime64[ns]"), type=pa.timestamp("ns"))
    w = 2 if pad else 0
    parts = [_digits(pc.year(ts), 4 if pad else 0), "/", _digits(pc.month(ts), w), "/",
             _digits(pc.day(ts), w), " ", _digits(pc.hour(ts), w), ":",
             _digits(pc.minute(ts), 2)]
    return pc.fill_null(_cat(parts), "")


def _system_times(series: pd.Series) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS.fffffffZ`` (100 ns ticks, UTC) for each event time."""
    text = np.datetime_as_string(series.to_numpy(dtype="datetime64[ns]"), unit="ns")
    return _cat([pc.utf8_slice_codeunits(pa.array(text, type=_TEXT), 0, 27), "Z"])


def _cat(parts: list) -> pa.Array:
    """Row-wise concatenation of text arrays and constants."""
    args = [pa.scalar(p, _TEXT) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*args, pa.scalar("", _TEXT))


class _Columns:
    """The text forms of some rows of a frame's columns, each computed once, on demand."""

    def __init__(self, ev: pd.DataFrame, rows: np.ndarray) -> None:
        self.ev, self.rows = ev, rows
        self._cache: dict[tuple[str, str], pa.Array] = {}

    def __call__(self, column: str, form: str = "x") -> pa.Array:
        key = (column, form)
        if key not in self._cache:
            values = self.ev[column].iloc[self.rows]
            if form in ("clock", "clock_short"):
                self._cache[key] = _clock(values, pad=form == "clock")
            else:
                self._cache[key] = _text(values, _FORMS[form])
        return self._cache[key]


_FORMS: dict[str, Callable[[object], str]] = {
    "x": _x,  # text safe inside an element
    "hex": _hx,
    "bool": _b,
    "bound": lambda v: "1" if v is True or v is np.True_ else "0",
    "port": lambda v: "" if _s(v) == "" else f":{_s(v)}",
}


def _one(pieces: list) -> list:
    """One ``<Data>`` holding ``pieces`` separated by ", "."""
    out: list = ["<Data>"]
    for i, piece in enumerate(pieces):
        out += ([", "] if i else []) + (piece if isinstance(piece, list) else [piece])
    return out + ["</Data>"]


def _each(pieces: list) -> list:
    """One ``<Data>`` per piece."""
    out: list = []
    for piece in pieces:
        out += ["<Data>"] + (piece if isinstance(piece, list) else [piece]) + ["</Data>"]
    return out


#: Event ID -> the pieces of its ``<EventData>`` (the layouts of :func:`_data`).
_LAYOUTS: dict[int, Callable[[_Columns], list]] = {
    12288: lambda c: _one([
        c(S.RESULT_CODE, "hex"), c(S.STATUS_FLAGS, "hex"), [c(S.KMS_HOST), c(S.KMS_PORT, "port")],
        c(S.CMID), c(S.CLIENT_TIME, "clock"), c(S.IS_VM, "bool"), c(S.LICENSE_STATUS),
        c(S.MINUTES_TO_EXPIRY), c(S.SKU_ID), c(S.MIN_COUNT)]),
    12289: lambda c: _one([
        c(S.RESULT_CODE, "hex"), c(S.STATUS_FLAGS, "hex"), c(S.IS_SUCCESS, "bound"), "0",
        c(S.KMS_COUNT), c(S.ACTIVATION_INTERVAL_MIN), c(S.RENEWAL_INTERVAL_MIN),
        c(S.CLIENT_TIME, "clock")]),
    12290: lambda c: _each([
        "", c(S.RESULT_CODE, "hex"), c(S.MIN_COUNT), c(S.CLIENT_NAME), c(S.CMID),
        c(S.CLIENT_TIME, "clock_short"), c(S.IS_VM, "bool"), c(S.LICENSE_STATUS),
        c(S.MINUTES_TO_EXPIRY), c(S.SKU_ID)]),
    8198: lambda c: _each([
        ["hr=", c(S.RESULT_CODE, "hex")],
        ["RuleId=;Action=AutoActivate;AppId=", c(S.APP_ID), ";SkuId=", c(S.SKU_ID),
         ";NotificationInterval=1440;Trigger=", c(S.TRIGGER), ";SessionId=1"]]),
    8233: lambda c: _each([
        ["Reason:", c(S.RESULT_CODE, "hex")],
        ["AppId = ", c(S.APP_ID), ", SkuId = ", c(S.SKU_ID)],
        ["Trigger=", c(S.TRIGGER)]]),
    12293: lambda c: _each([c(S.RESULT_CODE, "hex"), ""]),
    12308: lambda c: _each([c(S.SKU_ID)]),
    1003: lambda c: _each([c(S.APP_ID), ""]),
}


def _event_data(ev: pd.DataFrame) -> pa.Array:
    """Render the ``<Data>`` elements of every row, laid out by its event ID.

    Each layout is rendered for the rows of its event ID only; the pieces are put back in row
    order with one ``take``.
    """
    eid = ev[S.EVENT_ID].to_numpy(dtype="float64", na_value=np.nan)
    placed, texts = [], []
    for event_id, layout in _LAYOUTS.items():
        rows = np.flatnonzero(eid == event_id)
        if len(rows):
            placed.append(rows)
            texts.append(_cat(layout(_Columns(ev, rows))))
    rest = np.flatnonzero(~np.isin(eid, list(_LAYOUTS)))
    placed.append(rest)
    texts.append(pa.array([""] * len(rest), type=_TEXT))
    where = np.empty(len(ev), dtype=np.int64)
    where[np.concatenate(placed)] = np.arange(len(ev))
    return pa.concat_arrays(texts).take(pa.array(where))


def _provider(value: object) -> str:
    provider = _s(value) or "Microsoft-Windows-Security-SPP"
    return (f'<Event xmlns="{_NS}"><System><Provider Name={quoteattr(_NOT_XML.sub(" ", provider))} '
            f'Guid="{_GUID.get(provider, "")}" '
            f'EventSourceName={quoteattr(_NOT_XML.sub(" ", _SOURCE.get(provider, provider)))}/>')


def _level_head(value: object) -> str:
    qualifiers = _QUALIFIERS.get(_LEVEL.get(_s(value), 4), 16384)
    return f'<EventID Qualifiers="{qualifiers}">'


def _level_tail(value: object) -> str:
    level = _LEVEL.get(_s(value), 4)
    return (f"</EventID><Version>0</Version><Level>{level}</Level><Task>0</Task><Opcode>0</Opcode>"
            '<Keywords>0x80000000000000</Keywords><TimeCreated SystemTime="')


def _event_id(value: object) -> str:
    return str(None if value is pd.NA else value)  # as the row renderer writes it


def render_events_xml(events: pd.DataFrame) -> pa.Array:
    """Render every row of a canonical events frame as a wevtutil ``<Event>`` line.

    The same text as :func:`render_event_xml` row by row.

    Parameters
    ----------
    events : pandas.DataFrame
        A canonical events frame (see :func:`activation_kb.schema.coerce_events`).

    Returns
    -------
    pyarrow.LargeStringArray
        One line per row, each ending with a newline.
    """
    ev = events
    if not len(ev):
        return pa.array([], type=_TEXT)
    return _cat([
        _text(ev[S.PROVIDER], _provider), _text(ev[S.LEVEL], _level_head),
        _text(ev[S.EVENT_ID], _event_id), _text(ev[S.LEVEL], _level_tail),
        _system_times(ev[S.EVENT_TIME]), '"/><EventRecordID>', _text(ev[S.RECORD_ID], _s),
        '</EventRecordID><Correlation/><Execution ProcessID="0" ThreadID="0"/><Channel>',
        _text(ev[S.CHANNEL], _x), "</Channel><Computer>", _text(ev[S.HOST], _x),
        "</Computer><Security/></System><EventData>", _event_data(ev), "</EventData></Event>\n",
    ])


def text_bytes(lines: pa.Array, start: int = 0, stop: int | None = None) -> memoryview:
    """Return the UTF-8 bytes of ``lines[start:stop]`` as one block, without copying them."""
    stop = len(lines) if stop is None else stop
    _, offsets, data = lines.buffers()
    offs = np.frombuffer(offsets, dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    if data is None or start >= stop:
        return memoryview(b"")
    return memoryview(data)[int(offs[start]):int(offs[stop])]
