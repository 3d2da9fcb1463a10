"""Delimited text and JSON tables: dialect, header, numbered rows, bad rows as rejects.

Shared by the PowerShell / Event Viewer CSV readers and the Log Analytics readers. CSV files may
start with a ``#TYPE ...`` line (Windows PowerShell 5.1 without ``-NoTypeInformation``), use
``,``, ``;`` (``-UseCulture``) or tab, and be UTF-8 (with or without BOM) or UTF-16.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import TelemetryError
from ._build import Reject
from ._source import Source, undecodable

__all__ = ["clean_name", "header_names", "open_csv", "json_rows", "Row"]

_UNIT = re.compile(r"\s*\[[^\]]*\]\s*$")  # Log Analytics portal: "TimeGenerated [UTC]"
_RAW = 2000

#: A numbered row: (record number, first line number, {column: value}).
Row = tuple[int, int, dict[str, Any]]


def clean_name(name: str) -> str:
    """Normalise a column name: no BOM, quotes, spaces or ``[UTC]``-style unit suffix."""
    return _UNIT.sub("", name.lstrip("\ufeff").strip().strip('"').strip())


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
        except UnicodeDecodeError as exc:
            yield Reject(record + 1, f"line {lines_before + last + 1}: undecodable text ({exc}); "
                         "the rest of the file is not read", "")
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
        try:
            first = fh.readline()
            lines = 1
            if first.startswith("#TYPE"):
                first, lines = fh.readline(), 2
        except UnicodeDecodeError as exc:
            raise TelemetryError(f"{src.name}: not UTF-8 or UTF-16 text ({exc}); expected "
                                 f"{expected}") from exc
        if not first.strip():
            raise TelemetryError(f"{src.name}: no header line; expected {expected}")
        delimiter = _delimiter(first)
        header = [clean_name(x) for x in next(csv.reader([first], delimiter=delimiter))]
        if undecodable(first):
            raise TelemetryError(f"{src.name}: the header line is not {fh.encoding} text; "
                                 f"expected {expected}")
        yield header, _rows(_Reader(fh, delimiter), header, lines)


def _array_items(text: str, start: int) -> Iterator[tuple[int, Any] | Reject]:
    """Decode a JSON array element by element, so a damaged tail spares the rows before it."""
    decoder = json.JSONDecoder()
    pos, n = start + 1, 0
    length = len(text)
    while True:
        while pos < length and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= length:
            yield Reject(n + 1, "truncated: the JSON array is not closed", text[-_RAW:])
            return
        if text[pos] == "]":
            return
        start = pos
        try:
            item, pos = decoder.raw_decode(text, pos)
        except ValueError as exc:
            yield Reject(n + 1, f"invalid JSON ({exc}); the rest of the file is not read",
                         _clean(text[pos:pos + _RAW]))
            return
        n += 1
        if undecodable(text[start:pos]):
            yield Reject(n, "bytes that are not valid UTF-8/UTF-16 text", _clean(text[start:pos]))
        else:
            yield n, item


def json_rows(src: Source, expected: str) -> Iterator[Row | Reject]:
    """Yield numbered rows from a JSON array of objects, JSON lines, or a query API reply.

    The Log Analytics query API replies ``{"tables": [{"columns": [...], "rows": [[...]]}]}``.
    """
    with src.open_text() as fh:
        try:
            text = fh.read()
        except UnicodeDecodeError as exc:
            raise TelemetryError(f"{src.name}: not UTF-8 or UTF-16 text ({exc}); expected "
                                 f"{expected}") from exc
    start = len(text) - len(text.lstrip())
    if text.startswith("[", start):
        for item in _array_items(text, start):
            yield item if isinstance(item, Reject) else (item[0], item[0], item[1])
        return
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
