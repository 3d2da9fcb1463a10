"""activation_kb: Windows volume-activation error codes, fleet telemetry and spike reports.

The public API is listed in ``__all__``. Heavy parts (telemetry readers, figures, widgets, the
report runner) are imported on first use, so ``import activation_kb`` and the CLI start fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .categories import CATEGORY_NAMES, category_label, category_of, load_categories
from .codes import find_codes, normalize_code
from .errors import (
    ActivationKBError,
    AnalysisError,
    CatalogueParseError,
    InvalidCodeError,
    MissingDependencyError,
    ReportError,
    ReportParameterError,
    SchemaError,
    SimulationError,
    TelemetryError,
    UnsupportedLanguageError,
)

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily by __getattr__)
_LAZY = {
    "parse_catalogue": "catalogue",
    "load_catalogue": "catalogue",
    "lookup": "search",
    "describe_code": "hresult",
    "CodeDescription": "hresult",
    "load_events": "telemetry",
    "write_events": "telemetry",
    "LoadResult": "telemetry",
    "Format": "telemetry",
    "simulate_fleet": "simulate",
    "IncidentSpec": "simulate",
    "score_detection": "simulate",
    "activation_attempts": "attempts",
    "AttemptTable": "attempts",
    "error_frequency": "frequency",
    "detect_spikes": "spikes",
    "expected_counts": "spikes",
    "explain_spikes": "incidents",
    "plot_frequency": "figures",
    "plot_code_heatmap": "figures",
    "plot_top_codes": "figures",
    "plot_incident": "figures",
    "lookup_widget": "widgets",
    "run_report": "report",
    "list_reports": "report",
}

__all__ = [
    "__version__",
    # errors
    "ActivationKBError",
    "AnalysisError",
    "CatalogueParseError",
    "InvalidCodeError",
    "MissingDependencyError",
    "ReportError",
    "ReportParameterError",
    "SchemaError",
    "SimulationError",
    "TelemetryError",
    "UnsupportedLanguageError",
    # codes and categories
    "normalize_code",
    "find_codes",
    "CATEGORY_NAMES",
    "category_of",
    "category_label",
    "load_categories",
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
