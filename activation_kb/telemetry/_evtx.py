"""Read binary ``.evtx`` logs with the Rust-based ``evtx`` parser (PyPI ``evtx``).

One pass of ``PyEvtxParser`` over the whole file (its worker threads, checksums validated)
renders the records as XML. Only records that matter become rows: a record whose
``<Provider>`` is not the Software Protection provider (a name in :data:`~._build.PROVIDERS`
or a classic source name, exactly as ``build_events`` recognises them) is counted as skipped
from the text of that one attribute, before any parsing; the others are turned into raw record
tuples in batches (:mod:`._evtxrows`), which ``build_events`` turns into columns.

Recovery and accounting: the chunk headers, read first (:mod:`._evtxchunks`), name the record
identifiers each 64 KiB chunk holds. A chunk is taken from the fast pass only when the parser
read it whole: checksums good, every identifier its header names, in order, no error. Any other
chunk is read again on its own (without checksum validation), so that every record and error
is known to come from it. Then every record is loaded, skipped or rejected, with its record
identifier as record number and a reason: a record the parser cannot read; every record of a
chunk whose records' checksum does not match (bytes changed: a value could be wrong, so none
is loaded); the records of a chunk with a damaged signature, of a zeroed chunk (identifiers
taken from the neighbouring chunks), of a chunk cut short (its whole records before the cut
load), and of the chunks a truncated file lacks (up to the file header's next record
identifier). A gzipped log is decompressed to a temporary file first.
"""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import TelemetryError
from ._build import PROVIDER_PATTERN, Reject, Skipped, batched
from ._evtxchunks import (
    CHUNK,
    CHUNK_HEADER,
    EVTX_MAGIC,
    FILE_HEADER,
    MAX_ID,
    MAX_RECORDS,
    ChunkHeader,
    FileHeader,
    parser_header,
    read_chunk_header,
    read_file_header,
    walk_records,
)
from ._evtxrows import rows_of
from ._source import Source
from ._xml import safe_parser

__all__ = ["read_evtx", "EVTX_MAGIC"]

#: Records of interest parsed by lxml at a time.
_BATCH = 2000
_RAW = 2000
# a name starts after a non-word character: without (?<!\w), a long word-character run in a
# value was tried from each of its characters (quadratic: 58 s for 100 kB)
_ATTR = re.compile(r'(?<!\w)(\w+)="([^"]*)"')
_RECORD_NUMBER = re.compile(r"record number (\d+)")
_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")
_PROVIDER = re.compile(PROVIDER_PATTERN)
#: Provider name (as written in the XML) -> is it the Software Protection provider; a log
#: has a few dozen names, the cache is emptied past this many.
_PROVIDERS: dict[str, bool] = {}
_CACHE = 4096
#: A chunk with fewer non-zero bytes than this holds nothing (unused or zeroed).
_CONTENT = 64
_NAME = '<Provider Name="'
_ERRORS = (RuntimeError, OSError, ValueError)


@dataclass
class _Slot:
    """One 64 KiB chunk position: the record identifiers it accounts for, or why it cannot."""

    index: int
    lo: int | None = None
    hi: int | None = None
    reason: str = ""
    used: bool = False  # holds, or should hold, records (for records that cannot be counted)


def read_evtx(src: Source) -> Iterator[list[tuple] | Reject | Skipped]:
    """Yield lists of raw records, :class:`Reject` s and :class:`Skipped` counts from an EVTX."""
    from evtx import PyEvtxParser

    head = src.head(FILE_HEADER)
    if not head.startswith(EVTX_MAGIC):
        raise TelemetryError(f"{src.name}: not an EVTX file (starts with {head[:8]!r}); "
                             "expected the ElfFile header of a .evtx log")
    if len(head) < FILE_HEADER:
        raise TelemetryError(f"{src.name}: truncated EVTX file: {len(head):,} bytes, shorter "
                             f"than its {FILE_HEADER:,}-byte file header; no event record can "
                             "be read (expected a whole .evtx log)")
    header = read_file_header(head)
    with _plain_file(src) as path:
        yield from _Reader(header, parser_header(head, header), PyEvtxParser).run(path)


@contextmanager
def _plain_file(src: Source) -> Iterator[Path]:
    """Yield the file itself, or its decompressed copy in a temporary directory when gzipped."""
    if not src.is_gzip:
        src.tick(src.path.stat().st_size)
        yield src.path
        return
    with tempfile.TemporaryDirectory(prefix="activation_kb_") as tmp:
        target = Path(tmp) / "log.evtx"
        with src.open_binary() as fh, open(target, "wb") as out:
            shutil.copyfileobj(fh, out, 1 << 20)
        yield target


