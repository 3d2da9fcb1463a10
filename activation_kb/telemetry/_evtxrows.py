"""Turn EVTX records rendered as XML by ``evtx`` into raw record tuples, a batch at a time.

``evtx`` renders every record the same way (``indent=False``): ``<Event>``, ``<System>`` with
its fields in schema order, then ``<EventData>`` holding only ``<Data>`` (unnamed or
``Name=``) and ``<Binary>`` elements, text escaped with the five XML entities. Such a record is
read by :func:`_plain`, which matches that whole shape with linear regular expressions (about
12 µs a record here, against 45 µs to parse it with lxml and walk the tree); a record that
departs from that shape in any way (``UserData``, nested elements, characters XML forbids, a
field missing or repeated) is parsed by lxml instead, with the safe parser, and read by
:func:`~._xml.extract_event`, the wevtutil XML extraction; both give the same tuple
(``tests/telemetry/test_telemetry_evtx.py`` checks it on random text). When lxml cannot parse a
record, characters that XML 1.0 forbids become U+FFFD on a second try; a record that still does
not parse is rejected.
"""

from __future__ import annotations

import re

from lxml import etree

from ._build import Reject
from ._fields import SEP
from ._xml import extract_event

__all__ = ["rows_of"]

_RAW = 2000
_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
#: Tags read from each rendered event -> raw field slot (0: the event, 8: data, < 0: unusual).
_TAGS = {_NS + tag: slot for tag, slot in (
    ("Event", 0), ("EventID", 1), ("TimeCreated", 2), ("EventRecordID", 3), ("Level", 4),
    ("Channel", 5), ("Computer", 6), ("Provider", 7), ("Data", 8), ("UserData", -1),
    ("RenderingInfo", -1))}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EVENT_START = '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">'
_PREFIX = '<?xml version="1.0" encoding="utf-8"?>\n' + _EVENT_START
_ATTRS = r'(?: \w+="[^"<]*")*'
#: The whole <System> element as evtx renders it, optional elements optional.
_SYSTEM = re.compile(
    rf"<System><Provider({_ATTRS})></Provider>"
    r'<EventID(?: Qualifiers="[0-9]*")?>([^<]*)</EventID>'
    r"(?:<Version>[^<]*</Version>)?<Level>([^<]*)</Level>"
    r"(?:<Task>[^<]*</Task>)?(?:<Opcode>[^<]*</Opcode>)?(?:<Keywords>[^<]*</Keywords>)?"
    r'<TimeCreated SystemTime="([^"<]*)"></TimeCreated>'
    r"<EventRecordID>([^<]*)</EventRecordID>"
    rf"(?:<Correlation{_ATTRS}></Correlation>)?(?:<Execution{_ATTRS}></Execution>)?"
    r"<Channel>([^<]*)</Channel><Computer>([^<]*)</Computer>"
    rf"(?:<Security{_ATTRS}></Security>)?</System>")
#: <EventData> holding only <Data> (unnamed or named) and <Binary> elements.
_EVENT_DATA = re.compile(r'<EventData>((?:<Data(?: Name="[^"<]*")?>[^<]*</Data>'
                         r"|<Binary>[^<]*</Binary>)*)</EventData>")
_DATA_ITEM = re.compile(r'<Data(?: Name="[^"<]*")?>([^<]*)</Data>')
_ATTR = re.compile(r' (\w+)="([^"<]*)"')
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
#: Bytes of the ASCII control characters XML 1.0 forbids, and all the others.
_CONTROL = bytes(c for c in range(32) if c not in (9, 10, 13))
_ALLOWED = bytes(c for c in range(256) if c not in _CONTROL)
#: Provider attributes -> provider value, for a log's few dozen distinct <Provider> tags.
_PROVIDERS: dict[str, str | None] = {}


def rows_of(records: list[tuple[int, str]], parser: etree.XMLParser) -> list[tuple | Reject]:
    """Return the raw record tuple (or reject) of each ``(record identifier, XML)`` pair."""
    out: list = []
    odd: list[int] = []
    for i, (rid, xml) in enumerate(records):
        got = _plain(rid, xml)
        if got is None:
            odd.append(i)
        out.append(got)
    if odd:
        for i, got in zip(odd, _parsed([records[i] for i in odd], parser)):
            out[i] = got
    return out


class _NotPlain(Exception):
    """The record is not of the usual shape: lxml reads it."""


def _entity(m: re.Match) -> str:
    if m.group(1):
        return _NAMED[m.group(1)]
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or _NOT_XML.match(chr(code)):
        raise _NotPlain  # a reference XML forbids: lxml rejects the record
    return chr(code)


def _text(raw: str) -> str | None:
    """Element text as an XML parser gives it: entities resolved, line ends normalised."""
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in raw:
        raw = _ENTITY.sub(_entity, raw)
    return raw or None


def _attribute(raw: str) -> str:
    """Attribute value as an XML parser gives it (white space normalised to spaces)."""
    if "\t" in raw or "\n" in raw or "\r" in raw:
        raw = raw.replace("\r\n", " ").translate({9: 32, 10: 32, 13: 32})
    return _ENTITY.sub(_entity, raw) if "&" in raw else raw


