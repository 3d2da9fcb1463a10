"""Read ``wevtutil qe /f:xml`` and ``/f:RenderedXml`` exports, safely and in bounded memory.

The byte stream (gzip, UTF-8 or UTF-16, with or without a root element) is cut into records at
each ``<Event`` start tag; batches of whole records are parsed with lxml's C parser, with
entities, DTDs and network access off. Nothing before ``<Event`` is ever parsed: a DTD or entity
declaration in the prolog is refused outright (billion laughs, external entities), and one
inside the stream only makes that record malformed. A damaged record is rejected on its own and
reading goes on with the next one; a file that ends inside a record rejects that record as
truncated. Records larger than :data:`MAX_RECORD` bytes are rejected without being parsed.

Text in another encoding (UTF-16, or one declared by ``<?xml ... encoding=...?>``) is converted
to UTF-8 as it streams; a byte or UTF-16 code unit that does not decode becomes U+FFFE (which
XML cannot carry), so only the record holding it is rejected, with the encoding named. The text
between records is checked by a linear scan (no backtracking pattern), whatever its length.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lxml import etree

from ..errors import TelemetryError
from ._build import RAW_LIMIT, Reject, batched, clip_raw
from ._fields import SEP
from ._source import ESCAPE, Source, detect_encoding, undecodable

__all__ = ["read_wevtutil_xml", "extract_event", "safe_parser", "parse_fragment", "MAX_RECORD"]

_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
_START = re.compile(rb"<Event[\s/>]")
_END = b"</Event>"
#: One piece of what may stand between records: whitespace, a processing instruction, the start
#: of a comment, or a wrapper start/end tag. Each alternative starts with its own character and
#: no quantifier is nested, so a failed match costs at most the length it scanned.
_FILLER_TOKEN = re.compile(rb"\s+|<\?[^<>]*\?>|<!--|</?[A-Za-z_][\w.:-]*(?:\s[^<>]*)?>")
_DECL = re.compile(rb"\s*<\?xml\b[^>]*\?>")
_DECLARED = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
#: What an undecodable byte becomes (U+FFFE in UTF-8): XML cannot carry it, so lxml refuses it.
_MARK = b"\xef\xbf\xbe"
_SURROGATES = re.compile("[\ud800-\udfff]")
_CHUNK = 1 << 20  # small batches keep the parsed tree in cache: ~30% faster than 4 MB
#: Largest record read, in bytes (real records are a few kilobytes).
MAX_RECORD = 32 << 20

_SYSTEM_SLOTS = {"EventID": 1, "TimeCreated": 2, "EventRecordID": 3, "Level": 4, "Channel": 5,
                 "Computer": 6, "Provider": 7}
_SLOT = {**_SYSTEM_SLOTS, **{_NS + k: v for k, v in _SYSTEM_SLOTS.items()}}
_PART = {"System": 0, "EventData": 1, "UserData": 2, "RenderingInfo": 3}
_PART.update({_NS + k: v for k, v in list(_PART.items())})
_DATA = {"Data", _NS + "Data"}
_MESSAGE = {"Message", _NS + "Message"}
_REFUSED = ("refused: the XML declares a DTD or entities (<!DOCTYPE/<!ENTITY>), which event "
            "exports never do; expected wevtutil qe /f:xml output")


def safe_parser() -> etree.XMLParser:
    """Return an lxml parser that never resolves entities, loads DTDs or uses the network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, collect_ids=False)


def parse_fragment(text: str | bytes, parser: etree.XMLParser | None = None) -> etree._Element:
    """Parse an XML fragment (one or more elements) under a dummy root, safely."""
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:
        raise etree.XMLSyntaxError("DTD or entity declaration refused", None, 0, 0)
    decl = _DECL.match(text)
    if decl is not None:
        text = text[decl.end():]
    return etree.fromstring(b"<_r>" + text + b"</_r>", parser or safe_parser())


def _string_items(text: str) -> list[str]:
    """Return the texts of the ``<string>...</string>`` items in ``text`` (one linear scan)."""
    out: list[str] = []
    pos = 0
    while (i := text.find("<string>", pos)) >= 0:
        j = text.find("</string>", i + 8)
        if j < 0:
            break
        out.append(text[i + 8:j])
        pos = j + 9
    return out


