"""Analysis stage: records to attempts, failures per bucket, spikes, incidents, the fleet view.

Modules in data-flow order: :mod:`.attempts` (records grouped into activation attempts),
:mod:`.frequency` (failed attempts per bucket and key), :mod:`.spikes` (rises against a seasonal
baseline), :mod:`.incidents` (spikes grouped and explained by the catalogue), :mod:`.fleet`
(``analyze_fleet``: the whole chain, the front door of the package), with :mod:`.summary` (what
the report says besides incidents) and :mod:`.subset` (``FleetAnalysis.where``: part of a fleet).
"""

from __future__ import annotations

from .attempts import DIMENSIONS, AttemptTable, activation_attempts
from .fleet import DETECTION_KEYS, FleetAnalysis, analyze_fleet, write_outputs
from .frequency import error_frequency
from .incidents import explain_spikes
from .spikes import SEVERITIES, detect_spikes, expected_counts
from .subset import FILTERS, filter_table

__all__ = [
    "DETECTION_KEYS",
    "DIMENSIONS",
    "FILTERS",
    "SEVERITIES",
    "AttemptTable",
    "FleetAnalysis",
    "activation_attempts",
    "analyze_fleet",
    "detect_spikes",
    "error_frequency",
    "expected_counts",
    "explain_spikes",
    "filter_table",
    "write_outputs",
]
