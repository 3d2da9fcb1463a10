"""The life of a report run's folder: staging, publishing in one atomic step, failure, cleanup.

A run writes into ``.<out>.runs/<id>.<pid>.staging`` beside the output. Publishing renames it to
``.<out>.runs/<id>`` and then replaces ``<out>``, a symbolic link to the current run, with one
``rename(2)`` of a new link: a reader always finds ``<out>`` and a complete report behind it,
the old one or the new one, never nothing. Replaced runs are kept for readers still inside
them (the one before the current one always, others for five minutes), then removed. A failed
or interrupted run becomes ``<out>.failed``; a run killed outright (SIGKILL, power loss) leaves a
staging folder whose process is gone, which the next run removes.

Where symbolic links cannot be made (Windows without the privilege), publishing falls back to
two directory renames, with a short window where ``<out>`` is missing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Terminated", "terminate_as_exception", "new_staging", "publish", "runs_dir",
           "keep_failed", "remove_abandoned"]

_STAGING = re.compile(r"^(?P<id>[0-9TZ]+-[0-9a-f]{8})\.(?P<pid>\d+)\.staging$")
_RUN = re.compile(r"^[0-9TZ]+-[0-9a-f]{8}$")
_LINK_AGE = 60.0  # seconds after which a temporary link is a leftover of a killed run
_GRACE = 300.0  # seconds a replaced run stays for readers that resolved the link before


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM or SIGHUP while a report was running."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated` while the block runs.

    Only in the main thread and only for signals whose handler is the default one (the process
    would have died): ``finally`` blocks then run, the staging folder is cleaned up, and, when
    the block ends with :class:`Terminated`, the signal is delivered again with its default action,
    so the process ends exactly as the signal asked (exit status 128 + signal number).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    taken = {}
    for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            taken[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    except Terminated as exc:
        for signum, previous in taken.items():
            signal.signal(signum, previous)
        if exc.signum in taken:
            os.kill(os.getpid(), exc.signum)  # default action: the process ends here
        raise
    finally:
        for signum, previous in taken.items():
            signal.signal(signum, previous)


def _raise_terminated(signum: int, frame: object) -> None:
    # a second signal during cleanup is ignored: the first one is being honoured
    signal.signal(signum, signal.SIG_IGN)
    raise Terminated(signum)


def runs_dir(out: Path) -> Path:
    """Return the hidden folder beside ``out`` that holds its runs."""
    return out.parent / f".{out.name}.runs"


def new_staging(out: Path) -> Path:
    """Create and return an empty staging folder for a run that publishes into ``out``."""
    runs = runs_dir(out)
    runs.mkdir(parents=True, exist_ok=True)
    remove_abandoned(out)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    staging = runs / f"{stamp}-{uuid.uuid4().hex[:8]}.{os.getpid()}.staging"
    staging.mkdir()
    return staging


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def remove_abandoned(out: Path) -> list[Path]:
    """Remove staging folders of runs whose process is gone, and stale temporary links.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    removed = []
    runs = runs_dir(out)
    if runs.is_dir():
        for path in runs.iterdir():
            match = _STAGING.match(path.name)
            if match and int(match["pid"]) != os.getpid() and not _alive(int(match["pid"])):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    for link in out.parent.glob(f".{glob_escape(out.name)}.link-*"):
        with contextlib.suppress(OSError):
            if link.is_symlink() and time.time() - link.lstat().st_mtime > _LINK_AGE:
                link.unlink()
                removed.append(link)
    return removed


def glob_escape(name: str) -> str:
    """Escape glob characters in a file name."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def keep_failed(staging: Path, out: Path) -> Path:
    """Move a failed run's staging folder to ``<out>.failed`` (replacing an older one)."""
    failed = out.parent / f"{out.name}.failed"
    if failed.is_symlink() or failed.is_file():
        failed.unlink()
    shutil.rmtree(failed, ignore_errors=True)
    staging.rename(failed)
    return failed


@contextlib.contextmanager
def _locked(runs: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``runs`` (two runs publishing to one place take turns)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(runs / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(staging: Path, out: Path) -> str:
    """Make the finished run in ``staging`` the report at ``out``, in one atomic step.

    Parameters
    ----------
    staging : pathlib.Path
        A folder made by :func:`new_staging`, complete.
    out : pathlib.Path
        Where readers find the report.

    Returns
    -------
    str
        ``"symlink"`` (one atomic rename of a link) or ``"rename"`` (the fallback where links
        cannot be made: two renames, with a short window where ``out`` is missing).
    """
    runs = staging.parent
    match = _STAGING.match(staging.name)
    run = runs / (match["id"] if match else staging.name.removesuffix(".staging"))
    with _locked(runs):
        staging.rename(run)
        previous = _target(out)
        try:
            try:
                _point(out, run)
                how = "symlink"
            except _NoSymlinks:
                _replace_directory(out, run)
                how = "rename"
        except BaseException:
            if run.is_dir():
                run.rename(staging)  # not published: the caller keeps it as a failed run
            raise
        if previous and (runs / previous).is_dir():
            os.utime(runs / previous)  # its mtime: when it was replaced
        _prune(runs, keep={run.name, previous})
    return how


class _NoSymlinks(Exception):
    """Symbolic links cannot be made here."""


def _target(out: Path) -> str | None:
    """Name of the run ``out`` links to, if it is one of our links."""
    if not out.is_symlink():
        return None
    return Path(os.readlink(out)).name


def _point(out: Path, run: Path) -> None:
    """Make ``out`` a link to ``run`` with one rename (an old folder there is swapped out)."""
    link = out.parent / f".{out.name}.link-{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(os.path.relpath(run, out.parent), link, target_is_directory=True)
    except (OSError, NotImplementedError) as exc:
        raise _NoSymlinks(str(exc)) from exc
    try:
        if out.is_symlink() or not out.exists():
            os.replace(link, out)
        elif out.is_dir():
            # a report folder of an older version: swap it with the link in one step where
            # the system can (Linux renameat2), else move it aside first
            if _exchange(link, out):
                legacy = runs_dir(out) / (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
                                          + f"-{uuid.uuid4().hex[:8]}")
                link.rename(legacy)  # ``link`` now names the old folder
            else:
                aside = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
                out.rename(aside)
                os.replace(link, out)
                shutil.rmtree(aside, ignore_errors=True)
        else:
            raise FileExistsError(f"{out} exists and is not a report folder; remove it or choose "
                                  "another --out")
    finally:
        if link.is_symlink():
            link.unlink()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _replace_directory(out: Path, run: Path) -> None:
    """Fallback without links: replace the folder ``out`` by ``run`` with two renames."""
    aside = None
    if out.exists() or out.is_symlink():
        aside = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(aside)
    run.rename(out)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _prune(runs: Path, keep: set[str | None]) -> None:
    """Remove replaced runs older than the grace period, except ``keep``."""
    now = time.time()
    for path in runs.iterdir():
        if _RUN.match(path.name) and path.name not in keep:
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > _GRACE:
                    shutil.rmtree(path, ignore_errors=True)
