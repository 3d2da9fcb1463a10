"""The result of :func:`activation_kb.telemetry.load_events` and its accounting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..schema import CODE, EVENT_KIND, EVENT_TIME, HOST, empty_events, empty_rejected

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
        Invariant: ``records == loaded + len(rejected) + duplicates``: every record read is
        loaded, rejected (with file, record number and reason) or a duplicate.
    skipped : int
        Records read and left out because they are not activation events (EVTX and evtx_dump
        JSON logs hold every provider's records; only the Software Protection provider's become
        rows). They are not in ``records``: ``records + skipped`` is every record read.
    files : list of dict
        Per file: path, format, records, loaded, rejected, duplicates, skipped.
    """

    events: pd.DataFrame = field(default_factory=empty_events)
    rejected: pd.DataFrame = field(default_factory=empty_rejected)
    records: int = 0
    loaded: int = 0
    duplicates: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0

    @property
    def n_rejected(self) -> int:
        """Number of rejected records."""
        return len(self.rejected)

    def summary(self) -> dict[str, Any]:
        """Return a JSON-friendly summary of the load.

        Returns
        -------
        dict
            ``records``, ``loaded``, ``rejected``, ``duplicates``, ``skipped``, ``hosts``,
            ``first_event_time`` and ``last_event_time`` (ISO 8601 UTC, None when nothing
            loaded), ``by_event_kind`` and ``by_code`` (counts, largest first; ``by_code``
            includes the success code ``0x00000000``), and ``files`` (per-file counts).
        """
        ev = self.events
        kinds = ev[EVENT_KIND].value_counts(sort=False)
        kinds = kinds[kinds > 0].sort_values(ascending=False, kind="stable")
        codes = ev[CODE].value_counts(sort=False).sort_index()
        codes = codes.sort_values(ascending=False, kind="stable")
        return {
            "records": self.records, "loaded": self.loaded, "rejected": self.n_rejected,
            "duplicates": self.duplicates, "skipped": self.skipped,
            "hosts": int(ev[HOST].nunique()),
            "first_event_time": None if ev.empty else ev[EVENT_TIME].min().isoformat(),
            "last_event_time": None if ev.empty else ev[EVENT_TIME].max().isoformat(),
            "by_event_kind": {str(k): int(v) for k, v in kinds.items()},
            "by_code": {str(k): int(v) for k, v in codes.items()},
            "files": self.files,
        }