def _forbidden(xml: str, start: int) -> bool:
    """Tell whether ``xml`` holds a character XML 1.0 forbids (lxml would not parse it)."""
    if xml.isascii():
        return bool(xml.encode("ascii").translate(None, _ALLOWED))
    return _NOT_XML.search(xml, start) is not None


def _provider(attributes: str) -> str | None:
    """Return the provider of ``<Provider>`` attributes: ``Name``, else ``EventSourceName``."""
    got = _PROVIDERS.get(attributes, _PROVIDERS)
    if got is not _PROVIDERS:
        return got
    pairs = _ATTR.findall(attributes)
    attrs = dict(pairs)
    if len(attrs) != len(pairs):
        raise _NotPlain  # an attribute twice: not XML
    name, source = attrs.get("Name"), attrs.get("EventSourceName")
    name = _attribute(name) if name is not None else None
    got = name or (_attribute(source) if source is not None else None)
    if len(_PROVIDERS) >= 4096:
        _PROVIDERS.clear()
    _PROVIDERS[attributes] = got
    return got


def _plain(rid: int, xml: str) -> tuple | None:
    """Read a record of the usual shape without an XML parser (None: any other shape)."""
    start = len(_PREFIX) if xml.startswith(_PREFIX) else xml.find(_EVENT_START)
    if start < 0 or _forbidden(xml, start):
        return None
    m = _SYSTEM.match(xml, start if start == len(_PREFIX) else start + len(_EVENT_START))
    if m is None:
        return None
    try:
        v = [rid, _text(m.group(2)), _attribute(m.group(4)), _text(m.group(5)),
             _text(m.group(3)), _text(m.group(6)), _text(m.group(7)), _provider(m.group(1)),
             "", None]
        tail = xml[m.end():].rstrip()
        if tail != "</Event>":
            d = _EVENT_DATA.match(tail)
            if d is None or tail[d.end():] != "</Event>":
                return None
            inner = d.group(1)
            items = _DATA_ITEM.findall(inner)
            if "&" in inner or "\r" in inner:
                items = [_text(x) or "" for x in items]
                if any(x.startswith("<string>") for x in items):
                    return None  # read as python-evtx's shape by extract_event
            v[8] = SEP.join(items)
    except _NotPlain:
        return None
    return _done(v, rid)


def _done(v: list, rid: int) -> tuple:
    if v[3] is None:
        v[3] = str(rid)
    return tuple(v)


def _parsed(records: list[tuple[int, str]], parser: etree.XMLParser) -> list[tuple | Reject]:
    """Parse records with lxml, together when they all parse, else one by one."""
    bodies = [_body(xml) for _, xml in records]
    try:
        root = etree.fromstring("<_r>" + "".join(bodies) + "</_r>", parser)
        if len(root) == len(bodies):
            return _extract(root, records)
    except etree.XMLSyntaxError:
        pass
    return [_one(rid, body, parser) for (rid, _), body in zip(records, bodies)]


def _one(rid: int, body: str, parser: etree.XMLParser) -> tuple | Reject:
    """Parse one record alone; characters XML forbids become U+FFFD on a second try."""
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        try:
            root = etree.fromstring(_NOT_XML.sub("\ufffd", body).replace("]]>", "]]&gt;"),
                                    parser)
        except etree.XMLSyntaxError as exc:
            return Reject(rid, f"the EVTX parser rendered XML that cannot be read ({exc})",
                          body[:_RAW])
    return _raw_record(root, rid, body)


def _extract(root: etree._Element, records: list[tuple[int, str]]) -> list[tuple | Reject]:
    """Raw record tuples of the ``<Event>`` children of ``root``, in one pass over their tags."""
    out: list[tuple | Reject] = []
    v: list | None = None
    ev = None
    data: list[str] = []
    odd = False
    k = -1
    for el in root.iter(*_TAGS):
        slot = _TAGS[el.tag]
        if slot == 0:
            if el.getparent() is not root:  # an Event element inside an event
                odd = True
                continue
            if v is not None:
                out.append(_finish(ev, v, data, odd, records[k]))
            k += 1
            ev, data, odd = el, [], False
            v = [records[k][0], None, None, None, None, None, None, None, "", None]
        elif slot == 8:
            odd |= len(el) > 0
            data.append(el.text or "")
        elif slot == 2:
            v[2] = el.get("SystemTime")
        elif slot == 7:
            v[7] = el.get("Name") or el.get("EventSourceName")
        elif slot < 0:
            odd = True
        else:
            v[slot] = el.text
    if v is not None:
        out.append(_finish(ev, v, data, odd, records[k]))
    return out


def _finish(ev: etree._Element, v: list, data: list[str], odd: bool,
            record: tuple[int, str]) -> tuple | Reject:
    if odd or v[1] is None:
        return _raw_record(ev, *record)
    v[8] = SEP.join(data)
    if v[3] in (None, ""):
        v[3] = str(record[0])
    return tuple(v)


def _body(xml: str) -> str:
    """Return the ``<Event>`` element of a rendered record, without its XML declaration."""
    i = xml.find("<Event")
    return xml[i:] if i > 0 else xml


def _raw_record(el: etree._Element, rid: int, xml: str) -> tuple | Reject:
    got = extract_event(el, rid)
    if isinstance(got, str):
        return Reject(rid, got, xml[:_RAW])
    if got[3] in (None, ""):
        got = got[:3] + (str(rid),) + got[4:]
    return got
