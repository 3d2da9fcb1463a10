"""Tell the exports among the files found from what is not an export, before reading any.

Export folders are shares as they really are: one file per machine, and beside them a
``README.md``, ``notes.txt``, ``desktop.ini``, ``Thumbs.db``, a ``.zip`` of last month... Those are
skipped and listed with the reason (``skipped_files``); ``strict`` makes them an error.

:func:`scan_exports` is what commands that must decide before any work call (``load_events``,
``ingest`` before it writes, ``report run`` before its kernel starts). Only files whose name does
not say they are exports (no suffix of :data:`~._formats.EXPORT_SUFFIXES`) have their first
bytes read: a file with an export's suffix is never skipped (when its content is not an export,
reading it is an error that names it).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import TelemetryError
from ._file import _format_of
from ._formats import EXPORT_SUFFIXES, Format, allowed_formats, resolve_format
from ._source import SkippedFile, Source, expand_paths

__all__ = ["scan_exports", "sort_exports", "skipped_reason", "refuse_skipped", "nothing_read"]

#: Files named in an error message; the others are counted.
_SHOWN = 5


def _has_export_suffix(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return "." in name.lstrip(".") and "." + name.rsplit(".", 1)[1] in EXPORT_SUFFIXES


def skipped_reason(path: Path, forced: Format | None = None) -> SkippedFile | None:
    """Return why ``path`` is not an export (as the loader would skip it), or None.

    Parameters
    ----------
    path : Path
        A file found by :func:`~._source.expand_paths` (names were checked there).
    forced : Format, optional
        The format every file is read as: then no file is skipped for its content.

    Raises
    ------
    TelemetryError
        When the file cannot be read (its first bytes, or a damaged gzip start).
    """
    if forced is not None or _has_export_suffix(path):
        return None
    found = _format_of(Source(path), None)
    return found if isinstance(found, SkippedFile) else None


def refuse_skipped(skipped: list[SkippedFile]) -> TelemetryError:
    """Return the error of ``strict``: these files are not exports."""
    shown = "; ".join(f"{s.path} ({s.reason})" for s in skipped[:_SHOWN])
    more = f"; and {len(skipped) - _SHOWN} more" if len(skipped) > _SHOWN else ""
    return TelemetryError(f"{len(skipped)} file(s) are not event exports (strict): {shown}{more}; "
                          "expected only event exports: move them out of the export folder, "
                          "or read without strict (--strict) to list them as skipped")


def nothing_read(skipped: list[SkippedFile]) -> TelemetryError:
    """Return the error for paths where every file found was skipped (none is an export)."""
    expected = ("expected an event export: wevtutil XML, EVTX, evtx_dump JSON lines, "
                "Get-WinEvent/Get-EventLog/Event Viewer CSV, Log Analytics Event/WindowsEvent "
                f"CSV or JSON, or a canonical CSV/Parquet; pass format= (--format) to choose one "
                f"of {allowed_formats()}")
    if len(skipped) == 1:
        return TelemetryError(f"{skipped[0].path}: {skipped[0].reason}; {expected}")
    shown = "; ".join(f"{s.path} ({s.reason})" for s in skipped[:_SHOWN])
    return TelemetryError(f"none of the {len(skipped)} files is an event export: {shown}"
                          + ("; ..." if len(skipped) > _SHOWN else "") + f"; {expected}")


def scan_exports(
    paths: str | Path | Iterable[str | Path],
    format: str | Format | None = None,
    *,
    strict: bool = False,
) -> tuple[list[Path], list[SkippedFile]]:
    """Find the files of ``paths`` and tell the exports from the other files, reading none.

    Parameters
    ----------
    paths : str, Path or iterable of them
        Files, directories and glob patterns, as :func:`~activation_kb.load_events` takes them.
    format : str or Format, optional
        The format every file is read as; then only names decide what is skipped.
    strict : bool
        Look at every file found: any that is not an export is an error (all of them named,
        with the reason, in one message). Without it, files are looked at only until the first
        export, so that paths holding no export at all fail before any work.

    Returns
    -------
    files : list of Path
        With ``strict``, the exports. Without it, every file found but those skipped by name
        (hidden files, folder metadata ...) or found not to be exports before the first export:
        the readers tell the others as they read them.
    skipped : list of SkippedFile
        The files found that are not exports so far (path and reason); never any with
        ``strict``.

    Raises
    ------
    TelemetryError
        With ``strict``, for any file that is not an export; for paths holding no export at
        all; for a missing path, a folder that cannot be listed or a file whose first bytes
        cannot be read.
    """
    forced = resolve_format(format) if format is not None else None
    skipped: list[SkippedFile] = []
    found = expand_paths(paths, skipped)
    return sort_exports(found, skipped, forced, strict=strict), skipped


def sort_exports(found: list[Path], skipped: list[SkippedFile], forced: Format | None = None,
                 *, strict: bool = False) -> list[Path]:
    """Tell the exports among the files :func:`~._source.expand_paths` found (:func:`scan_exports`).

    Parameters
    ----------
    found : list of Path
        The files found.
    skipped : list of SkippedFile
        What was skipped while finding them (by name); the files found not to be exports are
        appended to it.
    forced : Format, optional
        The format every file is read as.
    strict : bool
        As :func:`scan_exports`.

    Returns
    -------
    list of Path
        The files to read.
    """
    files: list[Path] = []
    exports = 0
    for n, path in enumerate(found):
        why = skipped_reason(path, forced)
        if why is not None:
            skipped.append(why)
            continue
        files.append(path)
        exports += 1
        if not strict:  # one export is enough: the readers tell the others as they read them
            files.extend(found[n + 1:])
            break
    if strict and skipped:
        raise refuse_skipped(skipped)
    if not exports and skipped:
        raise nothing_read(skipped)
    return files
