"""A fleet's export share as it really is, for the tests of issue 12 (point 3).

One export per machine (most at the top, some in a site subfolder, one gzipped), and beside them
what people, Windows, macOS, Office and sync tools leave in such a folder. The tests count from
what was written here, never from the loader: which files are exports (and the records they
hold: the simulator's events), which are not (and a word their reason must hold).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from activation_kb import simulate_fleet, write_events

#: Not exports, by path under the share -> what their reason says. ``00-README.txt`` sorts
#: before every export (found when the folder is scanned), the others after the first export
#: (found by the readers as they go).
NOT_EXPORTS: dict[str, str] = {
    "00-README.txt": "cannot tell the format",
    "README.md": "cannot tell the format",
    "notes.txt": "cannot tell the format",
    "empty.txt": "empty file",
    "desktop.ini": "Windows folder settings",
    "Thumbs.db": "Windows thumbnail cache",
    ".DS_Store": "hidden file",
    ".sync.lock": "hidden file",
    "~$notes.docx": "Office lock file",
    "old-exports.zip": "zip archive",
    ".git": "hidden folder",
    "site2/inventory.txt": "cannot tell the format",
}


@dataclass
class Share:
    """A share written by :func:`make_share`.

    Attributes
    ----------
    folder : Path
        The share.
    events : pandas.DataFrame
        Every event the exports hold (the simulator's), one row per record written.
    exports : list of str
        The export files, as paths under ``folder``.
    not_exports : dict
        The other entries (files, and the hidden folder), as paths under ``folder``, with a
        word their reason must hold.
    """

    folder: Path
    events: pd.DataFrame
    exports: list[str]
    not_exports: dict[str, str]

    def rel(self, path: str | Path) -> str:
        """``path`` (as a loader reports it) relative to the share, with ``/``."""
        return Path(path).resolve().relative_to(self.folder.resolve()).as_posix()


def make_share(folder: Path, devices: int = 30, days: int = 10, seed: int = 5) -> Share:
    """Write a share of ``devices`` machines' exports and the usual clutter into ``folder``."""
    events, _ = simulate_fleet(devices, days, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "site2").mkdir()
    exports = []
    for n, (host, part) in enumerate(events.groupby(events["host"].astype(str), sort=True)):
        name = f"{host}.xml.gz" if n == 1 else f"{host}.xml"
        rel = f"site2/{name}" if n % 5 == 4 else name
        write_events(part, folder / rel)
        exports.append(rel)
    first = exports[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # last month's exports, zipped
        archive.write(folder / first, arcname=first)
    (folder / "old-exports.zip").write_bytes(buffer.getvalue())
    (folder / "00-README.txt").write_text("Activation exports, one file per machine.\n"
                                          "Collected each night by the logon script.\n")
    (folder / "README.md").write_text("# Exports of March\n\nSee `00-README.txt`.\n")
    (folder / "notes.txt").write_text("pc3 was off on Monday; export again on Friday.\n")
    (folder / "empty.txt").write_text("")
    (folder / "desktop.ini").write_text("[.ShellClassInfo]\r\nIconResource=imageres.dll,-3\r\n")
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(100))
    (folder / ".sync.lock").write_text("locked by host42\n")
    (folder / "~$notes.docx").write_bytes(b"\x05Alice" + bytes(150))
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "site2" / "inventory.txt").write_text("hostname serial\nPC1 X42\n")
    written = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
               if p.is_file() and ".git" not in p.parts}
    assert written == set(exports) | set(NOT_EXPORTS) - {".git"}  # the helper's own check
    return Share(folder, events, exports, dict(NOT_EXPORTS))


def assert_strict_refusal(result, message: str) -> None:
    """``result`` (a finished ``subprocess.run``) exited 2 with ``message`` as one line only.

    What ``--strict`` must do on the share: refuse before any work, say so in one ``Error:``
    line that starts with ``message``, print nothing else and no traceback.
    """
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"Error: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
