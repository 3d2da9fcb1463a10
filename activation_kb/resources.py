"""Locate the data files shipped with activation_kb, in a wheel and in a source checkout."""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_path", "notebook_path", "package_data_path"]

_PACKAGE_DIR = Path(__file__).resolve().parent


def package_data_path(name: str) -> Path:
    """Return the path of a data file kept inside the package (``activation_kb/data/NAME``)."""
    return _PACKAGE_DIR / "data" / name


def data_path(name: str) -> Path:
    """Return the path of a file of the project's top-level ``data/`` folder.

    In an installed wheel these files live in ``activation_kb/_data/`` (hatch ``force-include``);
    in a source checkout or an editable install they are read from ``data/`` beside the package.

    Parameters
    ----------
    name : str
        Path relative to ``data/``, e.g. ``"catalogue/fr-fr_activation-error-codes_2019-03-21.md"``.

    Returns
    -------
    pathlib.Path
        The first existing location; the wheel location when neither exists.
    """
    installed = _PACKAGE_DIR / "_data" / name
    if installed.exists():
        return installed
    checkout = _PACKAGE_DIR.parent / "data" / name
    if checkout.exists():
        return checkout
    return installed


def notebook_path(name: str) -> Path:
    """Return the path of a notebook shipped with activation_kb (``notebooks/NAME``).

    In an installed wheel the notebooks live in ``activation_kb/_data/notebooks/``; in a source
    checkout in ``notebooks/`` beside the package.
    """
    installed = _PACKAGE_DIR / "_data" / "notebooks" / name
    if installed.exists():
        return installed
    checkout = _PACKAGE_DIR.parent / "notebooks" / name
    return checkout if checkout.exists() else installed
