"""Read Azure Monitor Log Analytics exports of the ``Event`` and ``WindowsEvent`` tables.

CSV (portal "Export to CSV", column names possibly suffixed ``[UTC]``) or JSON (an array of row
objects as ``az monitor log-analytics query`` prints, JSON lines, or the query API's
``{"tables": [...]}`` reply). Columns (reference notes, section 2.7):

* ``Event`` (legacy agent): Computer, EventLog, Source, EventID, EventLevel, EventLevelName,
  TimeGenerated, RenderedDescription, ParameterXml, EventData, ... It has no record number, so
  its records are never de-duplicated. The KMS Info comes from ``ParameterXml``
  (``<Param>...</Param>`` items), else ``EventData`` (``<Data>`` items), else the Info line of
  ``RenderedDescription``.
* ``WindowsEvent`` (AMA/WEF): Channel, Computer, EventID, EventLevel, EventLevelName,
  EventRecordId, Provider, TimeGenerated, EventData (a JSON object: ``{"Data": ...}`` or named
  items), RawEventData (the event XML, used when EventData is empty).

TimeGenerated is UTC: ISO 8601, or the portal's ``3/1/2024, 8:00:00.000 AM``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

from lxml import etree

from ._build import Reject, batched
from ._fields import SEP
from ._message import message_items
from ._source import Source
from ._tabular import clean_name, json_rows, open_csv
from ._xml import extract_event, parse_fragment

__all__ = ["read_la_event", "read_la_windowsevent", "LA_TIME_FORMATS", "la_table_of"]

#: TimeGenerated formats: ISO 8601 (API, CLI) and the portal's CSV export.
LA_TIME_FORMATS = ("ISO8601", "%m/%d/%Y, %I:%M:%S.%f %p", "%m/%d/%Y, %I:%M:%S %p")
_EXPECT = {
    "la_event": "a Log Analytics Event table export (TimeGenerated, Computer, EventLog, Source, "
                "EventID, RenderedDescription/ParameterXml)",
    "la_windowsevent": "a Log Analytics WindowsEvent table export (TimeGenerated, Computer, "
                       "Channel, Provider, EventID, EventRecordId, EventData)",
}


def la_table_of(names: set[str]) -> str | None:
    """Which Log Analytics table (``la_event`` / ``la_windowsevent``) has these columns."""
    if not {"TimeGenerated", "Computer", "EventID"} <= names:
        return None
    if "Channel" in names and names & {"EventRecordId", "Provider", "RawEventData"}:
        return "la_windowsevent"
    if names & {"EventLog", "RenderedDescription", "ParameterXml"}:
        return "la_event"
    return None


def _xml_items(text: str, tags: tuple[str, ...]) -> list[str] | None:
    """Texts of the elements named ``tags`` in an XML fragment (None when it does not parse)."""
    try:
        root = parse_fragment(text)
    except etree.XMLSyntaxError:
        return None
    wanted = set(tags) | {"{http://schemas.microsoft.com/win/2004/08/events/event}" + t
                          for t in tags}
    return [el.text or "" for el in root.iter() if el.tag in wanted]


def _join(items: list[Any]) -> str:
    return SEP.join(("" if x is None else str(x)).replace(SEP, " ") for x in items)


def _event_id(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and len(text) <= 10 else None


def _event_row(row: dict[str, Any], record: int) -> tuple:
    message = row.get("RenderedDescription") or None
    items = None
    for column, tags in (("ParameterXml", ("Param",)), ("EventData", ("Data",))):
        text = row.get(column)
        if isinstance(text, str) and text.strip().startswith("<"):
            items = _xml_items(text, tags)
            if items:
                break
    if not items:
        items = message_items(_event_id(row.get("EventID")), message)
    return (record, row.get("EventID"), row.get("TimeGenerated"), None,
            row.get("EventLevelName") or row.get("EventLevel"), row.get("EventLog"),
            row.get("Computer"), row.get("Source"), _join(items), message)


def _dynamic_items(value: Any) -> list[Any] | None:
    """Return the insertion strings of a WindowsEvent ``EventData`` (object, JSON or XML)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("<"):
            return _xml_items(text, ("Data",))
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return [value]
    if isinstance(value, dict):
        if "Data" in value:
            value = value["Data"]
        else:
            return [v for k, v in value.items() if k != "Binary" and not isinstance(v, dict)]
    if isinstance(value, list):
        return value
    return None if value is None else [value]


def _windowsevent_row(row: dict[str, Any], record: int) -> tuple:
    items = _dynamic_items(row.get("EventData"))
    if not items and isinstance(row.get("RawEventData"), str):
        try:
            got = extract_event(parse_fragment(row["RawEventData"])[0], record)
            items = got[8].split(SEP) if isinstance(got, tuple) else None
        except (etree.XMLSyntaxError, IndexError):
            items = None
    return (record, row.get("EventID"), row.get("TimeGenerated"), row.get("EventRecordId"),
            row.get("EventLevel") or row.get("EventLevelName"), row.get("Channel"),
            row.get("Computer"), row.get("Provider"), _join(items or []), None)


def _read(src: Source, table: str, convert: Callable[[dict, int], tuple],
          ) -> Iterator[list[tuple] | Reject]:
    head = src.head(4096).lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n\x00")
    with ExitStack() as stack:
        if head[:1] in (b"[", b"{"):
            rows: Any = json_rows(src, _EXPECT[table])
        else:
            _, rows = stack.enter_context(open_csv(src, _EXPECT[table]))
        yield from batched(_records(rows, convert))


def _records(rows: Iterator, convert: Callable[[dict, int], tuple]) -> Iterator[tuple | Reject]:
    for item in rows:
        if isinstance(item, Reject):
            yield item
            continue
        record, _, row = item
        if not isinstance(row, dict):
            yield Reject(record, "not a JSON object with the table's columns",
                         json.dumps(row)[:2000])
            continue
        yield convert({clean_name(str(k)): v for k, v in row.items()}, record)


def read_la_event(src: Source) -> Iterator[list[tuple] | Reject]:
    """Yield raw records from an export of the Log Analytics ``Event`` table."""
    return _read(src, "la_event", _event_row)


def read_la_windowsevent(src: Source) -> Iterator[list[tuple] | Reject]:
    """Yield raw records from an export of the Log Analytics ``WindowsEvent`` table."""
    return _read(src, "la_windowsevent", _windowsevent_row)
