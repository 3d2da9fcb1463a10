"""The result of :func:`activation_kb.telemetry.load_events` and its accounting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..schema import CODE, EVENT_KIND, EVENT_TIME, HOST, empty_events, empty_rejected
from ._file import empty_unreadable_values

__all__ = ["LoadResult"]


@dataclass
class LoadResult:
    """Events loaded from one or more exports, with what was rejected, skipped or unreadable.

    Attributes
    ----------
    events : pandas.DataFrame
        Canonical events frame (passes :func:`activation_kb.schema.validate_events`).
    rejected : pandas.DataFrame
        One row per rejected record (``REJECTED_COLUMNS``); ``raw`` is cut at 512 characters
        (ending ``[...]``; ``rejected_raw_cut`` counts those).
    records, loaded, duplicates : int
        Invariant: ``records == loaded + len(rejected) + duplicates``: every record read is
        loaded, rejected (with file, record number and reason) or a duplicate.
    skipped : int
        Records read and left out because they are not activation events (EVTX and evtx_dump
        JSON logs hold every provider's records; only the Software Protection provider's become
        rows). They are not in ``records``: ``records + skipped`` is every record read.
    files : list of dict
        Per file read: path, format, records, loaded, rejected, duplicates, skipped.
    skipped_files : list of dict
        Files (and folders) found that are not exports, not read: ``path`` and ``reason``
        (hidden, folder metadata, notes, archives...).
    unreadable_values : pandas.DataFrame
        Values present in loaded records that could not be read, the field left missing: one
        row per value with ``source_file``, ``source_record``, ``source_format``, ``column``
        (e.g. ``result_code``, ``client_time``), ``value`` (as found, cut at 80 characters) and
        ``reason``. Join on (``source_file``, ``source_record``) to find the event. (For result
        codes, :func:`~activation_kb.telemetry.unreadable_codes` finds the same records in any
        events frame, from its ``raw`` column.)
    rejected_raw_cut : int
        Rejected records whose raw text was cut.
    """

    events: pd.DataFrame = field(default_factory=empty_events)
    rejected: pd.DataFrame = field(default_factory=empty_rejected)
    records: int = 0
    loaded: int = 0
    duplicates: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    unreadable_values: pd.DataFrame = field(default_factory=empty_unreadable_values)
    rejected_raw_cut: int = 0

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
            includes the success code ``0x00000000``), ``unreadable_values`` (values present
            but unreadable, counted by column), ``rejected_raw_cut``, ``files`` (per-file
            counts) and ``skipped_files`` (files that are not exports: path and reason).
        """
        ev = self.events
        kinds = ev[EVENT_KIND].value_counts(sort=False)
        kinds = kinds[kinds > 0].sort_values(ascending=False, kind="stable")
        codes = ev[CODE].value_counts(sort=False).sort_index()
        codes = codes.sort_values(ascending=False, kind="stable")
        unreadable = self.unreadable_values["column"].value_counts(sort=False).sort_index()
        unreadable = unreadable.sort_values(ascending=False, kind="stable")
        return {
            "records": self.records, "loaded": self.loaded, "rejected": self.n_rejected,
            "duplicates": self.duplicates, "skipped": self.skipped,
            "hosts": int(ev[HOST].nunique()),
            "first_event_time": None if ev.empty else ev[EVENT_TIME].min().isoformat(),
            "last_event_time": None if ev.empty else ev[EVENT_TIME].max().isoformat(),
            "by_event_kind": {str(k): int(v) for k, v in kinds.items()},
            "by_code": {str(k): int(v) for k, v in codes.items()},
            "unreadable_values": {str(k): int(v) for k, v in unreadable.items()},
            "rejected_raw_cut": self.rejected_raw_cut,
            "files": self.files,
            "skipped_files": self.skipped_files,
        }
