"""Read ``wevtutil qe /f:xml`` and ``/f:RenderedXml`` streams (rooted or not), safely.

The file is streamed through an lxml pull parser that refuses DTDs, entities and network access;
a ``<!DOCTYPE`` or ``<!ENTITY`` anywhere makes the whole file a :class:`TelemetryError`.
A truncated or malformed tail becomes one rejected record.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from ..errors import TelemetryError

__all__ = ["iter_xml_records", "record_from_element", "safe_parser"]

_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>", re.S)
_CHUNK = 1 << 20


def safe_parser() -> etree.XMLParser:
    """Return an lxml parser that never resolves entities, loads DTDs or uses the network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, dtd_validation=False)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def record_from_element(ev: etree._Element) -> tuple[dict[str, Any] | None, str]:
    """Extract System fields and Data strings from an ``<Event>`` element (one pass).

    Returns ``(fields, reason)``: ``fields`` is None with a reason when the record is unusable.
    """
    sysf: dict[str, Any] = {}
    data: list[str] = []
    msg = None
    has_system = False
    for part in ev:
        name = _local(part.tag)
        if name == "System":
            has_system = True
            for el in part:
                sysf[_local(el.tag)] = el
        elif name in ("EventData", "UserData"):
            for el in part.iter():
                if el is not part and _local(el.tag) in ("Data", "string"):
                    data.append(el.text or "")
        elif name == "RenderingInfo":
            for el in part:
                if _local(el.tag) == "Message":
                    msg = el.text
    if not has_system:
        return None, "no <System> element"
    eid_el, tc, comp = sysf.get("EventID"), sysf.get("TimeCreated"), sysf.get("Computer")
    eid = (eid_el.text or "").strip() if eid_el is not None else ""
    time = tc.get("SystemTime") if tc is not None else None
    computer = (comp.text or "").strip() if comp is not None else ""
    if not eid.isdigit() or len(eid) > 10:
        return None, f"EventID {eid!r} is not a number"
    if not time:
        return None, "no TimeCreated/@SystemTime"
    if not computer:
        return None, "no <Computer>"
    prov = sysf.get("Provider")
    rid_el, ch, lv = sysf.get("EventRecordID"), sysf.get("Channel"), sysf.get("Level")
    rid = (rid_el.text or "").strip() if rid_el is not None else ""
    return {
        "time": time, "host": computer,
        "channel": (ch.text or "").strip() if ch is not None else "",
        "provider": (prov.get("Name") or prov.get("EventSourceName") or "") if prov is not None else "",
        "event_id": int(eid),
        "record_id": int(rid) if rid.isdigit() and len(rid) < 19 else None,
        "level": (lv.text or "4") if lv is not None else "4",
        "data": data, "message": msg,
    }, ""


def _open(path: Path):
    with open(path, "rb") as fh:
        head = fh.read(2)
    return gzip.open(path, "rb") if head == b"\x1f\x8b" else open(path, "rb")


def iter_xml_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str, str]]:
    """Yield ``(record_number, fields_or_None, reason, raw)`` for each ``<Event>`` in ``path``."""
    parser = etree.XMLPullParser(events=("end",), tag=(_NS + "Event", "Event"),
                                 resolve_entities=False, no_network=True,
                                 load_dtd=False, huge_tree=False)
    parser.feed(b"<_r>")
    n = 0
    first = True
    try:
        with _open(path) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if first:
                    if chunk.startswith(b"\xef\xbb\xbf"):
                        chunk = chunk[3:]
                    if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
                        chunk = chunk.decode("utf-16").encode("utf-8")
                        chunk = re.sub(rb'encoding="[^"]*"', b"", chunk, count=1)
                    chunk = _DECL.sub(b"", chunk, count=1)
                    first = False
                if b"<!DOCTYPE" in chunk or b"<!ENTITY" in chunk:
                    raise TelemetryError(
                        f"{path}: refused: the XML declares a DTD or entities (<!DOCTYPE/<!ENTITY>); "
                        "event exports never do. Export again with wevtutil qe /f:xml")
                if not chunk:
                    parser.feed(b"</_r>")
                    parser.close()
                    break
                parser.feed(chunk)
                yield from _drain(parser, path, counter := [n])
                n = counter[0]
            yield from _drain(parser, path, counter := [n])
    except etree.XMLSyntaxError as exc:
        if "entit" in str(exc).lower() or "doctype" in str(exc).lower():
            raise TelemetryError(f"{path}: refused XML with entities or DTD: {exc}") from exc
        yield n + 1, None, f"malformed or truncated XML after record {n}: {exc}", ""
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        yield n + 1, None, f"unreadable data after record {n}: {exc}", ""


def _drain(parser, path, counter):
    for _, el in parser.read_events():
        counter[0] += 1
        fields, reason = record_from_element(el)
        raw = "" if fields is not None else etree.tostring(el, encoding="unicode")[:2000]
        parent = el.getparent()
        el.clear()
        if parent is not None:
            while el.getprevious() is not None:
                del parent[0]
        yield counter[0], fields, reason, raw
