"""Delimited text and JSON tables: dialect, header, numbered rows, bad rows as rejects.

Shared by the PowerShell / Event Viewer CSV readers and the Log Analytics readers. CSV files may
start with a ``#TYPE ...`` line (Windows PowerShell 5.1 without ``-NoTypeInformation``), use
``,``, ``;`` (``-UseCulture``) or tab, and be UTF-8 (with or without BOM) or UTF-16.

A field may be as long as the file (the ``csv`` module's 131,072-character field limit is
raised once, process-wide, at import: a long message is one field, never cut into a bogus
record). A record longer than :data:`MAX_RECORD` characters is rejected. JSON arrays are read
element by element as the file streams; a damaged element is rejected and reading resumes at
the next row object.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import TelemetryError
from ._build import Reject, shown
from ._source import Source, undecodable

__all__ = ["clean_name", "header_names", "open_csv", "json_rows", "Row", "MAX_RECORD"]

_RAW = 2000
#: Largest record read, in characters (real records are a few kilobytes).
MAX_RECORD = 32 << 20
_JSON_CHUNK = 1 << 20
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))

#: A numbered row: (record number, first line number, {column: value}).
Row = tuple[int, int, dict[str, Any]]


def clean_name(name: str) -> str:
    """Normalise a column name: no BOM, quotes, spaces or ``[UTC]``-style unit suffix.

    The Log Analytics portal writes ``TimeGenerated [UTC]``.
    """
    name = name.lstrip("\ufeff").strip().strip('"').strip()
    if name.endswith("]"):
        start = name.rfind("[")
        if start >= 0 and "]" not in name[start:-1]:
            name = name[:start].rstrip()
    return name


def _delimiter(line: str) -> str:
    best, count = ",", 0
    for d in (",", ";", "\t"):
        n = len(next(csv.reader([line], delimiter=d), []))
        if n > count:
            best, count = d, n
    return best


def header_names(text: str) -> list[str]:
    """Return the column names of the CSV whose beginning is ``text`` (for format sniffing)."""
    lines = text.splitlines()
    if lines and lines[0].startswith("#TYPE"):
        lines = lines[1:]
    line = lines[0] if lines else ""
    return [clean_name(x) for x in next(csv.reader([line], delimiter=_delimiter(line)), [])]


def _clean(text: str) -> str:
    """``text`` without undecodable bytes (for the rejected record's raw text)."""
    return text.encode("utf-8", "replace").decode("utf-8")[:_RAW]


class _Reader:
    """A csv reader that also knows the file's text encoding (for messages)."""

    def __init__(self, fh, delimiter: str) -> None:
        self._reader = csv.reader(fh, delimiter=delimiter)
        self.encoding = fh.encoding

    def __iter__(self):
        return self

    def __next__(self) -> list[str]:
        return next(self._reader)

    @property
    def line_num(self) -> int:
        return self._reader.line_num


def _rows(reader: _Reader, header: list[str], lines_before: int) -> Iterator[Row | Reject]:
    record = last = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            record += 1
            yield Reject(record, f"line {lines_before + last + 1}: {exc}", "")
            if reader.line_num == last:
                return
            last = reader.line_num
            continue
        start, last = lines_before + last + 1, reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        record += 1
        size = sum(map(len, fields))
        if size > MAX_RECORD:
            yield Reject(record, f"line {start}: record of {size:,} characters, larger than "
                         f"{MAX_RECORD >> 20} M; expected event records of a few kilobytes",
                         _clean(",".join(f[:_RAW] for f in fields[:3])))
            continue
        if any(undecodable(f) for f in fields):
            yield Reject(record, f"line {start}: bytes that are not valid {reader.encoding} text",
                         _clean(",".join(fields)))
            continue
        if len(fields) < len(header):
            yield Reject(record, f"line {start}: {len(fields)} fields, expected {len(header)} "
                         f"({', '.join(header[:6])}, ...)", _clean(",".join(fields)))
            continue
        yield record, start, dict(zip(header, fields)) | {"_extra": fields[len(header):]}


@contextmanager
def open_csv(src: Source, expected: str) -> Iterator[tuple[list[str], Iterator[Row | Reject]]]:
    """Open a CSV export: yield its column names and an iterator of numbered rows and rejects.

    A row with fewer fields than the header is rejected; extra fields are kept under ``_extra``.
    """
    with src.open_text() as fh:
        first = fh.readline()
        lines = 1
        if first.startswith("#TYPE"):
            first, lines = fh.readline(), 2
        if not first.strip():
            raise TelemetryError(f"{src.name}: no header line; expected {expected}")
        delimiter = _delimiter(first)
        header = [clean_name(x) for x in next(csv.reader([first], delimiter=delimiter))]
        if undecodable(first):  # keep what decoded: the columns read may be intact
            header = [x.encode("utf-8", "replace").decode("utf-8") for x in header]
        check_unique(header, src, expected)
        yield header, _rows(_Reader(fh, delimiter), header, lines)


def check_unique(header: list[str], src: Source, expected: str) -> None:
    """Raise :class:`TelemetryError` when a (named) column appears twice in ``header``."""
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise TelemetryError(f"{src.name}: column {shown(name)} appears twice in the header; "
                                 f"expected each column once ({expected})")
        seen.add(name)


#: Columns a Log Analytics row has, to find the next row after damage in the first one.
_ROW_KEYS = {"TimeGenerated", "TimeGenerated [UTC]", "Computer", "EventID"}


class _ArrayStream:
    """Decode a JSON array element by element from a text stream, holding about 1 MB of text.

    A damaged element is rejected and reading resumes at the next object holding one of the row
    columns seen (an object nested in a row holds none), so the rows after it are not lost.
    """

    def __init__(self, fh, text: str) -> None:
        self.fh, self.buf, self.pos, self.eof = fh, text, 0, False
        self.decoder = json.JSONDecoder()
        self.keys: set[str] = set()

    def _more(self) -> bool:
        """Read the next chunk (dropping what was used); False at the end of the file."""
        if self.eof:
            return False
        chunk = self.fh.read(_JSON_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0
        return True

    def _skip_separators(self) -> None:
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in " \t\r\n,":
                pos += 1
            self.pos = pos
            if pos < len(buf) or not self._more():
                return

    def _decode(self) -> tuple[Any, int] | ValueError:
        """Decode the element at ``pos``, reading on while it is cut by the buffer's end."""
        while True:
            try:
                return self.decoder.raw_decode(self.buf, self.pos)
            except ValueError as exc:
                at_end = getattr(exc, "pos", 0) >= len(self.buf) - 1 or \
                    getattr(exc, "msg", "").startswith("Unterminated string")
                if not (at_end and len(self.buf) - self.pos < MAX_RECORD and self._more()):
                    return exc

    def _resync(self) -> None:
        """Move ``pos`` to the next element that is a row object (or to the end)."""
        search = self.pos + 1
        while True:
            start = self.buf.find("{", search)
            if start < 0:
                self.pos = max(self.pos, len(self.buf) - 64)  # keep what a match may straddle
                if not self._more():
                    self.pos = len(self.buf)
                    return
                search = 1
                continue
            try:
                item, _ = self.decoder.raw_decode(self.buf, start)
            except ValueError as exc:
                if getattr(exc, "pos", 0) >= len(self.buf) - 1 or \
                        getattr(exc, "msg", "").startswith("Unterminated string"):
                    shift = self.pos
                    if self._more():  # the candidate is cut by the buffer's end: read on
                        search = start - shift
                        continue
                item = None
            if isinstance(item, dict) and (self.keys or _ROW_KEYS) & set(item):
                self.pos = start
                return
            search = start + 1

    def items(self) -> Iterator[tuple[int, Any] | Reject]:
        self.pos = self.buf.index("[") + 1
        n = 0
        while True:
            self._skip_separators()
            if self.pos >= len(self.buf):
                yield Reject(n + 1, "truncated: the JSON array is not closed",
                             self.buf[-_RAW:])
                return
            if self.buf[self.pos] == "]":
                return
            start = self.pos
            got = self._decode()
            n += 1
            if isinstance(got, ValueError):
                self.pos = start
                text = self.buf[start:start + _RAW]
                self._resync()
                if self.pos >= len(self.buf):  # no row after it: the file ends in this one
                    yield Reject(n, f"truncated: the JSON array is not closed; its last element "
                                 f"is invalid ({got})", _clean(text))
                    return
                yield Reject(n, f"invalid JSON ({got})", _clean(text))
                continue
            item, self.pos = got
            if undecodable(self.buf[start:self.pos]):
                yield Reject(n, "bytes that are not valid UTF-8/UTF-16 text",
                             _clean(self.buf[start:self.pos]))
                continue
            if isinstance(item, dict) and len(self.keys) < 64:
                self.keys.update(k for k in item if isinstance(k, str))
            yield n, item


def json_rows(src: Source, expected: str) -> Iterator[Row | Reject]:
    """Yield numbered rows from a JSON array of objects, JSON lines, or a query API reply.

    The Log Analytics query API replies ``{"tables": [{"columns": [...], "rows": [[...]]}]}``.
    """
    with src.open_text() as fh:
        text = fh.read(_JSON_CHUNK)
        if text.lstrip().startswith("["):  # an array of rows: streamed
            for item in _ArrayStream(fh, text).items():
                yield item if isinstance(item, Reject) else (item[0], item[0], item[1])
            return
        text += fh.read()
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict) and isinstance(whole.get("tables"), list):
        n = 0
        for table in whole["tables"]:
            names = [c.get("name") for c in table.get("columns", []) if isinstance(c, dict)]
            for values in table.get("rows", []):
                n += 1
                if undecodable(json.dumps(values, ensure_ascii=False)):
                    yield Reject(n, "bytes that are not valid UTF-8/UTF-16 text", "")
                elif isinstance(values, list) and len(values) == len(names):
                    yield n, n, dict(zip(names, values))
                else:
                    yield Reject(n, f"row {n} does not match the {len(names)} columns",
                                 json.dumps(values)[:_RAW])
        return
    if isinstance(whole, dict) and not undecodable(text):  # a single row object
        yield 1, 1, whole
        return
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if undecodable(line):
            yield Reject(line_no, f"line {line_no}: bytes that are not valid UTF-8/UTF-16 text",
                         _clean(line))
            continue
        try:
            yield line_no, line_no, json.loads(line)
        except ValueError as exc:
            yield Reject(line_no, f"line {line_no}: invalid JSON ({exc})", _clean(line))
