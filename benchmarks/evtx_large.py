"""Build a large ``.evtx`` file from a real one, for benchmarks (not shipped in the package).

No Python library writes EVTX, but the format allows concatenation: a chunk (64 KiB) is
self-contained (its string and template offsets are relative to the chunk), so the used chunks
of a real log can be repeated. Each copy gets new event record numbers, so no record is a
duplicate of another: the record header's identifier and the ``EventRecordID`` value of the
record's template instance are shifted, then the chunk header's first/last record numbers and
identifiers, its event records CRC32 and header CRC32 are recomputed, and the file header gets
the new chunk count, last chunk number, next record identifier and CRC32 (layout: libyal's
"Windows XML Event Log (EVTX) format", chapters "File header", "Chunk", "Event record" and
"Template instance").

Usage: ``.venv/bin/python benchmarks/evtx_large.py SOURCE.evtx OUT.evtx [--mb 1024]``
"""

from __future__ import annotations

import argparse
import struct
import zlib
from pathlib import Path

HEADER, CHUNK = 0x1000, 0x10000
_UINT64 = 0x0A
#: The file header's number of chunks is a 16-bit field.
MAX_CHUNKS = 0xFFFF


def _template_values(chunk: bytes | bytearray, start: int) -> list[tuple[int, int, int]]:
    """Return (offset in chunk, size, type) of each template value of the record at ``start``."""
    pos = start + 24  # record header: signature, size, identifier, written time
    if chunk[pos] != 0x0F or chunk[pos + 4] != 0x0C:
        raise ValueError("record does not start with a fragment header and a template instance")
    pos += 5 + 1 + 4  # fragment header, token, unknown byte, template identifier
    definition = struct.unpack_from("<I", chunk, pos)[0]
    pos += 4
    if definition == pos:  # the template definition is stored inline, right here
        pos += 4 + 16  # next template definition offset, template GUID
        size = struct.unpack_from("<I", chunk, pos)[0]
        pos += 4 + size
    count = struct.unpack_from("<I", chunk, pos)[0]
    pos += 4
    out = []
    value = pos + 4 * count
    for i in range(count):
        size, kind = struct.unpack_from("<HB", chunk, pos + 4 * i)
        out.append((value, size, kind))
        value += size
    return out


def _records(chunk: bytes | bytearray) -> list[tuple[int, int, int]]:
    """Return (offset, size, identifier) of each event record of a chunk."""
    end = struct.unpack_from("<I", chunk, 48)[0]
    pos, out = 512, []
    while pos + 24 <= end:
        sig, size, rid = struct.unpack_from("<4sIQ", chunk, pos)
        if sig != b"**\x00\x00" or size < 28 or pos + size > end:
            raise ValueError(f"unexpected event record at chunk offset {pos}")
        out.append((pos, size, rid))
        pos += size
    return out


def _shift(chunk: bytes, shift: int) -> bytes:
    """Return a copy of ``chunk`` whose record numbers are ``shift`` higher, checksums fixed."""
    out = bytearray(chunk)
    for pos, _size, rid in _records(chunk):
        struct.pack_into("<Q", out, pos + 8, rid + shift)
        for value, size, kind in _template_values(chunk, pos):
            if kind == _UINT64 and size == 8 and struct.unpack_from("<Q", out, value)[0] == rid:
                struct.pack_into("<Q", out, value, rid + shift)
    first_n, last_n, first_id, last_id = struct.unpack_from("<4Q", out, 8)
    struct.pack_into("<4Q", out, 8, first_n + shift, last_n + shift, first_id + shift,
                     last_id + shift)
    end = struct.unpack_from("<I", out, 48)[0]
    struct.pack_into("<I", out, 52, zlib.crc32(out[512:end]))
    struct.pack_into("<I", out, 124, zlib.crc32(out[:120] + out[128:512]))
    return bytes(out)


def used_chunks(data: bytes) -> list[bytes]:
    """Return the chunks of an EVTX file that hold records (valid magic and header checksum)."""
    out = []
    for off in range(HEADER, len(data) - CHUNK + 1, CHUNK):
        chunk = data[off: off + CHUNK]
        good = struct.unpack_from("<I", chunk, 124)[0] == zlib.crc32(chunk[:120] + chunk[128:512])
        if chunk.startswith(b"ElfChnk\x00") and good:
            out.append(chunk)
    return out


def build_large_evtx(source: Path, out: Path, megabytes: int,
                     keep: list[int] | None = None) -> tuple[int, int]:
    """Write ``out``: the used chunks of ``source`` (or those listed in ``keep``) repeated.

    Returns
    -------
    tuple of int
        (number of chunks, number of event records) written.
    """
    data = source.read_bytes()
    chunks = used_chunks(data)
    if keep is not None:
        chunks = [chunks[i] for i in keep]
    if not chunks:
        raise ValueError(f"{source}: no usable chunk to repeat")
    first = min(struct.unpack_from("<Q", c, 8)[0] for c in chunks)
    per_copy = max(struct.unpack_from("<Q", c, 16)[0] for c in chunks) - first + 1
    total = min(MAX_CHUNKS, max(1, (megabytes << 20) // CHUNK))
    records = top = 0
    with open(out, "wb") as fh:
        fh.write(bytes(HEADER))
        for i in range(total):
            copy, k = divmod(i, len(chunks))
            chunk = _shift(chunks[k], copy * per_copy) if copy else chunks[k]
            fh.write(chunk)
            lo, hi = struct.unpack_from("<2Q", chunk, 8)
            records += hi - lo + 1
            top = max(top, hi)
        header = bytearray(data[:HEADER])
        struct.pack_into("<QQQ", header, 8, 0, total - 1, top + 1)
        struct.pack_into("<H", header, 42, total)
        struct.pack_into("<I", header, 120, 0)  # flags: clean
        struct.pack_into("<I", header, 124, zlib.crc32(header[:120]))
        fh.seek(0)
        fh.write(header)
    return total, records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--mb", type=int, default=1024)
    a = ap.parse_args()
    chunks, records = build_large_evtx(a.source, a.out, a.mb)
    print(f"wrote {a.out}: {chunks:,} chunks, {records:,} records "
          f"({a.out.stat().st_size / 2**20:,.0f} MB)")


if __name__ == "__main__":
    main()
