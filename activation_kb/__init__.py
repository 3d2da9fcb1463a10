"""activation_kb: Windows volume-activation error codes, fleet telemetry and spike reports.

The public API is listed in ``__all__``; the way in is :func:`analyze_fleet`. Stages, in
data-flow order: :mod:`.catalogue`, :mod:`.telemetry` and :mod:`.simulate`, :mod:`.analysis`,
:mod:`.views`, :mod:`.report`, :mod:`.cli` (see ``docs/architecture.md``). Every public name is
imported on first use, so ``import activation_kb`` loads only the error classes and the CLI
starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    ActivationKBError,
    AnalysisError,
    CatalogueParseError,
    ChoiceError,
    DateError,
    DurationError,
    FrequencyError,
    InvalidCodeError,
    MissingDependencyError,
    NumberError,
    ParameterError,
    ReportError,
    ReportParameterError,
    SchemaError,
    SensitivityError,
    SimulationError,
    StoreError,
    StoreLockedError,
    StoreVersionError,
    TelemetryError,
    TimeZoneError,
    UnsupportedLanguageError,
)

__version__ = "0.1.0"

# public name -> module that defines it (imported on first use by __getattr__)
_LAZY = {
    # catalogue
    "parse_catalogue": "catalogue.article",
    "load_catalogue": "catalogue.article",
    "normalize_code": "catalogue.codes",
    "find_codes": "catalogue.codes",
    "CATEGORY_NAMES": "catalogue.categories",
    "category_of": "catalogue.categories",
    "category_label": "catalogue.categories",
    "load_categories": "catalogue.categories",
    "lookup": "catalogue.search",
    "describe_code": "catalogue.hresult",
    "CodeDescription": "catalogue.hresult",
    # telemetry and simulator
    "load_events": "telemetry",
    "write_events": "telemetry",
    "unreadable_codes": "telemetry",
    "LoadResult": "telemetry",
    "Format": "telemetry",
    "ingest": "store",
    "IngestResult": "store",
    "store_info": "store",
    "simulate_fleet": "simulate",
    "SimulatedFleet": "simulate",
    "simulate_health": "simulate",
    "HealthSimulation": "simulate",
    "IncidentSpec": "simulate",
    "load_inventory": "telemetry.inventory",
    "InventoryResult": "telemetry.inventory",
    "score_detection": "simulate",
    # analysis
    "analyze_fleet": "analysis.fleet",
    "FleetAnalysis": "analysis.fleet",
    "write_outputs": "analysis.fleet",
    "activation_attempts": "analysis.attempts",
    "AttemptTable": "analysis.attempts",
    "error_frequency": "analysis.frequency",
    "detect_spikes": "analysis.spikes",
    "expected_counts": "analysis.spikes",
    "explain_spikes": "analysis.incidents",
    "SpikeParams": "params",
    "fleet_health": "analysis.health",
    "kms_health": "analysis.health",
    "KmsHealth": "analysis.health",
    "health_summary": "analysis.health",
    "assess_health": "analysis.health",
    "HealthAssessment": "analysis.health",
    "write_health": "analysis.health",
    # views
    "plot_frequency": "views.figures",
    "plot_code_heatmap": "views.figures",
    "plot_top_codes": "views.figures",
    "plot_incident": "views.figures",
    "lookup_widget": "views.widgets",
    "explore": "views.explore",
    # report
    "run_report": "report.runner",
    "list_reports": "report.runner",
    "ReportParams": "params",
}

__all__ = [
    "__version__",
    # errors
    "ActivationKBError",
    "AnalysisError",
    "CatalogueParseError",
    "ChoiceError",
    "DateError",
    "DurationError",
    "FrequencyError",
    "InvalidCodeError",
    "MissingDependencyError",
    "NumberError",
    "ParameterError",
    "ReportError",
    "ReportParameterError",
    "SchemaError",
    "SensitivityError",
    "SimulationError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
    "TelemetryError",
    "TimeZoneError",
    "UnsupportedLanguageError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'activation_kb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module_name}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