def _data_items(part: etree._Element, user_data: bool) -> list[str]:
    """Return the insertion strings of ``<EventData>`` (3 shapes) or ``<UserData>`` leaf texts."""
    if user_data:
        return [x.text or "" for x in part.iter() if x is not part and len(x) == 0
                and isinstance(x.tag, str)]
    out: list[str] = []
    for d in part:
        if d.tag in _DATA:
            if len(d):  # <Data><string>a</string><string>b</string></Data>
                out.extend(x.text or "" for x in d)
            else:
                text = d.text or ""
                if text.startswith("<string>"):  # python-evtx: the <string> items as text
                    out.extend(_string_items(text))
                else:
                    out.append(text)
    return out


def _field(el: etree._Element, slot: int) -> str | None:
    """Return the value of a System field: an attribute for TimeCreated and Provider, else text."""
    if slot == 2:
        return el.get("SystemTime")
    if slot == 7:
        return el.get("Name") or el.get("EventSourceName")
    return el.text


def extract_event(ev: etree._Element, record: int) -> tuple | str:
    """Return the raw record tuple of an ``<Event>`` element, or why it is unusable."""
    system = data = message = None
    user_data = False
    for part in ev:
        p = _PART.get(part.tag)
        if p == 0:
            system = part
        elif p == 1 or p == 2:
            data, user_data = part, p == 2
        elif p == 3:
            message = next((m.text for m in part if m.tag in _MESSAGE), None)
    if system is None:
        return "no <System> element in <Event>"
    v: list = [record, None, None, None, None, None, None, None, "", message]
    for c in system:
        slot = _SLOT.get(c.tag)
        if slot is not None:
            v[slot] = _field(c, slot)
    if data is not None:
        v[8] = SEP.join(_data_items(data, user_data))
    return tuple(v)


_EVENT = {"Event", _NS + "Event"}
_FAST_TAGS = tuple(t for k in ("Event", "System", "UserData", "RenderingInfo", "Data",
                               *_SYSTEM_SLOTS) for t in (k, _NS + k))
_FAST_SLOT = {**_SLOT, **{t: 0 for t in _EVENT}, "System": -1, _NS + "System": -1,
              "Data": 8, _NS + "Data": 8, "UserData": -3, _NS + "UserData": -3,
              "RenderingInfo": -3, _NS + "RenderingInfo": -3}


def _fast_rows(root: etree._Element, record: int) -> tuple[list, int, bool] | None:
    """Extract every ``<Event>`` child of ``root`` in one pass over the tags that matter.

    Equivalent to :func:`extract_event` per event, but walks the tree once in C
    (``iter(tags)``) instead of visiting every child from Python. Events with UserData,
    RenderingInfo, nested ``<Data>`` items, or System fields repeated or after the first
    ``<Data>`` go through :func:`extract_event`. Returns ``(items, last record number, any
    rejects)``, or None when the batch is not a plain sequence of events.
    """
    out: list = []
    v: list | None = None
    ev = None
    in_system = slow = False
    data: list[str] = []
    for el in root.iter(*_FAST_TAGS):
        slot = _FAST_SLOT[el.tag]
        if slot == 0:  # <Event>: close the previous one
            if v is not None:
                out.append(_close(ev, v, data, slow))
            tail = el.tail
            if tail is not None and not tail.isspace():
                return None
            record += 1
            ev, data, in_system, slow = el, [], False, False
            v = [record, None, None, None, None, None, None, None, "", None]
        elif v is None:
            return None
        elif slot == 8:  # <Data>: its own text, unless it holds items
            if not in_system or len(el) or (el.text or "").startswith("<string>"):
                slow = True
            data.append(el.text or "")
        elif slot == -1:  # <System>: once, first
            slow |= in_system or v[1] is not None
            in_system = True
        elif slot < 0 or not in_system or data or v[slot] is not None:
            slow = True  # UserData, RenderingInfo, or a field outside its place
        else:
            v[slot] = el.text if slot != 2 and slot != 7 else _field(el, slot)
    if v is not None:
        out.append(_close(ev, v, data, slow))
    if len(out) != len(root) or (root.text is not None and not root.text.isspace()):
        return None
    return out, record, any(isinstance(x, Reject) for x in out)


def _close(ev: etree._Element, v: list, data: list[str], slow: bool) -> tuple | Reject:
    """Finish one event of :func:`_fast_rows` (through :func:`extract_event` when unusual)."""
    if slow or v[1] is None:
        return _one_event(ev, v[0])
    v[8] = SEP.join(data)
    return tuple(v)


