"""Input formats: the :class:`Format` enum, the readers table, and sniffing by content.

To add a format: write a reader ``read(src) -> iterator of (list of raw records | DataFrame |
Reject)``, add a :class:`Format` member and one :data:`READERS` line, and teach :func:`sniff`
what its first bytes look like.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import TelemetryError
from ._build import LOCAL_FORMATS
from ._canonical import REQUIRED, read_canonical_csv, read_canonical_parquet
from ._evtx import EVTX_MAGIC, read_evtx
from ._evtxjson import read_evtx_json
from ._loganalytics import LA_TIME_FORMATS, la_table_of, read_la_event, read_la_windowsevent
from ._pscsv import (
    EVENTLOG_COLUMNS,
    EVENTVIEWER_COLUMNS,
    WINEVENT_COLUMNS,
    read_eventviewer_csv,
    read_winevent_csv,
)
from ._source import Source, detect_encoding
from ._tabular import header_names
from ._xml import read_wevtutil_xml

__all__ = ["Format", "FormatSpec", "READERS", "sniff", "detect", "resolve_format",
           "check_not_empty", "EXPORT_SUFFIXES", "not_export_reason", "allowed_formats"]


class Format(enum.StrEnum):
    """Input formats that :func:`~activation_kb.telemetry.load_events` reads.

    A member's value is the ``source_format`` of the events it yields, except ``evtx_json``
    (EVTX records rendered by the Rust tools), whose events say ``evtx``.
    """

    WEVTUTIL_XML = "wevtutil_xml"
    EVTX = "evtx"
    EVTX_JSON = "evtx_json"
    WINEVENT_CSV = "winevent_csv"
    EVENTVIEWER_CSV = "eventviewer_csv"
    LA_EVENT = "la_event"
    LA_WINDOWSEVENT = "la_windowsevent"
    CANONICAL_CSV = "canonical_csv"
    CANONICAL_PARQUET = "canonical_parquet"


@dataclass(frozen=True)
class FormatSpec:
    """How to read one format.

    Attributes
    ----------
    read : callable
        ``read(src)`` yields lists of raw records, canonical frames and rejects.
    label : str
        What the format is, for messages ("expected ...").
    time_formats : tuple of str
        Time formats of the records (pandas ``format=`` strings, ``"ISO8601"``).
    local_times : bool
        True when times are local wall times without an offset: ``tz=`` is then required.
    source_format : str, optional
        The ``source_format`` of the events, when it is not the format's own value.
    """

    read: Callable[[Source], Iterator]
    label: str
    time_formats: tuple[str, ...] = ("ISO8601",)
    local_times: bool = False
    source_format: str | None = None


#: Format -> reader. One line per format.
READERS: dict[Format, FormatSpec] = {
    Format.WEVTUTIL_XML: FormatSpec(read_wevtutil_xml, "wevtutil XML (wevtutil qe /f:xml)"),
    Format.EVTX: FormatSpec(read_evtx, "a binary .evtx log"),
    # the same EVTX records rendered by another tool: their source_format is "evtx"
    Format.EVTX_JSON: FormatSpec(read_evtx_json, "evtx_dump JSON lines (Rust evtx)",
                                 source_format="evtx"),
    Format.WINEVENT_CSV: FormatSpec(read_winevent_csv, "Get-WinEvent/Get-EventLog | Export-Csv",
                                    LOCAL_FORMATS, local_times=True),
    Format.EVENTVIEWER_CSV: FormatSpec(read_eventviewer_csv, "Event Viewer 'Save as CSV'",
                                       LOCAL_FORMATS, local_times=True),
    Format.LA_EVENT: FormatSpec(read_la_event, "Log Analytics Event table (CSV or JSON)",
                                LA_TIME_FORMATS),
    Format.LA_WINDOWSEVENT: FormatSpec(read_la_windowsevent,
                                       "Log Analytics WindowsEvent table (CSV or JSON)",
                                       LA_TIME_FORMATS),
    Format.CANONICAL_CSV: FormatSpec(read_canonical_csv, "canonical CSV from write_events"),
    Format.CANONICAL_PARQUET: FormatSpec(read_canonical_parquet,
                                         "canonical Parquet from write_events"),
}
_ALIASES = {"xml": Format.WEVTUTIL_XML, "parquet": Format.CANONICAL_PARQUET,
            "jsonl": Format.EVTX_JSON}
_BY_SUFFIX = {".evtx": Format.EVTX, ".xml": Format.WEVTUTIL_XML,
              ".parquet": Format.CANONICAL_PARQUET, ".jsonl": Format.EVTX_JSON}
#: Suffixes (after removing ``.gz``) that only exports carry here: a file with one of them whose
#: content is none of the formats is an error, never skipped.
EXPORT_SUFFIXES = (".xml", ".evtx", ".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet")
#: What a file that is not an export often is, by its first bytes.
_NOT_EXPORTS = ((b"PK\x03\x04", "a zip archive: extract it to load the exports inside"),
                (b"\xd0\xcf\x11\xe0", "an Office/OLE document"), (b"%PDF", "a PDF document"),
                (b"\x89PNG", "an image"), (b"\xff\xd8\xff", "an image"))
# A quoted name, then an optional " [unit]" that cannot run past the next quote: linear.
_JSON_KEY = re.compile(r'"([A-Za-z_][A-Za-z0-9_]*)(?: \[[^\]"]*\])?"\s*:')
_JSON_COLUMN = re.compile(r'"name"\s*:\s*"([A-Za-z_][A-Za-z0-9_]*)"')


def allowed_formats() -> str:
    """Return the format names ``format=`` accepts, for messages."""
    return ", ".join(f.value for f in Format) + " (or " + ", ".join(_ALIASES) + ")"


_allowed = allowed_formats


def resolve_format(format: str | Format) -> Format:
    """Return the :class:`Format` named by ``format`` (a value, a member or an alias)."""
    if isinstance(format, Format):
        return format
    text = str(format).strip().lower()
    try:
        return _ALIASES.get(text) or Format(text)
    except ValueError:
        raise TelemetryError(f"unknown format {format!r}; expected one of {_allowed()}") from None


def check_not_empty(src: Source, head: bytes | None = None, expected: str | None = None) -> None:
    """Raise :class:`TelemetryError` when the file holds nothing but whitespace."""
    head = src.head() if head is None else head
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise TelemetryError(f"{src.name}: empty file; expected "
                             f"{expected or 'an event export (XML, EVTX, CSV, JSON or Parquet)'}")


def _table_format(names: set[str]) -> Format | None:
    if set(REQUIRED) <= names:
        return Format.CANONICAL_CSV
    if set(WINEVENT_COLUMNS) <= names or (set(EVENTLOG_COLUMNS) <= names
                                          and names & {"InstanceId", "EventID"}):
        return Format.WINEVENT_CSV
    if set(EVENTVIEWER_COLUMNS) <= names:
        return Format.EVENTVIEWER_CSV
    table = la_table_of(names)
    return Format(table) if table else None


def _suffix(src: Source) -> str:
    name = src.path.name.lower().removesuffix(".gz")
    return "." + name.rsplit(".", 1)[1] if "." in name.lstrip(".") else ""


def not_export_reason(src: Source, head: bytes) -> str | None:
    """Why ``src`` (that :func:`detect` could not place) is not an export; None: it should be.

    A file whose suffix only exports carry (:data:`EXPORT_SUFFIXES`) should be one: its content
    is a problem to report. Any other file (``README.md``, ``notes.txt``, ``inventory.xlsx``)
    that is empty or whose content is none of the formats is not an export.
    """
    if _suffix(src) in EXPORT_SUFFIXES:
        return None
    if not head.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        return "empty file, not an event export"
    what = next((w for magic, w in _NOT_EXPORTS if head.startswith(magic)), None)
    start = f"starts with {head[:16]!r}"
    return (f"cannot tell the format ({what}); not an event export" if what else
            f"cannot tell the format ({start}); not an event export")


def sniff(src: Source) -> Format:
    """Tell the format of ``src`` from its first bytes (decompressed), then from its suffix.

    Raises
    ------
    TelemetryError
        For an empty file, or when neither the content nor the suffix gives the format.
    """
    head = src.head()
    check_not_empty(src, head)
    found = detect(src, head)
    if found is None:
        raise TelemetryError(
            f"{src.name}: cannot tell the format (starts with {head[:16]!r}); expected an event "
            "export: wevtutil XML, EVTX, evtx_dump JSON lines, Get-WinEvent/Get-EventLog/Event "
            "Viewer CSV, Log Analytics Event/WindowsEvent CSV or JSON, or a canonical "
            f"CSV/Parquet; pass format= (--format) to choose one of {_allowed()}")
    return found


def detect(src: Source, head: bytes | None = None) -> Format | None:
    """Tell the format of ``src`` from its content, then its suffix; None when neither tells.

    XML needs an ``<Event`` in its first 64 KB (a README starting with an HTML tag is not an
    export), JSON and CSV need the columns of a format they carry.
    """
    head = src.head() if head is None else head
    if head.startswith(EVTX_MAGIC):
        return Format.EVTX
    if head.startswith(b"PAR1"):
        return Format.CANONICAL_PARQUET
    encoding, bom = detect_encoding(head)
    body = head[bom:]
    if encoding.startswith("utf-16"):
        body = body[: len(body) // 2 * 2]
    text = body.decode(encoding, "replace").lstrip()
    found: Format | None = None
    if text.startswith("<") and "<Event" in text:
        found = Format.WEVTUTIL_XML
    elif text.startswith(("{", "[")):
        if '"Event"' in text[:4096] and '"System"' in text[:4096]:
            found = Format.EVTX_JSON
        else:
            names = set(_JSON_KEY.findall(text)) | set(_JSON_COLUMN.findall(text))
            table = la_table_of(names)
            found = Format(table) if table else None
    elif "\x00" not in text[:512]:
        found = _table_format(set(header_names(text)))
    if found is None:
        found = _BY_SUFFIX.get(_suffix(src))
    return found
