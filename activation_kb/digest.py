"""The sha256 of a file, read in blocks: how the manifest and the event store name an input."""

from __future__ import annotations

import hashlib
import os

__all__ = ["file_sha256"]

_BLOCK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """Return the hex sha256 of the file at ``path``, read 1 MiB at a time.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
