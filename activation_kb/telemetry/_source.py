"""Open event exports: expand paths, undo gzip, detect text encodings, count bytes for progress.

Readers never open files themselves; they receive a :class:`Source`, so gzip, encodings and the
progress bar work the same way for every format.
"""

from __future__ import annotations

import glob
import io
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from ..errors import TelemetryError

__all__ = ["Source", "expand_paths", "detect_encoding", "undecodable", "GZIP_MAGIC"]

GZIP_MAGIC = b"\x1f\x8b"
_GLOB_CHARS = set("*?[")
_HEAD = 1 << 16


def expand_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Return the files named by ``paths``: files, directories (all files below), globs or a list.

    Hidden files (names starting with ``.``) inside directories are skipped. A file named twice is
    read once.

    Raises
    ------
    TelemetryError
        When a path does not exist or a glob or directory holds no file.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for item in paths:
        text = str(item)
        path = Path(text)
        if path.is_file():
            found = [path]
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not any(
                part.startswith(".") for part in p.relative_to(path).parts))
            if not found:
                raise TelemetryError(f"{path}: the directory holds no file; expected event exports")
        elif _GLOB_CHARS & set(text):
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not found:
                raise TelemetryError(f"{text}: no file matches this pattern; expected event "
                                     "exports")
        else:
            raise TelemetryError(f"{path}: no such file or directory; expected an event export")
        out.extend(found)
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def detect_encoding(head: bytes) -> tuple[str, int]:
    """Return ``(encoding, bom_length)`` of a text file from its first bytes.

    A byte-order mark decides; without one, NUL bytes in every other position mean UTF-16
    (little- or big-endian), anything else is read as UTF-8.
    """
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8", 3
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le", 2
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be", 2
    sample = head[:64]
    if len(sample) >= 4:
        if sample[1::2].count(0) >= len(sample) // 4 and sample[0::2].count(0) == 0:
            return "utf-16-le", 0
        if sample[0::2].count(0) >= len(sample) // 4 and sample[1::2].count(0) == 0:
            return "utf-16-be", 0
    return "utf-8", 0


class _Counting(io.RawIOBase):
    """A raw binary stream that reports how many bytes were read from the file."""

    def __init__(self, raw: BinaryIO, tick: Callable[[int], None]) -> None:
        self._raw = raw
        self._tick = tick

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: D102
        n = self._raw.readinto(buffer) or 0
        if n:
            self._tick(n)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Gunzip(io.RawIOBase):
    """Decompress gzip (one or more members); damaged or cut-short data ends the stream early.

    ``problem`` says afterwards why the stream ended early (None when it ended normally), so the
    readers keep every record before the damage.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self.problem: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: D102
        try:
            return self._readinto(buffer)
        except zlib.error as exc:
            self.problem = f"damaged gzip data ({exc})"
            return 0

    def _readinto(self, buffer) -> int:
        while not self._pending and self.problem is None:
            if self._z.eof:
                rest = self._z.unused_data or self._raw.read(1 << 16)
                if not rest.strip(b"\x00"):
                    return 0
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._pending = self._z.decompress(rest)
                continue
            chunk = self._raw.read(1 << 13)  # small steps: damage costs only what follows it
            if not chunk:
                self.problem = "the gzip data ends before its end marker (a cut-short file)"
                self._pending = self._z.flush()
                break
            self._pending = self._z.decompress(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


@dataclass
class Source:
    """One input file, as seen by a reader.

    Attributes
    ----------
    path : Path
        The file.
    tick : callable
        Called with the number of (compressed) bytes read, for the progress bar.
    """

    path: Path
    tick: Callable[[int], None] = lambda n: None
    #: Set after reading when gzip data was damaged or cut short: why reading stopped early.
    problem: str | None = None

    @property
    def name(self) -> str:
        """The file name as given, for messages."""
        return str(self.path)

    @property
    def stem(self) -> str:
        """The file name without ``.gz`` and format suffixes (``pc1.csv.gz`` -> ``pc1``)."""
        name = self.path.name
        for suffix in (".gz", ".csv", ".txt", ".xml", ".json", ".jsonl"):
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
        return name

    @property
    def is_gzip(self) -> bool:
        """True when the file starts with the gzip magic number."""
        with open(self.path, "rb") as fh:
            return fh.read(2) == GZIP_MAGIC

    def head(self, size: int = _HEAD) -> bytes:
        """Return up to ``size`` decompressed bytes from the start (a damaged gzip tail is fine)."""
        with open(self.path, "rb") as fh:
            raw = fh.read(size)
        if not raw.startswith(GZIP_MAGIC):
            return raw
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, size)
        except zlib.error as exc:
            raise TelemetryError(f"{self.name}: damaged gzip data ({exc}); expected a .gz file") \
                from exc

    @contextmanager
    def open_binary(self) -> Iterator[BinaryIO]:
        """Open the file for reading bytes, decompressing gzip, counting bytes for progress."""
        counted = io.BufferedReader(_Counting(open(self.path, "rb", buffering=0), self.tick),
                                    1 << 20)
        try:
            if counted.peek(2)[:2] == GZIP_MAGIC:
                gunzip = _Gunzip(counted)
                try:
                    yield io.BufferedReader(gunzip, 1 << 20)
                finally:
                    self.problem = self.problem or gunzip.problem
            else:
                yield counted
        finally:
            counted.close()

    @contextmanager
    def open_text(self) -> Iterator[TextIO]:
        """Open the file as text in its own encoding (BOM or UTF-16 detection), newline=''.

        Bytes that do not decode become lone surrogates (``surrogateescape``), so one bad byte
        costs only the record holding it: readers reject text where :func:`undecodable` is true.
        """
        encoding, bom = detect_encoding(self.head(64))
        with self.open_binary() as fh:
            fh.read(bom)
            yield io.TextIOWrapper(fh, encoding=encoding, errors="surrogateescape", newline="")


_SURROGATE = re.compile("[\ud800-\udfff]")


def undecodable(text: str) -> bool:
    """Tell whether ``text`` holds bytes that did not decode (see :meth:`Source.open_text`)."""
    return _SURROGATE.search(text) is not None
