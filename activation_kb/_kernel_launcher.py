"""Start an IPython kernel that dies with the process that started it (the report's kernel).

``python -m activation_kb._kernel_launcher -f CONNECTION_FILE`` starts an IPython kernel like
``ipykernel_launcher`` after asking the operating system to kill it when its parent (the
``activation-kb`` command, papermill in-process) ends, however it ends: on Linux
``prctl(PR_SET_PDEATHSIG, SIGKILL)``, enforced by the kernel even while the Python kernel is stuck
in C code holding the GIL (ipykernel's own parent poller is a Python thread and then never runs);
elsewhere a watchdog thread that polls the parent. It lives outside ``activation_kb.report`` so
that starting a kernel imports nothing heavy (``import activation_kb`` loads only the errors).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["die_with_parent", "main"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> str:
    """Arrange for this process to end when its parent process ends.

    Parameters
    ----------
    parent : int, optional
        The expected parent's process ID; default ``JPY_PARENT_PID`` (set by jupyter_client),
        else the current parent. When the parent is already gone, the process exits at once.

    Returns
    -------
    str
        ``"pdeathsig"`` (Linux) or ``"watchdog"``.
    """
    expected = parent or int(os.environ.get("JPY_PARENT_PID") or 0) or os.getppid()
    how = "watchdog"
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                how = "pdeathsig"
        except (OSError, AttributeError):
            pass
    if os.getppid() != expected:  # the parent died before the request took effect
        os._exit(1)
    if how == "watchdog" and hasattr(os, "getppid"):
        def watch() -> None:
            while os.getppid() == expected:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
    return how


def main() -> None:
    """Start an IPython kernel that dies with its parent (the kernelspec's command)."""
    die_with_parent()
    if sys.path and sys.path[0] == "":
        del sys.path[0]  # as ipykernel_launcher: the working folder must not shadow modules
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