def _one_event(ev: etree._Element, record: int) -> tuple | Reject:
    got = extract_event(ev, record)
    if isinstance(got, str):
        return Reject(record, got, clip_raw(etree.tostring(ev, encoding="unicode")))
    return got


def _declared_encoding(head: bytes, src: Source) -> str:
    """Return the encoding an ASCII-compatible file declares in its XML declaration."""
    decl = _DECL.match(head)
    declared = _DECLARED.search(decl.group(0)) if decl else None
    name = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    if info is None or not info._is_text_encoding:  # e.g. "rot13": a str-to-str codec
        raise TelemetryError(f"{src.name}: unknown XML encoding {name!r} in the XML declaration; "
                             "expected UTF-8, UTF-16 or another text encoding such as "
                             "windows-1252 or shift_jis")
    if info.name in ("utf-8", "ascii") or info.name.startswith(("utf-16", "utf-32")):
        return "utf-8"  # no NUL pattern was found: the bytes are not UTF-16/32 whatever it says
    return info.name


@contextmanager
def _utf8(src: Source) -> Iterator[tuple[Callable[[int], bytes], str]]:
    """Yield ``(read(n), encoding)``: the file's bytes as UTF-8, XML declaration removed.

    Bytes that do not decode in the file's encoding become U+FFFE (:data:`_MARK`), one per byte.
    """
    with src.open_binary() as fh:
        head = fh.read(4096)
        encoding, bom = detect_encoding(head)
        head = head[bom:]
        if encoding == "utf-8" and not bom:  # no byte-order mark: the declaration decides
            encoding = _declared_encoding(head, src)
        decoder = None
        if encoding != "utf-8":
            decoder = codecs.getincrementaldecoder(encoding)(ESCAPE)

        def convert(raw: bytes, final: bool) -> bytes:
            if decoder is None:
                return raw
            text = decoder.decode(raw, final)
            if undecodable(text):
                text = _SURROGATES.sub("\ufffe", text)
            return text.encode("utf-8")

        first = convert(head, False)
        decl = _DECL.match(first)
        pending = [first[decl.end():] if decl else first]

        def read(n: int) -> bytes:
            if pending:
                return pending.pop()
            raw = fh.read(n)
            return convert(raw, not raw)

        yield read, encoding


def _filler(text: bytes, src: Source) -> bool:
    """Tell whether ``text`` (between records) is only whitespace, comments or wrapper tags.

    A linear scan, token by token: each failed token costs at most what it scanned, so no
    text between records, however long, can make it slow.
    """
    if not text or text.isspace():
        return True
    if b"<!DOCTYPE" in text or b"<!ENTITY" in text:
        raise TelemetryError(f"{src.name}: {_REFUSED}")
    pos, end = 0, len(text)
    while pos < end:
        m = _FILLER_TOKEN.match(text, pos)
        if m is None:
            return False
        pos = m.end()
        if m.group() == b"<!--":
            close = text.find(b"-->", pos)
            if close < 0:
                return False
            pos = close + 3
    return True


def _raw(text: bytes) -> str:
    return clip_raw(text[: RAW_LIMIT * 4 + 4].decode("utf-8", "replace"))


def _bad_text(body: bytes, encoding: str) -> str | None:
    """Why ``body`` holds text that did not decode (None when it decoded)."""
    if _MARK in body:
        return f"bytes that are not valid {encoding} text"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"bytes that are not valid {encoding} text ({exc.reason} at byte {exc.start})"
    return None


def _parse_one(body: bytes, record: int, parser, truncated: bool, encoding: str,
               ) -> tuple | Reject:
    try:
        root = parse_fragment(body, parser)
    except etree.XMLSyntaxError as exc:
        if truncated:
            return Reject(record, "truncated: the file ends inside this record (no </Event>)",
                          _raw(body))
        bad = _bad_text(body, encoding)
        return Reject(record, bad or f"malformed XML: {exc}", _raw(body))
    if len(root) != 1:
        return Reject(record, "malformed XML: expected one <Event> element", _raw(body))
    got = extract_event(root[0], record)
    return Reject(record, got, _raw(body)) if isinstance(got, str) else got


