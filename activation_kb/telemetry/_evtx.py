"""Read binary ``.evtx`` logs with python-evtx (optional extra ``evtx``).

python-evtx renders each record as XML, parsed here with the same safe lxml parser and the same
extraction as wevtutil XML. A damaged chunk or record is rejected and reading goes on with the
next chunk; a file shorter than its header declares rejects the missing chunks as truncated.
A gzipped ``.evtx`` is decompressed to a temporary file first (python-evtx maps the file).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lxml import etree

from ..errors import MissingDependencyError, TelemetryError
from ._build import Reject, batched
from ._source import Source
from ._xml import extract_event, safe_parser

__all__ = ["read_evtx", "EVTX_MAGIC"]

EVTX_MAGIC = b"ElfFile\x00"


@contextmanager
def _plain_file(src: Source) -> Iterator[Path]:
    if not src.is_gzip:
        src.tick(src.path.stat().st_size)
        yield src.path
        return
    with tempfile.TemporaryDirectory(prefix="activation_kb_") as tmp:
        target = Path(tmp) / "log.evtx"
        with src.open_binary() as fh, open(target, "wb") as out:
            shutil.copyfileobj(fh, out, 1 << 20)
        yield target


def read_evtx(src: Source) -> Iterator[list[tuple] | Reject]:
    """Yield lists of raw records and :class:`Reject` s from an EVTX file."""
    try:
        import Evtx.Evtx as evtx
    except ImportError as exc:
        raise MissingDependencyError("python-evtx", "evtx", "Reading .evtx files") from exc
    if src.head(8) != EVTX_MAGIC:
        raise TelemetryError(f"{src.name}: not an EVTX file (starts with {src.head(8)!r}); "
                             "expected the ElfFile header of a .evtx log")
    with _plain_file(src) as path, evtx.Evtx(str(path)) as log:
        yield from batched(_records(log.get_file_header()), 5000)


def _records(header) -> Iterator[tuple | Reject]:
    """Each record of the log, chunk by chunk; a damaged chunk or record becomes a reject."""
    parser = safe_parser()
    n = seen = 0
    for chunk in header.chunks():
        seen += 1
        if not chunk.check_magic():
            n += 1
            yield Reject(n, f"damaged EVTX chunk {seen} (bad ElfChnk magic); its records are "
                         "not read", "")
            continue
        records = chunk.records()
        while True:
            try:
                rec = next(records)
                if not rec.verify():
                    raise ValueError("record size fields disagree")
                xml = rec.xml()
            except StopIteration:
                break
            except Exception as exc:  # python-evtx raises many types on damaged data
                n += 1
                yield Reject(n, f"damaged EVTX record in chunk {seen} ({type(exc).__name__}: "
                             f"{exc}); the rest of the chunk is not read", "")
                break
            n += 1
            yield _one(xml, n, rec, parser)
    if seen < header.chunk_count():
        yield Reject(n + 1, f"truncated: the header declares {header.chunk_count()} chunks, "
                     f"the file holds {seen}", "")


def _one(xml: str, n: int, rec, parser) -> tuple | Reject:
    try:
        el = etree.fromstring(xml.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        return Reject(n, f"python-evtx rendered invalid XML: {exc}", xml[:2000])
    got = extract_event(el, n)
    if isinstance(got, str):
        return Reject(n, got, xml[:2000])
    if got[3] in (None, ""):
        got = got[:3] + (str(rec.record_num()),) + got[4:]
    return got
