"""The report's kernel: a kernelspec for this interpreter, whose kernel dies with its parent.

``python -m activation_kb.report._kernel -f CONNECTION_FILE`` starts an IPython kernel like
``ipykernel_launcher`` after asking the operating system to kill it when the process that started
it (the ``activation-kb`` command, papermill in-process) ends, however it ends: on Linux
``prctl(PR_SET_PDEATHSIG, SIGKILL)``, enforced by the kernel even while the Python kernel is stuck
in C code holding the GIL (ipykernel's own parent poller is a Python thread and then never runs);
elsewhere a watchdog thread that polls the parent.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["KERNEL_NAME", "kernel_dir", "die_with_parent", "main"]

KERNEL_NAME = "activation-kb"
_PR_SET_PDEATHSIG = 1


def kernel_dir() -> Path:
    """Return a Jupyter path holding a kernelspec that runs this interpreter.

    The report never depends on a 'python3' kernel found elsewhere on the machine (papermill#251,
    #856). One folder per interpreter: two environments (or checkouts) running reports at the
    same time must not overwrite each other's kernelspec.
    """
    tag = hashlib.sha256(sys.executable.encode()).hexdigest()[:12]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    root = Path(tempfile.gettempdir()) / f"activation-kb-kernels-{uid}-{tag}"
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    wanted = {
        "argv": [sys.executable, "-m", "activation_kb.report._kernel", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=CRITICAL"],
        "display_name": "Python (activation_kb)",
        "language": "python",
        "env": {"PLOTLY_RENDERER": "notebook"},
    }
    path = spec / "kernel.json"
    if not path.exists() or json.loads(path.read_text()) != wanted:
        tmp = path.with_name(f"kernel.json.{os.getpid()}")
        tmp.write_text(json.dumps(wanted), encoding="utf-8")
        os.replace(tmp, path)  # a concurrent run never reads half a file
    return root


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
