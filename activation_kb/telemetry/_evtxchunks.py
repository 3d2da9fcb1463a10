r"""The EVTX container, read with ``struct``: file header, 64 KiB chunks, record boundaries.

An ``.evtx`` file is a 4 KiB file header followed by 64 KiB chunks; each chunk has a 512-byte
header that names the first and last event record identifiers it holds, then the records
(``**\0\0``, size, identifier, time, binary XML, copy of the size). This module reads only that
frame, never the binary XML: it tells which record identifiers each chunk holds, so records the
XML parser could not read are still counted and named. Layout: libyal's "Windows XML Event Log
(EVTX) format" (file header, chunk, event record); checksums are CRC-32 with initial value 0.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

__all__ = ["EVTX_MAGIC", "FILE_HEADER", "CHUNK", "CHUNK_HEADER", "MAX_RECORDS", "MAX_ID",
           "FileHeader",
           "ChunkHeader", "read_file_header", "read_chunk_header", "walk_records", "parser_header"]

EVTX_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"**\x00\x00"
FILE_HEADER = 0x1000
CHUNK = 0x10000
CHUNK_HEADER = 0x200
_MIN_RECORD = 28  # signature, size, identifier, time, copy of size
#: Most records one chunk can hold.
MAX_RECORDS = (CHUNK - CHUNK_HEADER) // _MIN_RECORD
#: Largest record identifier a frame holds (Int64).
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class FileHeader:
    """What the 4 KiB file header declares (trusted only when ``valid``: its CRC-32 matches)."""

    valid: bool
    first_chunk: int
    last_chunk: int
    next_record: int
    chunks: int


@dataclass(frozen=True)
class ChunkHeader:
    """What a chunk header declares; ``valid`` when its signature and CRC-32 both match.

    ``intact`` when the records' own CRC-32 (bytes 512 to the free-space offset, as the header
    says) matches: no byte of the chunk's records changed since Windows wrote them. A header
    that fails its own checksum can still have intact records (the checksum field itself, or
    an unused byte, was hit).
    """

    magic: bool
    valid: bool
    first: int
    last: int
    free: int
    intact: bool

    @property
    def plausible(self) -> bool:
        """Tell whether the record range could be right (for a header that fails its CRC)."""
        return 1 <= self.first <= self.last <= MAX_ID and self.last - self.first < MAX_RECORDS


def read_file_header(head: bytes) -> FileHeader:
    """Read the file header from the first 4 KiB (at least 128 bytes) of an EVTX file."""
    first, last, next_record = struct.unpack_from("<3Q", head, 8)
    chunks = struct.unpack_from("<H", head, 42)[0]
    stored = struct.unpack_from("<I", head, 124)[0]
    valid = head.startswith(EVTX_MAGIC) and zlib.crc32(head[:120]) == stored
    return FileHeader(valid, first, last, next_record, chunks)


def read_chunk_header(chunk: bytes) -> ChunkHeader | None:
    """Read a chunk header (None when fewer than its 512 bytes are present)."""
    if len(chunk) < CHUNK_HEADER:
        return None
    first, last = struct.unpack_from("<2Q", chunk, 24)  # first/last event record identifiers
    free, records_crc = struct.unpack_from("<2I", chunk, 48)
    stored = struct.unpack_from("<I", chunk, 124)[0]
    magic = chunk.startswith(CHUNK_MAGIC)
    valid = magic and zlib.crc32(chunk[:120] + chunk[128:CHUNK_HEADER]) == stored
    intact = (magic and CHUNK_HEADER <= free <= len(chunk)
              and zlib.crc32(memoryview(chunk)[CHUNK_HEADER:free]) == records_crc)
    return ChunkHeader(magic, valid, first, last, free, intact)


def walk_records(chunk: bytes, limit: int | None = None) -> tuple[dict[int, str], int]:
    """Follow the chain of records of a chunk, from offset 512 to its free-space offset.

    Returns ``(damaged, end)``: record identifier -> why its frame is damaged (the size and its
    copy disagree), and the offset just past the last whole record found before ``limit`` (the
    number of bytes present; default: the whole chunk). The walk stops at the first position
    that does not hold a record signature.
    """
    size_present = len(chunk) if limit is None else limit
    free = struct.unpack_from("<I", chunk, 48)[0]
    stop = free if CHUNK_HEADER <= free <= len(chunk) else len(chunk)
    pos, damaged = CHUNK_HEADER, {}
    while pos + 24 <= stop:
        sig, size, rid = struct.unpack_from("<4sIQ", chunk, pos)
        if sig != RECORD_MAGIC or size < _MIN_RECORD or pos + size > size_present:
            break
        copy = struct.unpack_from("<I", chunk, pos + size - 4)[0]
        if copy != size:
            damaged[rid] = f"its size fields disagree ({size} and {copy} bytes)"
        pos += size
    return damaged, pos


def parser_header(head: bytes, header: FileHeader) -> bytes:
    """Return a file header to put before one chunk for the record parser.

    The file's own header when it is intact; otherwise a clean one (version 3.1, one chunk), so
    damage to the file header never stops the chunks from being read.
    """
    if header.valid and len(head) >= FILE_HEADER:
        return head[:FILE_HEADER]
    out = bytearray(FILE_HEADER)
    out[:8] = EVTX_MAGIC
    struct.pack_into("<3QIHHHH", out, 8, 0, 0, 1, 128, 1, 3, FILE_HEADER, 1)
    struct.pack_into("<I", out, 124, zlib.crc32(out[:120]))
    return bytes(out)
