"""activation_kb: Windows volume-activation error codes, fleet telemetry and spike reports."""

from __future__ import annotations

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
)

__version__ = "0.1.0"

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
    # codes and categories
    "normalize_code",
    "find_codes",
    "CATEGORY_NAMES",
    "category_of",
    "category_label",
    "load_categories",
]
