"""Read EVTX records rendered as JSON lines by the Rust ``evtx`` tools (``evtx_dump -o jsonl``).

One JSON object per line, ``{"Event": {"System": {...}, "EventData": {...}}}``; attributes sit
under ``#attributes`` and text under ``#text``. ``EventData.Data`` is one string, a list of
strings (unnamed insertion strings), or a list of ``{"#attributes": {"Name": ...}, "#text": ...}``
(named data). A line that is not such an object is rejected with its line number.

As for binary EVTX, only records that matter become rows: a record whose provider (``Name``,
else ``EventSourceName``) is not the Software Protection provider is counted as skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ._build import PROVIDER_PATTERN, Reject, Skipped, batched
from ._fields import SEP
from ._source import Source, undecodable

__all__ = ["read_evtx_json", "event_from_json"]

_PROVIDER = re.compile(PROVIDER_PATTERN)


def _text(value: Any) -> str | None:
    """Return the text of a JSON node: a scalar, or the ``#text`` of an object."""
    if isinstance(value, dict):
        value = value.get("#text")
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _attr(value: Any, name: str) -> str | None:
    if isinstance(value, dict):
        attrs = value.get("#attributes")
        if isinstance(attrs, dict) and attrs.get(name) is not None:
            return str(attrs[name])
    return None


def _items(node: Any) -> list[str]:
    """Return the insertion strings of an ``EventData``/``UserData`` node, in order."""
    if node is None:
        return []
    if isinstance(node, list):
        return [s for x in node for s in _items(x)]
    if not isinstance(node, dict):
        return [str(node)]
    if "#text" in node:
        return _items(node["#text"])
    out: list[str] = []
    for key, value in node.items():
        if key not in ("#attributes", "Binary"):
            out.extend(_items(value))
    return out


def event_from_json(obj: Any, record: int) -> tuple | str:
    """Return the raw record tuple of one evtx-rs JSON event, or why it is unusable."""
    event = obj.get("Event") if isinstance(obj, dict) else None
    system = event.get("System") if isinstance(event, dict) else None
    if not isinstance(system, dict):
        return "no Event.System object; expected an evtx_dump JSON record"
    data_node = event.get("EventData")
    if data_node is None:
        data_node = event.get("UserData")
    if isinstance(data_node, dict) and "Data" in data_node:
        data_node = data_node["Data"]
    items = [s.replace(SEP, " ") for s in _items(data_node)]
    provider = system.get("Provider")
    rendering = event.get("RenderingInfo")
    return (
        record, _text(system.get("EventID")), _attr(system.get("TimeCreated"), "SystemTime"),
        _text(system.get("EventRecordID")), _text(system.get("Level")),
        _text(system.get("Channel")), _text(system.get("Computer")),
        _attr(provider, "Name") or _attr(provider, "EventSourceName"), SEP.join(items),
        _text(rendering.get("Message")) if isinstance(rendering, dict) else None,
    )


def read_evtx_json(src: Source) -> Iterator[list[tuple] | Reject | Skipped]:
    """Yield lists of raw records, :class:`Reject` s and the :class:`Skipped` count."""
    skipped = [0]
    with src.open_text() as fh:
        yield from batched(_records(fh, skipped))
    if skipped[0]:
        yield Skipped(skipped[0])


def _other_provider(got: tuple) -> bool:
    """Tell whether a raw record names a provider that is not the Software Protection one."""
    name = (got[7] or "").strip()
    return bool(name) and _PROVIDER.search(name) is None


def _records(fh, skipped: list[int]) -> Iterator[tuple | Reject]:
    """One raw record (or reject) per non-blank line, numbered by line; count the others."""
    line_no = 0
    while True:
        try:
            line = fh.readline()
        except UnicodeDecodeError as exc:
            yield Reject(line_no + 1, f"undecodable text ({exc}); the rest of the file is not "
                         "read", "")
            return
        if not line:
            return
        line_no += 1
        if not line.strip():
            continue
        if undecodable(line):
            yield Reject(line_no, "bytes that are not valid UTF-8/UTF-16 text",
                         line.encode("utf-8", "replace").decode()[:2000])
            continue
        try:
            got = event_from_json(json.loads(line), line_no)
        except (ValueError, RecursionError) as exc:
            got = f"not a JSON object ({exc})"
        if isinstance(got, str):
            yield Reject(line_no, got, line[:2000])
        elif _other_provider(got):
            skipped[0] += 1
        else:
            yield got
