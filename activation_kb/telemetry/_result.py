"""The result of :func:`activation_kb.telemetry.load_events` and its accounting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..schema import empty_events, empty_rejected

__all__ = ["LoadResult"]


@dataclass
class LoadResult:
    """Events loaded from one or more exports, with what was rejected and why.

    Attributes
    ----------
    events : pandas.DataFrame
        Canonical events frame (passes :func:`activation_kb.schema.validate_events`).
    rejected : pandas.DataFrame
        One row per rejected record (``REJECTED_COLUMNS``).
    records, loaded, duplicates : int
        Invariant: ``records == loaded + len(rejected) + duplicates``.
    files : list of dict
        Per file: path, format, records, loaded, rejected, duplicates.
    """

    events: pd.DataFrame = field(default_factory=empty_events)
    rejected: pd.DataFrame = field(default_factory=empty_rejected)
    records: int = 0
    loaded: int = 0
    duplicates: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_rejected(self) -> int:
        """Number of rejected records."""
        return len(self.rejected)

    def summary(self) -> dict[str, Any]:
        """Return a JSON-friendly summary (counts and per-file figures)."""
        return {
            "records": self.records, "loaded": self.loaded, "rejected": self.n_rejected,
            "duplicates": self.duplicates, "files": self.files,
        }