class _Reader:
    """Reads the chunks of one file and keeps the accounting of their record identifiers."""

    def __init__(self, header: FileHeader, front: bytes, parser: Callable) -> None:
        self.header, self.front, self.parser = header, front, parser
        self.slots: list[_Slot] = []
        self.pending: list[tuple[int, str]] = []
        self.providers = _PROVIDERS
        self.xml = safe_parser()

    def run(self, path: Path) -> Iterator[list[tuple] | Reject | Skipped]:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            heads: list[ChunkHeader | None] = []
            for k in range(max(0, -(-(size - FILE_HEADER) // CHUNK))):
                fh.seek(FILE_HEADER + k * CHUNK)
                whole = FILE_HEADER + (k + 1) * CHUNK <= size
                head = read_chunk_header(fh.read(CHUNK_HEADER))
                heads.append(head if whole and head and head.valid and head.plausible else None)
            yield from self.fast(path, fh, heads)
        yield from self.rows()
        yield from self.lost()

    # ---- the fast pass over the whole file -------------------------------------------------

    def fast(self, path: Path, fh: BinaryIO, heads: list[ChunkHeader | None],
             ) -> Iterator[list[tuple] | Reject | Skipped]:
        """Read the file in one parser pass; chunks not read whole are read again alone."""
        n = len(heads)
        good = [k for k, h in enumerate(heads) if h is not None]
        after = dict(zip(good, good[1:] + [n]))  # next chunk with a usable header
        done = 0  # chunks before this one are accounted for
        p = good[0] if good else n
        expect, limit = (heads[p].first, heads[p].last) if p < n else (-1, -1)
        doubtful: set[int] = set()
        mark, skipped, errors = len(self.pending), 0, 0
        providers, pending = self.providers, self.pending
        tag, width = _NAME, len(_NAME)
        try:
            it = self.parser(str(path), validate_checksums=True, indent=False).records()
        except BaseException as exc:
            if not _parser_error(exc):
                raise
            it = iter(())
            doubtful.update(good)
        while True:
            try:
                rec = next(it)
            except StopIteration:
                break
            except BaseException as exc:
                if not _parser_error(exc):
                    raise
                m = _CHUNK_NUMBER.search(str(exc))
                doubtful.add(int(m.group(1)) if m else p)
                errors += 1
                if errors > n + 64 or not isinstance(exc, _ERRORS):  # a panic ends the pass
                    doubtful.update(k for k in good if k >= p)
                    break
                continue
            rid = rec["event_record_id"]
            if rid != expect or rid > limit:
                q = after.get(p, n)
                if q < n and rid == heads[q].first:  # the next chunk starts
                    if expect != limit + 1:
                        doubtful.add(p)
                    yield from self.settle(fh, done, heads, p, p in doubtful, skipped, mark)
                    yield from self.redo(fh, range(p + 1, q))
                    if len(pending) >= _BATCH:
                        yield from self.rows()
                    done, p, mark, skipped, limit = q, q, len(pending), 0, heads[q].last
                else:
                    doubtful.add(p)
            expect = rid + 1
            xml = rec["data"]
            i = xml.find(tag, 0, 400) + width
            if i >= width and not xml.startswith('"', i):  # a provider name decides alone
                name = xml[i: xml.find('"', i)]
                keep = providers.get(name)
                if keep is None:
                    keep = self.matters(name)
            else:
                keep = self.keep(xml)
            if keep:
                pending.append((rid, xml))
            else:
                skipped += 1
        if p < n:
            if expect != limit + 1:
                doubtful.add(p)
            yield from self.settle(fh, done, heads, p, p in doubtful, skipped, mark)
            done = p + 1
        yield from self.redo(fh, range(done, n))

    def settle(self, fh: BinaryIO, done: int, heads: list[ChunkHeader | None], p: int,
               doubtful: bool, skipped: int, mark: int) -> Iterator[Reject | Skipped]:
        """Account for chunks ``done`` to ``p``; ``p`` as the fast pass read it unless doubtful.

        The chunks before it that the fast pass did not take are read again alone. A doubtful
        chunk's records of interest (appended from ``mark`` on) are dropped and the chunk is read
        again alone too.
        """
        fast = self.pending[mark:]
        del self.pending[mark:]
        yield from self.redo(fh, range(done, p))
        if doubtful:
            yield from self.redo(fh, [p])
            return
        self.pending.extend(fast)
        self.slots.append(_Slot(p, heads[p].first, heads[p].last, used=True))
        if skipped:
            yield Skipped(skipped)

    def redo(self, fh: BinaryIO, chunks: range | list[int]) -> Iterator[Reject | Skipped]:
        """Read each of ``chunks`` again, alone."""
        for k in chunks:
            fh.seek(FILE_HEADER + k * CHUNK)
            yield from self.chunk(k, fh.read(CHUNK))

    # ---- one chunk alone -------------------------------------------------------------------

    def chunk(self, k: int, data: bytes) -> Iterator[Reject | Skipped]:
        """Parse chunk ``k`` alone; yield its rejects and skipped count, keep its records."""
        slot = _Slot(k, used=True)
        self.slots.append(slot)
        cut = len(data) < CHUNK
        header = read_chunk_header(data)
        if header is None or not header.magic:
            slot.used = len(data) - data.count(0) >= _CONTENT
        if cut:
            slot.reason = (f"truncated: the file ends inside chunk {k + 1} ({len(data):,} of "
                           f"{CHUNK:,} bytes)")
        elif not slot.used:
            slot.reason = f"damaged EVTX chunk {k + 1} (zeroed: no chunk header)"
        elif not header.magic:
            slot.reason = f"damaged EVTX chunk {k + 1} (bad ElfChnk signature)"
        if header is None or not slot.used:
            return
        damaged: dict[int, str] = {}
        if cut:  # only the whole records: the parser stops at the zeros after them
            damaged, end = walk_records(data + bytes(CHUNK - len(data)), len(data))
            data = data[:end] + bytes(CHUNK - end)
        elif header.magic and not header.intact:
            slot.reason = (f"damaged EVTX chunk {k + 1} (the checksum of its records does not "
                           "match: bytes changed after Windows wrote them)")
        records, errors = self.parse(data) if header.magic else ([], [])
        rejects: list[Reject] = []
        skipped = 0
        refused = not cut and not header.intact
        for i, rec in enumerate(records):
            rid, xml = rec["event_record_id"], rec["data"]
            if not 0 < rid <= MAX_ID:  # a damaged record header: numbered by its place
                place = header.first + i if header.plausible else 0
                rejects.append(Reject(place, f"damaged EVTX record in chunk {k + 1} (its record "
                                      f"number {rid} is impossible)", xml[:_RAW]))
            elif refused:
                rejects.append(Reject(rid, f"{slot.reason}; the record is not loaded",
                                      xml[:_RAW]))
            elif rid in damaged:
                rejects.append(Reject(rid, f"damaged EVTX record in chunk {k + 1} "
                                      f"({damaged[rid]})", xml[:_RAW]))
            elif self.keep(xml):
                self.pending.append((rid, xml))
            else:
                skipped += 1
        rejects.extend(self.account(slot, header, records, errors, refused))
        yield from rejects
        if skipped:
            yield Skipped(skipped)

    def parse(self, chunk: bytes) -> tuple[list[dict], list[str]]:
        """Return the records the parser reads from one chunk, and its error messages."""
        records: list[dict] = []
        errors: list[str] = []
        try:
            it = self.parser(io.BytesIO(self.front + chunk), number_of_threads=1,
                             indent=False).records()
        except BaseException as exc:
            if not _parser_error(exc):
                raise
            return records, [str(exc)]
        while len(records) + len(errors) <= MAX_RECORDS:
            try:
                records.append(next(it))
            except StopIteration:
                break
            except BaseException as exc:
                if not _parser_error(exc):
                    raise
                errors.append(str(exc).replace("\n", " ")[:500])
                if not isinstance(exc, _ERRORS):
                    break  # the parser panicked: nothing more comes from this chunk
        return records, errors

    def account(self, slot: _Slot, header: ChunkHeader, records: list[dict],
                errors: list[str], refused: bool = False) -> list[Reject]:
        """Reject the records of a chunk the parser did not read, or could not read whole.

        A record the parser names in an error is rejected with its message; the identifiers the
        chunk header declares that were not read are rejected with the chunk's reason. A header
        that fails its checksum is believed only when its range is plausible and holds every
        identifier read; otherwise the chunk accounts for what was read.
        """
        k = slot.index + 1
        seen = {rid for rec in records if 0 < (rid := rec["event_record_id"]) <= MAX_ID}
        count = len(records)
        out: list[Reject] = []
        for message in errors:
            m = _RECORD_NUMBER.search(message)
            if m and 0 < int(m.group(1)) <= MAX_ID and int(m.group(1)) not in seen:
                seen.add(int(m.group(1)))
                count += 1
                why = (f"{slot.reason}; the parser says: {message}" if refused else
                       f"damaged EVTX record in chunk {k} (the parser says: {message})")
                out.append(Reject(int(m.group(1)), why, ""))
        if not slot.reason:
            slot.reason = (f"damaged EVTX chunk {k} (the parser says: {errors[-1]})" if errors
                           else f"damaged EVTX chunk {k} (the parser read no record there)")
        believed = header.plausible and (header.valid or not seen or (
            header.first <= min(seen) and max(seen) <= header.last))
        if not believed:
            if seen:
                slot.lo, slot.hi = min(seen), max(seen)
            return out
        slot.lo, slot.hi = header.first, header.last
        lost = header.last - header.first + 1 - count
        why = f"{slot.reason}; the record is not read"
        for rid in range(header.first, header.last + 1):
            if lost <= 0:
                break
            if rid not in seen:
                out.append(Reject(rid, why, ""))
                lost -= 1
        return out

    def keep(self, xml: str) -> bool:
        """Tell whether a rendered record may be an activation event, from its ``<Provider>``.

        Its ``Name`` (or, when empty, ``EventSourceName``) is one of the Software Protection
        provider's names, or there is none: ``build_events`` then decides from the event ID.
        """
        i = xml.find("<Provider")
        if i < 0:
            return True
        attrs = dict(_ATTR.findall(xml[i: xml.find(">", i)]))
        name = attrs.get("Name") or attrs.get("EventSourceName") or ""
        return self.matters(name)

    def matters(self, name: str) -> bool:
        """Tell whether a provider name (as written in XML) is the Software Protection one."""
        keep = self.providers.get(name)
        if keep is None:
            text = html.unescape(name.replace("\t", " ").replace("\n", " ").replace("\r", " "))
            keep = not text.strip() or _PROVIDER.search(text.strip()) is not None
            if len(self.providers) >= _CACHE:
                self.providers.clear()
            self.providers[name] = keep
        return keep

    def rows(self) -> Iterator[list[tuple] | Reject]:
        """Parse the pending records of interest; yield their raw tuples and rejects."""
        if self.pending:
            got = rows_of(self.pending, self.xml)
            self.pending.clear()
            yield from batched(got, len(got))

    # ---- records that could not be read at all ---------------------------------------------

    def lost(self) -> Iterator[Reject]:
        """Reject the records of unreadable chunks and of chunks missing from a cut file."""
        header, slots = self.header, sorted(self.slots, key=lambda s: s.index)
        if header.valid and header.chunks > len(slots):
            why = (f"truncated: the header declares {header.chunks:,} chunks, the file holds "
                   f"{len(slots):,}")
            slots += [_Slot(i, reason=why, used=True) for i in range(len(slots), header.chunks)]
        if not slots:
            return
        n = len(slots)
        start = header.first_chunk if header.valid and header.first_chunk < n else 0
        if header.valid:  # the chunks between the first and last chunk numbers are in use
            for step in range((header.last_chunk % n - start) % n + 1):
                slots[(start + step) % n].used = True
        order = [slots[(start + i) % n] for i in range(n)]
        i = 0
        while i < n:
            if order[i].lo is not None:
                i += 1
                continue
            j = i
            while j < n and order[j].lo is None:
                j += 1
            before = order[i - 1].hi if i > 0 else None
            after = order[j].lo if j < n else (header.next_record if header.valid
                                               and header.next_record <= MAX_ID else None)
            yield from _lost_run(order[i:j], before, after)
            i = j


def _parser_error(exc: BaseException) -> bool:
    """Tell whether the parser raised ``exc`` about the data (a Rust panic included)."""
    return isinstance(exc, _ERRORS) or type(exc).__name__ == "PanicException"


def _lost_run(run: list[_Slot], before: int | None, after: int | None) -> Iterator[Reject]:
    """Reject the records of consecutive unreadable chunks between two known identifiers.

    Their identifiers run from the one after ``before`` to the one before ``after``; when either
    is unknown (or the gap is larger than the chunks could hold), one reject says their records
    cannot be counted, if any of the chunks held or should hold records.
    """
    used = [s for s in run if s.used]
    reason = (used or run)[0].reason
    if before is not None and after is not None and before < after:
        if after - before - 1 <= MAX_RECORDS * len(run):
            for rid in range(before + 1, after):
                yield Reject(rid, f"{reason}; the record is not read", "")
            return
    if used:
        chunks = ", ".join(str(s.index + 1) for s in used[:10]) + (", ..." if len(used) > 10
                                                                   else "")
        yield Reject((before or 0) + 1, f"{reason}; the records of chunk(s) {chunks} cannot be "
                     "counted (no intact neighbouring chunk tells their record numbers)", "")
