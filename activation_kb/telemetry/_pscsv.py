"""Read CSV exports made on Windows: Get-WinEvent, Get-EventLog and Event Viewer.

``Get-WinEvent | Export-Csv``, ``Get-EventLog | Export-Csv`` and Event Viewer "Save All Events
As... CSV".

Layouts (reference notes, section 2.2):

* Get-WinEvent: ``"Message","Id","Version","Qualifiers","Level","Task","Opcode","Keywords",
  "RecordId","ProviderName","ProviderId","LogName",...,"MachineName","UserId","TimeCreated",...``.
  ``Properties`` serialises as a type name, so the Info payload comes out of ``Message``.
* Get-EventLog: ``EventID, MachineName, Data, Index, Category, CategoryNumber, EntryType, Message,
  Source, ReplacementStrings, InstanceId, TimeGenerated, TimeWritten, ...``; ``InstanceId`` is
  the full classic ID (``(Qualifiers << 16) | ID``), masked with ``0xFFFF``. It does not say which
  log the records came from: ``channel`` is left empty.
* Event Viewer: header ``Level,Date and Time,Source,Event ID,Task Category`` and a sixth,
  unnamed field holding the message. It names neither the computer nor the log: ``host`` is the
  file name without its suffixes (fleets save one file per machine), ``channel`` is empty and
  ``record_id`` missing (so these records are never de-duplicated).

All three write local times without an offset, in the exporting machine's culture: the loader
needs ``tz=`` and picks the first of :data:`~._build.LOCAL_FORMATS` that reads the file's times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..errors import TelemetryError
from ._build import Reject, batched
from ._fields import SEP
from ._message import message_items
from ._source import Source
from ._tabular import open_csv

__all__ = ["read_winevent_csv", "read_eventviewer_csv", "WINEVENT_COLUMNS", "EVENTLOG_COLUMNS",
           "EVENTVIEWER_COLUMNS"]

WINEVENT_COLUMNS = ("Message", "Id", "TimeCreated")
EVENTLOG_COLUMNS = ("Message", "MachineName", "TimeGenerated")
EVENTVIEWER_COLUMNS = ("Level", "Date and Time", "Source", "Event ID")
_EXPECT_PS = ("a Get-WinEvent | Export-Csv file (columns Message, Id, ..., TimeCreated) or a "
              "Get-EventLog | Export-Csv file (EventID/InstanceId, MachineName, TimeGenerated)")
_EXPECT_EV = "an Event Viewer CSV (Level, Date and Time, Source, Event ID, Task Category, message)"


def _event_id(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 10 else None


def _data(eid_text: str | None, message: str | None) -> str:
    return SEP.join(x.replace(SEP, " ") for x in message_items(_event_id(eid_text), message))


def _winevent(row: dict[str, Any], record: int) -> tuple:
    eid = row.get("Id")
    return (record, eid, row.get("TimeCreated"), row.get("RecordId"),
            row.get("Level") or row.get("LevelDisplayName"), row.get("LogName") or "",
            row.get("MachineName"), row.get("ProviderName"), _data(eid, row.get("Message")),
            row.get("Message"))


def _eventlog(row: dict[str, Any], record: int) -> tuple:
    eid = row.get("InstanceId") or row.get("EventID")
    return (record, eid, row.get("TimeGenerated") or row.get("TimeWritten"), row.get("Index"),
            row.get("EntryType"), "", row.get("MachineName"), row.get("Source"),
            _data(eid, row.get("Message")), row.get("Message"))


def _records(rows: Iterator, convert: Callable[[dict, int], tuple]) -> Iterator[tuple | Reject]:
    for item in rows:
        yield item if isinstance(item, Reject) else convert(item[2], item[0])


def read_winevent_csv(src: Source) -> Iterator[list[tuple] | Reject]:
    """Yield raw records from a Get-WinEvent or Get-EventLog ``Export-Csv`` file."""
    with open_csv(src, _EXPECT_PS) as (header, rows):
        names = set(header)
        if set(WINEVENT_COLUMNS) <= names:
            convert = _winevent
        elif set(EVENTLOG_COLUMNS) <= names and names & {"InstanceId", "EventID"}:
            convert = _eventlog
        else:
            raise TelemetryError(f"{src.name}: columns {', '.join(header[:8])} ...; expected "
                                 f"{_EXPECT_PS}")
        yield from batched(_records(rows, convert))


def read_eventviewer_csv(src: Source) -> Iterator[list[tuple] | Reject]:
    """Yield raw records from an Event Viewer "Save as CSV" file (columns taken by position)."""
    host = src.stem

    def convert(row: dict[str, Any], record: int) -> tuple:
        fields = [row[name] for name in header] + row["_extra"]
        level, when, provider, eid = fields[:4]
        message = ",".join(fields[5:]) if len(fields) > 5 else None
        return (record, eid, when, None, level, "", host, provider, _data(eid, message), message)

    with open_csv(src, _EXPECT_EV) as (header, rows):
        if len(header) < 4:
            raise TelemetryError(f"{src.name}: {len(header)} column(s); expected {_EXPECT_EV}")
        yield from batched(_records(rows, convert))