def _region(buf: bytes, record: int, parser, eof: bool, src: Source, encoding: str,
            ) -> tuple[list, int, bool]:
    """Parse the records in ``buf`` (which starts at an ``<Event``).

    All at once when the batch is clean, else record by record, so that one damaged record costs
    only itself.
    """
    j = buf.rfind(_END)
    if j >= 0 and _filler(buf[j + len(_END):], src):
        try:
            root = etree.fromstring(b"".join((b"<_r>", memoryview(buf)[: j + len(_END)],
                                              b"</_r>")), parser)
        except etree.XMLSyntaxError:
            root = None
        got = _fast_rows(root, record) if root is not None else None
        if got is not None:
            return got
    starts = [m.start() for m in _START.finditer(buf)]
    items, record = _records(buf, list(zip(starts, starts[1:] + [len(buf)])), record, parser,
                             eof, src, encoding)
    return items, record, True


def _records(buf: bytes, bounds: list[tuple[int, int]], record: int, parser, eof: bool,
             src: Source, encoding: str) -> tuple[list, int]:
    """Parse the records at ``bounds`` of ``buf``; return (rows and rejects, last number)."""
    bodies: list[tuple[int, bytes]] = []
    items: list = []
    for start, end in bounds:
        seg = buf[start:end]
        j = seg.rfind(_END)
        body, filler = (seg, b"") if j < 0 else (seg[: j + len(_END)], seg[j + len(_END):])
        record += 1
        bodies.append((record, body))
        items.append(None)  # placeholder for the record
        if not _filler(filler, src):
            record += 1
            items.append(Reject(record, "unexpected content between </Event> and <Event>",
                                _raw(filler)))
    try:  # fast path: every record of the batch in one parse
        root = etree.fromstring(b"<_r>" + b"".join(b for _, b in bodies) + b"</_r>", parser)
        parsed = [extract_event(ev, n) for ev, (n, _) in zip(root, bodies)] \
            if len(root) == len(bodies) else None
    except etree.XMLSyntaxError:
        parsed = None
    if parsed is None:
        last = len(bodies) - 1
        parsed = [_parse_one(b, n, parser, eof and i == last and _END not in b, encoding)
                  for i, (n, b) in enumerate(bodies)]
    else:
        parsed = [Reject(n, got, _raw(b)) if isinstance(got, str) else got
                  for got, (n, b) in zip(parsed, bodies)]
    it = iter(parsed)
    return [next(it) if x is None else x for x in items], record


def _last_start(buf: bytes) -> int:
    """Position of the last ``<Event`` start tag in ``buf`` (0 when it is the first one)."""
    i = len(buf)
    while True:
        i = buf.rfind(b"<Event", 0, i)
        if i <= 0 or buf[i + 6:i + 7] in (b" ", b">", b"/", b"\t", b"\r", b"\n"):
            return max(i, 0)


def read_wevtutil_xml(src: Source) -> Iterator[list[tuple] | Reject]:
    """Yield lists of raw records and :class:`Reject` s from a wevtutil XML export."""
    parser = safe_parser()
    record = 0
    started = skipping = False
    buf = b""
    with _utf8(src) as (read, encoding):
        eof = False
        while not eof:
            chunk = read(_CHUNK)
            eof = not chunk
            buf += chunk
            if not started or skipping:
                m = _START.search(buf)
                if m is None:
                    if eof and not started:
                        if not _filler(buf, src):
                            raise TelemetryError(
                                f"{src.name}: no <Event> element found (starts with "
                                f"{buf[:40]!r}); expected wevtutil qe /f:xml output")
                        return
                    if not started and len(buf) > MAX_RECORD:
                        raise TelemetryError(
                            f"{src.name}: no <Event> element in the first {MAX_RECORD >> 20} MB; "
                            "expected wevtutil qe /f:xml output")
                    if skipping:
                        buf = buf[-16:]
                    continue
                head, buf = buf[: m.start()], buf[m.start():]
                if not skipping and not _filler(head, src):
                    record += 1
                    yield Reject(record, "unexpected content before the first <Event>",
                                 _raw(head))
                started, skipping = True, False
            cut = len(buf) if eof else _last_start(buf)
            if cut <= 0:
                if len(buf) > MAX_RECORD:
                    record += 1
                    yield Reject(record, f"record larger than {MAX_RECORD >> 20} MB; "
                                 "expected event records of a few kilobytes", _raw(buf))
                    buf, skipping = buf[-16:], True
                continue
            items, record, rejects = _region(buf if eof else buf[:cut], record, parser, eof,
                                             src, encoding)
            if rejects:
                yield from batched(items, len(items))
            elif items:
                yield items
            buf = buf[cut:]
