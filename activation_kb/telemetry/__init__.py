"""Load Windows activation event exports into one canonical events frame.

Public API: :func:`load_events`, :func:`write_events` (and :func:`output_format`, which checks
an output name before anything is read), :class:`LoadResult`, :class:`Format`, and
:func:`unreadable_codes` (records whose result code is written but unreadable).

Readers (one per :class:`Format`, listed in ``_formats.READERS``) turn each file into raw
records; ``_build.build_events`` parses batches of them column-wise into the canonical schema of
:mod:`activation_kb.schema`; ``_file.read_file`` reads one file (sniffing its format, or telling
it is not an export) and accounts for every record it holds, loaded or rejected; its result
pickles, so files can be read in worker processes. ``_load.load_events`` expands paths (skipping
what is not an export), reads each file and ``_load.combine`` de-duplicates overlapping exports
and sorts.
"""

from __future__ import annotations

from ._build import EVENT_KIND_BY_ID, KMS_CHANNEL, PROVIDERS
from ._codes import UNREADABLE_COLUMNS, unreadable_codes
from ._formats import Format
from ._load import load_events
from ._result import LoadResult
from ._write import output_format, write_events

__all__ = ["load_events", "write_events", "output_format", "unreadable_codes", "UNREADABLE_COLUMNS",
           "LoadResult", "Format", "EVENT_KIND_BY_ID", "KMS_CHANNEL", "PROVIDERS"]
