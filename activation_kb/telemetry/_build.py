"""Turn raw records into canonical events, one batch at a time, column by column.

Every reader yields raw records as plain tuples in :data:`RAW_FIELDS` order (strings as found in
the export, insertion strings joined by :data:`~._fields.SEP`). :func:`build_events` parses a
batch of them with vectorised pandas/pyarrow operations, so the per-record Python work stays in
the readers. A record whose event ID, time or computer name is unusable is rejected here.

Event kinds: :data:`EVENT_KIND_BY_ID` maps the event ID (masked with ``0xFFFF``) of records from
the Software Protection provider (``Microsoft-Windows-Security-SPP``, or the older
``Microsoft-Windows-Security-Licensing-SLC``; Event Viewer shortens them to ``Security-SPP``, and
their classic source names are ``Software Protection Platform Service`` and ``Software Licensing
Service``).
The same IDs from another provider, and any record of the "Key Management Service" channel that
is not a 12290, are kind ``other``: kept, never taken for KMS traffic.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

from .. import schema as S
from ..catalogue.categories import category_of
from ._fields import BOUND, HR, KIND_PARSERS, TIME_RANGE, UNREADABLE, parse_times

__all__ = ["RAW_FIELDS", "Reject", "Skipped", "TimeParser", "EVENT_KIND_BY_ID", "KMS_CHANNEL",
           "PROVIDERS", "PROVIDER_PATTERN", "build_events", "batched", "level_name", "RAW_LIMIT",
           "clip_raw", "shown", "TIME_RANGE", "Unreadable"]

#: Order of the fields in a raw record tuple.
RAW_FIELDS = ("record", "event_id", "time", "record_id", "level", "channel", "host", "provider",
              "data", "message")

#: Event ID (masked with 0xFFFF) -> event_kind, for Software Protection records.
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
#: Names the SPP/SLC providers go by: XML/EVTX, Event Viewer (short) and classic source names.
PROVIDER_PATTERN = (r"(?i)^((microsoft-windows-)?security-(spp|licensing-slc)"
                r"|software (protection platform|licensing) service)$")

_KINDS = list(S.EVENT_KINDS)
_OTHER = _KINDS.index("other")
_KIND_OF_ID = np.full(1 << 16, _OTHER, dtype=np.int8)
for _id, _kind in EVENT_KIND_BY_ID.items():
    _KIND_OF_ID[_id] = _KINDS.index(_kind)
_HOST_KINDS = [_KINDS.index(k) for k in ("kms_host_request", "dns_publish_fail", "dns_publish_ok")]
_KMS_KINDS = [_KINDS.index(k) for k in ("kms_request", "kms_response", "kms_host_request")]
_ALWAYS_OK = [_KINDS.index(k) for k in ("dns_publish_ok", "adba_success")]

#: Level numbers and names (English, French, German, Spanish) -> canonical level.
_LEVEL_NAMES = {
    "0": "info", "1": "error", "2": "error", "3": "warning", "4": "info", "5": "info",
    "critical": "error", "error": "error", "warning": "warning", "information": "info",
    "informational": "info", "info": "info", "verbose": "info",
    "critique": "error", "erreur": "error", "avertissement": "warning", "informations": "info",
    "kritisch": "error", "fehler": "error", "warnung": "warning", "informationen": "info",
    "crítico": "error", "advertencia": "warning", "información": "info",
}
_STR = S.EVENT_DTYPES[S.HOST]
_NULL = pa.scalar(None, pa.string())


class Reject(NamedTuple):
    """A record that could not be loaded: its number in the file, why, and its text."""

    record: int
    reason: str
    raw: str


class Skipped(NamedTuple):
    """Records read and left out because they are not activation events (another provider)."""

    count: int


#: Characters of a rejected record's text kept in ``rejected.raw``; longer texts are cut (and
#: counted in the load summary as ``rejected_raw_cut``).
RAW_LIMIT = 512
#: What ends a cut raw text.
CUT_MARK = " [...]"


def clip_raw(text: str | None) -> str:
    """Return ``text`` capped at :data:`RAW_LIMIT` characters, ending with ``[...]`` when cut."""
    if not text:
        return ""
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + CUT_MARK


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)``, shortened to about ``limit`` characters, for messages."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...' ({len(str(value)):,} chars)"


def batched(items: Iterable[tuple | Reject], size: int = 10_000,
            ) -> Iterator[list[tuple] | Reject]:
    """Group raw records into lists of up to ``size``; yield each reject alone, in file order.

    Readers yield what this yields: the loader builds lists column-wise and accounts each reject.
    """
    rows: list[tuple] = []
    for item in items:
        if isinstance(item, Reject):
            if rows:
                yield rows
                rows = []
            yield item
        else:
            rows.append(item)
            if len(rows) >= size:
                yield rows
                rows = []
    if rows:
        yield rows


def level_name(level: object) -> str | None:
    """Map an event ``Level`` (number or display name) to error / warning / info (None: unknown)."""
    if level is None:
        return None
    return _LEVEL_NAMES.get(str(level).strip().lower())


#: Date formats of Windows cultures for local times without an offset, most specific first.
LOCAL_FORMATS = (
    "ISO8601",                  # 2024-03-01 08:00:00 (sortable, invariant)
    "%m/%d/%Y %I:%M:%S %p",     # en-US 3/1/2024 8:00:00 AM
    "%d/%m/%Y %H:%M:%S",        # en-GB, fr-FR, es-ES, it-IT
    "%d.%m.%Y %H:%M:%S",        # de-DE, ru-RU
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %I:%M:%S %p",     # en-AU, en-IN
    "%Y/%m/%d %H:%M:%S",        # ja-JP, zh-CN
    "%d-%m-%Y %H:%M:%S",        # nl-NL
)




@dataclass
class TimeParser:
    """Parse a file's event times to UTC.

    ``tz=None``: the times carry UTC or an offset (ISO 8601). Otherwise they are local wall times
    in ``tz``; the first of ``formats`` that reads every time of the first batch is kept for the
    whole file. A time repeated by a daylight-saving change is taken as the first (summer-time)
    one; a time skipped by it is moved forward. Times outside :data:`TIME_RANGE` are missing in
    the result and flagged, so their records are rejected with that reason.
    """

    formats: tuple[str, ...] = ("ISO8601",)
    tz: str | None = None
    chosen: str | None = field(default=None, init=False)

    def expected(self) -> str:
        """Describe the expected time format, for messages."""
        if self.tz is None:
            return "an ISO 8601 UTC time such as 2024-03-01T08:00:00.0000000Z"
        return f"a local time in the file's date format ({self.chosen or 'not yet known'})"

    def __call__(self, values: pa.Array) -> tuple[pd.Series, np.ndarray]:
        """Return UTC times (NaT where a value does not parse) and where a time is out of range."""
        text = pd.Series(pc.utf8_trim_whitespace(values), dtype=_STR)
        fmt = self.chosen
        if fmt is None:  # the first format that reads every time, else the one that reads most
            filled = text[text.notna() & (text != "")]
            counts = []
            for candidate in self.formats:
                counts.append(int(self._parse(filled, candidate)[0].notna().sum()))
                if counts[-1] == len(filled):
                    break
            best = max(range(len(counts)), key=counts.__getitem__)
            fmt = self.formats[best]
            if counts[best]:  # keep it for the file once it has read something
                self.chosen = fmt
        out, outside = self._parse(text, fmt)
        if self.tz is not None:
            if out.dt.tz is None:
                out = out.dt.tz_localize(self.tz, ambiguous=np.ones(len(out), bool),
                                         nonexistent="shift_forward")
            out = out.dt.tz_convert("UTC")
        return out.astype(S.EVENT_DTYPES[S.EVENT_TIME]), outside

    def _parse(self, text: pd.Series, fmt: str) -> tuple[pd.Series, np.ndarray]:
        try:
            return parse_times(text, fmt, utc=self.tz is None)
        except (ValueError, TypeError):  # e.g. naive and aware local times mixed
            empty = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
            return empty, np.zeros(len(text), bool)


def _text(values: tuple) -> pa.Array:
    """Return values as a pyarrow string array (numbers become their decimal text)."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid, UnicodeError):
        return pa.array([None if v is None else str(v).encode("utf-8", "replace").decode("utf-8")
                         for v in values], pa.string())


