"""The report's kernel: a kernelspec for this interpreter, whose kernel dies with its parent.

The kernelspec starts :mod:`activation_kb._kernel_launcher`, which asks the operating system to
kill the kernel when the ``activation-kb`` command ends, however it ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["KERNEL_NAME", "kernel_dir"]

KERNEL_NAME = "activation-kb"


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
        "argv": [sys.executable, "-m", "activation_kb._kernel_launcher", "-f", "{connection_file}",
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
