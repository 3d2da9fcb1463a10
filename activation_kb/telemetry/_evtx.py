"""Read binary ``.evtx`` files with python-evtx (optional extra ``evtx``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from ..errors import MissingDependencyError
from ._xml import record_from_element, safe_parser

__all__ = ["iter_evtx_records"]


def iter_evtx_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str, str]]:
    """Yield ``(record_number, fields_or_None, reason, raw)`` for each record of an EVTX file."""
    try:
        import Evtx.Evtx as evtx
    except ImportError as exc:
        raise MissingDependencyError("python-evtx", "evtx", "Reading .evtx files") from exc
    parser = safe_parser()
    n = 0
    with evtx.Evtx(str(path)) as log:
        for rec in log.records():
            n += 1
            try:
                xml = rec.xml()
                el = etree.fromstring(xml.encode("utf-8"), parser)
                fields, reason = record_from_element(el)
                if fields is not None and "record_id" in fields and fields["record_id"] is None:
                    fields["record_id"] = rec.record_num()
                yield n, fields, reason, "" if fields else xml[:2000]
            except Exception as exc:  # a corrupt chunk: reject this record, keep going
                yield n, None, f"unreadable EVTX record: {type(exc).__name__}: {exc}", ""