def _integers(values: tuple, max_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse decimal integers; return (values as int64, valid mask)."""
    text = pc.utf8_trim_whitespace(_text(values))
    ok = pc.fill_null(pc.match_substring_regex(text, rf"^\d{{1,{max_digits}}}$"), False)
    nums = pc.fill_null(pc.cast(pc.if_else(ok, text, _NULL), pa.int64()), 0)
    return nums.to_numpy(zero_copy_only=False), ok.to_numpy(zero_copy_only=False)


def _blank(column: str, n: int) -> Any:
    """Return a column of ``n`` missing values, ready to receive values at chosen positions."""
    if column == S.CLIENT_TIME:
        return np.full(n, np.datetime64("NaT"), "datetime64[ns]")
    dtype = S.EVENT_DTYPES.get(column) or {HR: "UInt32", BOUND: "Int8"}[column]
    if dtype == "boolean":
        return pd.arrays.BooleanArray(np.zeros(n, bool), np.ones(n, bool))
    if isinstance(dtype, str):
        np_dtype = pd.api.types.pandas_dtype(dtype).numpy_dtype
        return pd.arrays.IntegerArray(np.zeros(n, np_dtype), np.ones(n, bool))
    return np.full(n, None, dtype=object)


def _put(buffers: dict[str, Any], n: int, idx: np.ndarray, parsed: dict[str, Any]) -> None:
    for column, values in parsed.items():
        buf = buffers.get(column)
        if buf is None:
            buf = buffers[column] = _blank(column, n)
        if isinstance(values, (pa.Array, pa.ChunkedArray)):
            values = values.to_numpy(zero_copy_only=False)
        buf[idx] = values


def _codes_and_categories(hr: ExtensionArray) -> tuple[np.ndarray, pd.Categorical]:
    """Canonical code text and error category of each result code (computed once per code)."""
    values = np.asarray(hr.fillna(0), dtype=np.int64)
    present = ~np.asarray(hr.isna())
    uniq, inverse = np.unique(values, return_inverse=True)
    texts = np.array([f"0x{v:08X}" for v in uniq], dtype=object)[inverse]
    cats = np.array([category_of(f"0x{v:08X}") if v else None for v in uniq], dtype=object)[inverse]
    texts[~present] = None
    cats[~present] = None
    return texts, pd.Categorical(cats, dtype=S.EVENT_DTYPES[S.CATEGORY])


def _from_codes(codes: np.ndarray, column: str) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=S.EVENT_DTYPES[column])


def _levels(values: tuple) -> np.ndarray:
    enc = pc.dictionary_encode(_text(values))
    names = list(S.LEVELS)
    lookup = np.array([names.index(n) if (n := level_name(v)) else -1
                       for v in enc.dictionary.to_pylist()] + [-1], dtype=np.int8)
    idx = pc.fill_null(enc.indices, len(lookup) - 1).to_numpy(zero_copy_only=False)
    return lookup[idx]


def _describe(row: tuple) -> str:
    return clip_raw("; ".join(f"{name}={str(value)[:RAW_LIMIT]}"
                              for name, value in zip(RAW_FIELDS[1:], row[1:])
                              if value not in (None, "")))


def _check(rows: list[tuple], times: TimeParser) -> tuple[list[Reject], Any]:
    """Find the records without a usable event ID, time or computer name."""
    cols = list(zip(*rows))
    ids, id_ok = _integers(cols[1], 10)
    id_ok &= ids <= 0xFFFFFFFF
    when, outside = times(_text(cols[2]))
    host = pc.utf8_trim_whitespace(_text(cols[6]))
    host_ok = pc.fill_null(pc.not_equal(host, ""), False).to_numpy(zero_copy_only=False)
    time_ok = when.notna().to_numpy()
    ok = id_ok & time_ok & host_ok
    rejects = []
    lo, hi = (t.date().isoformat() for t in TIME_RANGE)
    for i in np.flatnonzero(~ok):
        row = rows[i]
        if not id_ok[i]:
            reason = f"EventID {shown(row[1])} is not an event number"
        elif outside[i]:
            reason = (f"time {shown(row[2])} is outside the range of event times ({lo} to "
                      f"{hi}); a zero or damaged timestamp (1601-01-01 is a zero FILETIME)")
        elif not time_ok[i]:
            reason = f"time {shown(row[2])} is not a valid time; expected {times.expected()}"
        else:
            reason = "no computer name (Computer/MachineName is empty)"
        rejects.append(Reject(int(row[0]), reason, _describe(row)))
    return rejects, (ok, cols, ids, when, host)


class Unreadable(NamedTuple):
    """A value present in a loaded record that could not be read (the field is left missing)."""

    record: int
    column: str
    value: str
    reason: str


def build_events(rows: list[tuple], source: str, fmt: str, times: TimeParser,
                 ) -> tuple[pd.DataFrame, list[Reject], list[Unreadable]]:
    """Build canonical events from raw record tuples; return ``(events, rejects, unreadable)``.

    Parameters
    ----------
    rows : list of tuple
        Raw records in :data:`RAW_FIELDS` order.
    source, fmt : str
        File name and format value, stored in ``source_file`` / ``source_format``.
    times : TimeParser
        How this file's times are written.

    Returns
    -------
    tuple
        The events built, the records rejected (no usable event ID, time or computer name), and
        the values present in loaded records but unreadable (a result code that is not a 32-bit
        HRESULT, a number out of range...), each with its record number.
    """
    rejects, (ok, cols, ids, when, host) = _check(rows, times)
    if rejects:
        rows = [r for r, good in zip(rows, ok) if good]
        if not rows:
            return S.empty_events(), rejects, []
        cols = list(zip(*rows))
        keep = np.flatnonzero(ok)
        ids, when, host = ids[keep], when[keep], host.take(pa.array(keep))
    n = len(rows)
    eid = (ids & 0xFFFF).astype(np.int32)
    channel = pc.fill_null(pc.utf8_trim_whitespace(_text(cols[5])), "")
    provider = pc.fill_null(pc.utf8_trim_whitespace(_text(cols[7])), "")
    spp = pc.or_(pc.equal(provider, ""), pc.match_substring_regex(provider, PROVIDER_PATTERN))
    in_kms = pc.equal(pc.utf8_lower(channel), KMS_CHANNEL.lower())
    kind = _KIND_OF_ID[eid]
    kind[~spp.to_numpy(zero_copy_only=False)] = _OTHER
    kind[in_kms.to_numpy(zero_copy_only=False) & (eid != 12290)] = _OTHER

    data = pc.fill_null(_text(cols[8]), "")
    buffers: dict[str, Any] = {}
    unreadable: list[Unreadable] = []
    for code in np.unique(kind):
        parser = KIND_PARSERS.get(_KINDS[code])
        if parser is not None:
            idx = np.flatnonzero(kind == code)
            parsed = parser(data.take(pa.array(idx)))
            for column, bad, text, why in parsed.pop(UNREADABLE, ()):
                where = np.flatnonzero(bad)
                values = text.take(pa.array(where)).to_pylist()
                unreadable.extend(Unreadable(int(cols[0][idx[i]]), column, clip_raw(v)[:80], why)
                                  for i, v in zip(where, values))
            _put(buffers, n, idx, parsed)
    hr = buffers.pop(HR, None)
    if hr is None:
        hr = _blank(HR, n)
    has_hr = ~np.asarray(hr.isna())
    ok = np.asarray(hr.fillna(1)) == 0
    bound = buffers.pop(BOUND, None)
    if bound is not None:  # a 12289 is a success only when the response bound the client
        ok &= (kind != _KINDS.index("kms_response")) | (np.asarray(bound.fillna(0)) == 1)
    always = np.isin(kind, _ALWAYS_OK)
    success = pd.arrays.BooleanArray(ok | always, ~(has_hr | always))
    code_text, category = _codes_and_categories(hr)
    method = np.full(n, S.ACTIVATION_METHODS.index("unknown"), np.int8)
    method[np.isin(kind, _KMS_KINDS)] = S.ACTIVATION_METHODS.index("KMS")
    method[kind == _KINDS.index("adba_success")] = S.ACTIVATION_METHODS.index("ADBA")
    rid, rid_ok = _integers(cols[3], 18)

    out: dict[str, Any] = {
        S.EVENT_TIME: when.reset_index(drop=True),
        S.HOST: pd.array(host, dtype=_STR),
        S.ROLE: _from_codes(np.isin(kind, _HOST_KINDS).astype(np.int8), S.ROLE),
        S.CHANNEL: pd.array(channel, dtype=_STR),
        S.PROVIDER: pd.array(provider, dtype=_STR),
        S.EVENT_ID: pd.arrays.IntegerArray(eid, np.zeros(n, bool)),
        S.RECORD_ID: pd.arrays.IntegerArray(np.where(rid_ok, rid, 0).astype(np.int64), ~rid_ok),
        S.LEVEL: _from_codes(_levels(cols[4]), S.LEVEL),
        S.EVENT_KIND: _from_codes(kind, S.EVENT_KIND),
        S.ACTIVATION_METHOD: _from_codes(method, S.ACTIVATION_METHOD),
        S.RESULT_CODE: hr,
        S.CODE: pd.array(code_text, dtype=_STR),
        S.IS_SUCCESS: success,
        S.CATEGORY: category,
    }
    for column, dtype in S.EVENT_DTYPES.items():
        if column in out:
            continue
        if column in buffers:
            values = buffers[column]
            out[column] = pd.array(values, dtype=_STR) if values.dtype == object else values
        elif column == S.SITE:
            out[column] = pd.array(pa.repeat("", n), dtype=_STR)
        elif column == S.MESSAGE:
            out[column] = pd.array(_text(cols[9]), dtype=_STR)
        elif column == S.SOURCE_FORMAT:
            out[column] = pd.Categorical.from_codes(
                np.full(n, S.SOURCE_FORMATS.index(fmt), np.int8), dtype=dtype)
        elif column == S.SOURCE_FILE:
            out[column] = pd.array(pa.repeat(source, n), dtype=_STR)
        elif column == S.SOURCE_RECORD:
            out[column] = pd.arrays.IntegerArray(np.asarray(cols[0], np.int64), np.zeros(n, bool))
        elif column == S.RAW:
            out[column] = pd.array(data, dtype=_STR)
        else:
            out[column] = _blank(column, n)
        if isinstance(out[column], np.ndarray) and out[column].dtype == object:
            out[column] = pd.array(out[column], dtype=_STR)
    if unreadable:
        unreadable.sort(key=lambda u: u.record)
    return pd.DataFrame(out), rejects, unreadable
