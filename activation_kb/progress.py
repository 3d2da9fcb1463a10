"""Progress of long work: named stages on a terminal, nothing in logs.

Library code marks its stages (``with stage("loading exports", total=n, unit="B") as s:
s.advance(k)``); what happens to them depends on where it runs:

* on a terminal (stderr is a TTY): one status line per stage, with a bar when the total is
  known (tqdm), erased when the stage ends; with ``verbose`` each finished stage stays as a line
  with its duration and details;
* not on a terminal, or ``quiet``: nothing (scheduled runs keep clean logs, papermill#765);
  ``verbose`` still prints the finished stages as plain lines;
* in a report's kernel (``ACTIVATION_KB_PROGRESS`` names a file): each event is appended to that
  file as a JSON line, which the report runner shows as its own stages.

The CLI sets this with ``--quiet`` and ``-v`` (:func:`configure`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["Stage", "configure", "stage", "replay", "RELAY_ENV"]

#: Environment variable naming the file a kernel relays its stages into.
RELAY_ENV = "ACTIVATION_KB_PROGRESS"

_settings: dict[str, Any] = {"quiet": False, "verbose": 0, "stream": None, "force": False}


def configure(quiet: bool = False, verbose: int = 0, stream: TextIO | None = None,
              force: bool = False) -> None:
    """Set how stages are shown (the CLI's ``--quiet`` and ``-v``).

    Parameters
    ----------
    quiet : bool
        Show nothing.
    verbose : int
        1 and more: print each finished stage with its duration and details.
    stream : file, optional
        Where to write (default ``sys.stderr`` at the time of writing).
    force : bool
        Show bars even when the stream is not a terminal.
    """
    _settings.update(quiet=quiet, verbose=verbose, stream=stream, force=force)


def _stream() -> TextIO:
    return _settings["stream"] or sys.stderr


def _terminal() -> bool:
    stream = _stream()
    return _settings["force"] or bool(getattr(stream, "isatty", lambda: False)())


class Stage:
    """A named stage of work; :meth:`advance` counts done units, :meth:`detail` adds a note."""

    def __init__(self, name: str, total: float | None = None, unit: str = "",
                 relay: str | None = None) -> None:
        self.name, self.total, self.unit = name, total, unit
        self.done = 0.0
        self.details: list[str] = []
        self.started = time.perf_counter()
        self._bar = None
        self._relay = relay
        if self._relay:
            self._send("start", total=total, unit=unit)
        elif not _settings["quiet"] and _terminal():
            from tqdm import tqdm

            scale = unit == "B"
            self._bar = tqdm(total=total, desc=name, unit=unit or "it", unit_scale=scale,
                             unit_divisor=1024 if scale else 1000, leave=False, file=_stream(),
                             dynamic_ncols=True,
                             bar_format=None if total else "{desc} {elapsed}")

    def _send(self, event: str, **fields: Any) -> None:
        with contextlib.suppress(OSError):
            with open(self._relay, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"event": event, "stage": self.name, **fields}) + "\n")

    def advance(self, n: float = 1) -> None:
        """Count ``n`` more units done."""
        self.done += n
        if self._relay and self.total:
            self._send("advance", done=self.done, total=self.total)
        elif self._bar is not None:
            self._bar.update(n)

    def detail(self, text: str) -> None:
        """Add a detail shown with ``-v`` when the stage ends."""
        self.details.append(text)

    def close(self) -> None:
        """End the stage."""
        seconds = time.perf_counter() - self.started
        if self._relay:
            self._send("end", seconds=round(seconds, 3), details=self.details)
            return
        if self._bar is not None:
            self._bar.close()
        if _settings["verbose"] and not _settings["quiet"]:
            extra = f" ({'; '.join(self.details)})" if self.details else ""
            print(f"{self.name}: {seconds:.1f} s{extra}", file=_stream(), flush=True)


@contextlib.contextmanager
def stage(name: str, total: float | None = None, unit: str = "") -> Iterator[Stage]:
    """Mark a named stage of work (see the module's description for where it shows).

    Parameters
    ----------
    name : str
        What is being done, e.g. "loading exports", "detecting spikes", "writing HTML".
    total : float, optional
        Units to do, when known (files, bytes: then a bar shows).
    unit : str
        The unit ("files", "B" for bytes).

    Yields
    ------
    Stage
    """
    current = Stage(name, total, unit, relay=os.environ.get(RELAY_ENV))
    try:
        yield current
    finally:
        current.close()


def replay(line: str) -> None:
    """Show one relayed event (a JSON line written by a kernel's stage) in this process."""
    try:
        event = json.loads(line)
    except ValueError:
        return
    name = event.get("stage", "")
    kind = event.get("event")
    live = _replayed
    if kind == "start":
        live[name] = Stage(name, event.get("total"), event.get("unit", ""))
    elif kind == "advance" and name in live:
        live[name].advance(event.get("done", 0) - live[name].done)
    elif kind == "end" and name in live:
        current = live.pop(name)
        current.details = list(event.get("details") or [])
        current.started = time.perf_counter() - float(event.get("seconds") or 0)
        current.close()


_replayed: dict[str, Stage] = {}
