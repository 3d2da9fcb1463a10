"""Open event exports: expand paths, undo gzip, detect text encodings, count bytes for progress.

Readers never open files themselves; they receive a :class:`Source`, so gzip, encodings and the
progress bar work the same way for every format.

Text that does not decode never stops a reader: each undecodable byte becomes a lone surrogate
(U+DC00 + the byte's value, error handler :data:`ESCAPE`), which no valid UTF-8 or UTF-16 text
can hold, so the reader rejects the one record holding it (:func:`undecodable`) and goes on.

Folders are read as they really are (:func:`expand_paths`): hidden files and folders, Windows
and macOS folder metadata (``desktop.ini``, ``Thumbs.db``, ``.DS_Store``) and Office lock files
are listed as skipped with the reason, never read; a folder that cannot be listed is an error.
"""

from __future__ import annotations

import codecs
import glob
import io
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from ..errors import TelemetryError

__all__ = ["Source", "SkippedFile", "expand_paths", "detect_encoding", "undecodable", "GZIP_MAGIC",
           "ESCAPE", "not_export_by_name"]

GZIP_MAGIC = b"\x1f\x8b"
_GLOB_CHARS = set("*?[")
_HEAD = 1 << 16
#: Name of the codec error handler that turns each undecodable byte into U+DC00 + its value.
ESCAPE = "activation_kb.escape"


