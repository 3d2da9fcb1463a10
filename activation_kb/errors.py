"""One error hierarchy for activation_kb.

Every error the package raises on purpose derives from :class:`ActivationKBError`. Errors caused by
the caller's input (a bad code, a malformed file, a wrong parameter) also derive from
:class:`ValueError`; the CLI maps those to exit code 2 and everything else to exit code 1.
"""

from __future__ import annotations

__all__ = [
    "ActivationKBError",
    "InvalidCodeError",
    "CatalogueParseError",
    "UnsupportedLanguageError",
    "TelemetryError",
    "SchemaError",
    "MissingDependencyError",
    "SimulationError",
    "AnalysisError",
    "ReportError",
    "ReportParameterError",
    "StoreError",
    "StoreLockedError",
    "StoreVersionError",
]


class ActivationKBError(Exception):
    """Raised when activation_kb cannot do what was asked."""


class InvalidCodeError(ActivationKBError, ValueError):
    """Raised when a text or number is not a valid 32-bit activation error code."""


class CatalogueParseError(ActivationKBError, ValueError):
    """Raised when a text is not a recognisable revision of the activation error-code article."""


class UnsupportedLanguageError(ActivationKBError, ValueError):
    """Raised when a catalogue language other than the shipped ones ("en", "fr") is asked for."""


class TelemetryError(ActivationKBError, ValueError):
    """Raised when an event export cannot be read: wrong format, bad record, unsafe XML."""


class SchemaError(ActivationKBError, ValueError):
    """Raised when a frame does not follow the canonical schema it is declared to follow."""


class MissingDependencyError(ActivationKBError, ImportError):
    """Raised when an optional dependency is needed but not installed; names the extra."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the optional dependency {package!r}, which is not installed. "
            f"Please run: pip install 'activation-kb[{extra}]'"
        )
        self.package = package
        self.extra = extra


class SimulationError(ActivationKBError, ValueError):
    """Raised when fleet simulation parameters or incident specs are invalid."""


class AnalysisError(ActivationKBError, ValueError):
    """Raised when counts or events given to an analysis function cannot be analysed."""


class ReportError(ActivationKBError):
    """Raised when a report run fails (a failing cell, an export error)."""


class ReportParameterError(ReportError, ValueError):
    """Raised when a report parameter is invalid; raised before any kernel starts."""


class StoreError(ActivationKBError):
    """Raised when an event store cannot be read or written."""


class StoreLockedError(StoreError):
    """Raised when another ingest holds an event store's lock."""


class StoreVersionError(StoreError, ValueError):
    """Raised when a path is not an event store, or one written by a newer activation_kb."""