def _escape(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: each undecodable byte becomes the lone surrogate U+DC00 + byte."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error(ESCAPE, _escape)

#: Folder metadata that Windows, macOS and Office leave beside files (lower-case names).
_METADATA = {"desktop.ini": "Windows folder settings", "thumbs.db": "Windows thumbnail cache",
             "ehthumbs.db": "Windows thumbnail cache", "ehthumbs_vista.db":
             "Windows thumbnail cache", "icon\r": "macOS folder icon"}
_SYSTEM_DIRS = {"$recycle.bin": "Windows recycle bin", "system volume information":
                "Windows system folder", "__macosx": "macOS archive metadata"}


@dataclass(frozen=True)
class SkippedFile:
    """A file (or folder) found beside the exports that is not an export, and why."""

    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """Return ``{"path": ..., "reason": ...}`` (JSON-friendly)."""
        return {"path": self.path, "reason": self.reason}


def not_export_by_name(name: str, folder: bool = False) -> str | None:
    """Why a file or folder with this name is never an export (None when it may be one)."""
    low = name.lower()
    if name.startswith("."):
        return "hidden folder" if folder else "hidden file"
    if folder:
        return _SYSTEM_DIRS.get(low)
    if low in _METADATA:
        return f"{_METADATA[low]}, not an event export"
    if name.startswith("~$"):
        return "Office lock file, not an event export"
    return None


def _odd_entry(path: Path) -> str:
    """Why an entry that is neither a folder nor a regular file is skipped."""
    if not path.exists():
        return "broken link (its target does not exist)"
    return "not a regular file (a pipe, socket or device), not an event export"


def _walk(root: Path, skipped: list[SkippedFile]) -> list[Path]:
    """Every file below ``root`` (sorted), skipping hidden and system entries into ``skipped``."""
    found: list[Path] = []
    problems: list[OSError] = []
    seen: set[tuple[int, int]] = set()
    for top, dirs, files in os.walk(root, onerror=problems.append, followlinks=True):
        if problems:
            break
        here = Path(top)
        st = here.stat()
        if (st.st_dev, st.st_ino) in seen:  # a link back up the tree
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        keep = []
        for d in sorted(dirs):
            why = not_export_by_name(d, folder=True)
            if why:
                skipped.append(SkippedFile(str(here / d), why))
            else:
                keep.append(d)
        dirs[:] = keep
        for f in sorted(files):
            path = here / f
            why = not_export_by_name(f)
            if why:
                skipped.append(SkippedFile(str(path), why))
            elif path.is_file():
                found.append(path)
            else:
                skipped.append(SkippedFile(str(path), _odd_entry(path)))
    if problems:
        exc = problems[0]
        where = exc.filename or root
        raise TelemetryError(f"{where}: cannot list this folder ({exc.strerror or exc}); "
                             "expected a readable folder of event exports (fix its permissions "
                             "or pass the readable files)")
    return sorted(found)


def expand_paths(paths: str | Path | Iterable[str | Path],
                 skipped: list[SkippedFile] | None = None) -> list[Path]:
    """Return the files named by ``paths``: files, directories (all files below), globs or a list.

    Inside directories and globs, hidden files and folders (names starting with ``.``), folder
    metadata (``desktop.ini``, ``Thumbs.db``), Office lock files (``~$...``), system folders
    (``$RECYCLE.BIN``), broken links and entries that are not regular files (pipes, sockets)
    are not read: they are appended to ``skipped`` with the reason. Metadata
    and lock files named one by one are skipped too; a hidden file named on its own is read. A
    file named twice is read once.

    Raises
    ------
    TelemetryError
        When a path does not exist, a folder cannot be listed, or a glob or directory holds no
        file.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    skipped = [] if skipped is None else skipped
    out: list[Path] = []
    for item in paths:
        text = str(item)
        path = Path(text)
        if path.is_file():
            why = not_export_by_name(path.name)
            if why and not path.name.startswith("."):
                skipped.append(SkippedFile(text, why))
                continue
            found = [path]
        elif path.is_dir():
            before = len(skipped)
            found = _walk(path, skipped)
            if not found and len(skipped) == before:
                raise TelemetryError(f"{path}: the directory holds no file; expected event exports")
        elif _GLOB_CHARS & set(text):
            matched = sorted(Path(p) for p in glob.glob(text, recursive=True))
            found = []
            for p in matched:
                if p.is_dir():
                    continue
                why = not_export_by_name(p.name)
                if why:
                    skipped.append(SkippedFile(str(p), why))
                elif p.is_file():
                    found.append(p)
                else:
                    skipped.append(SkippedFile(str(p), _odd_entry(p)))
            if not found and not matched:
                raise TelemetryError(f"{text}: no file matches this pattern; expected event "
                                     "exports")
        elif path.exists():
            raise TelemetryError(f"{path}: not a regular file (a pipe, socket or device); "
                                 "expected an event export")
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

    A byte-order mark decides; without one, NUL bytes in most odd (or even) positions of the
    first 4 KB mean UTF-16 little- (or big-) endian, so a few damaged bytes do not change the
    verdict; anything else is read as UTF-8.
    """
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8", 3
    if head.startswith(b"\xff\xfe"):
        return "utf-16-le", 2
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be", 2
    sample = head[:4096]
    if len(sample) >= 4:
        odd, even = sample[1::2].count(0), sample[0::2].count(0)
        if odd >= len(sample) // 4 and even * 8 <= odd:
            return "utf-16-le", 0
        if even >= len(sample) // 4 and odd * 8 <= even:
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
        try:
            with open(self.path, "rb") as fh:
                return fh.read(2) == GZIP_MAGIC
        except OSError as exc:
            raise TelemetryError(f"{self.name}: cannot read the file ({exc.strerror or exc})") \
                from exc

    def head(self, size: int = _HEAD) -> bytes:
        """Return up to ``size`` decompressed bytes from the start (a damaged gzip tail is fine).

        Raises
        ------
        TelemetryError
            When the file cannot be read, or its gzip data is damaged from the start.
        """
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read(size)
                if not raw.startswith(GZIP_MAGIC):
                    return raw
                z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out = b""
                while raw and len(out) < size and not z.eof:  # a few compressed bytes may
                    try:                                       # give nothing yet: read on
                        out += z.decompress(raw, size - len(out))
                    except zlib.error as exc:
                        if out:
                            return out
                        raise TelemetryError(f"{self.name}: damaged gzip data ({exc}); "
                                             "expected a .gz file") from exc
                    raw = z.unconsumed_tail or fh.read(1 << 16)
                return out
        except OSError as exc:
            raise TelemetryError(f"{self.name}: cannot read the file ({exc.strerror or exc})") \
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

        Bytes that do not decode become lone surrogates (error handler :data:`ESCAPE`), so one
        bad byte or UTF-16 code unit costs only the record holding it: readers reject text where
        :func:`undecodable` is true.
        """
        encoding, bom = detect_encoding(self.head(4096))
        with self.open_binary() as fh:
            fh.read(bom)
            yield io.TextIOWrapper(fh, encoding=encoding, errors=ESCAPE, newline="")


_SURROGATE = re.compile("[\ud800-\udfff]")


def undecodable(text: str) -> bool:
    """Tell whether ``text`` holds bytes that did not decode (see :meth:`Source.open_text`)."""
    return _SURROGATE.search(text) is not None
