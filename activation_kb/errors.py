"""One error hierarchy for activation_kb.

Every error the package raises on purpose derives from :class:`ActivationKBError`. Errors caused by
the caller's input (a bad code, a malformed file, a wrong parameter) also derive from
:class:`ValueError`; the CLI maps those to exit code 2 and everything else to exit code 1.

A parameter value that cannot work raises a subclass of :class:`ParameterError`, one per kind of
mistake (:class:`TimeZoneError`, :class:`DateError`, :class:`DurationError`,
:class:`FrequencyError`, :class:`SensitivityError`, :class:`NumberError`, :class:`ChoiceError`,
:class:`UnsupportedLanguageError`); the checks live in :mod:`activation_kb.params`.
"""

from __future__ import annotations

__all__ = [
    "ActivationKBError",
    "InvalidCodeError",
    "CatalogueParseError",
    "ParameterError",
    "TimeZoneError",
    "DateError",
    "DurationError",
    "FrequencyError",
    "SensitivityError",
    "NumberError",
    "ChoiceError",
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


class ParameterError(ActivationKBError, ValueError):
    """Raised when a parameter value cannot work; checked before any data is read.

    ``parameter`` names the parameter (``"since"``, ``"--freq"`` ...), ``value`` is what was given.
    """

    def __init__(self, message: str, parameter: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.value = value


class TimeZoneError(ParameterError):
    """Raised when a time zone is not an IANA name such as "Europe/Paris"."""


class DateError(ParameterError):
    """Raised when a date is not one, is out of range, or ends a period before it starts."""


class DurationError(ParameterError):
    """Raised when a duration ("7D", "28D", "36h") is not one, is not positive, or is too long."""


class FrequencyError(ParameterError):
    """Raised when a bucket size is not one, is under a minute, or makes too many buckets."""


class SensitivityError(ParameterError):
    """Raised when a spike-detection sensitivity is not a number in (0, 1]."""


class NumberError(ParameterError):
    """Raised when a number (``top_n``, ``days``, ``devices`` ...) is not in its allowed range."""


class ChoiceError(ParameterError):
    """Raised when a value is not one of the names a parameter accepts (a category, a measure)."""


class UnsupportedLanguageError(ParameterError):
    """Raised when a catalogue language other than the shipped ones ("en", "fr") is asked for."""


class TelemetryError(ActivationKBError, ValueError):
    """Raised when an event export cannot be read: wrong format, bad record, unsafe XML."""


class SchemaError(ActivationKBError, ValueError):
    """Raised when a frame does not follow the schema it is declared to follow."""


def _extras() -> set[str]:
    """Return the extras the installed activation-kb distribution declares (empty if unknown)."""
    from importlib import metadata

    try:
        return set(metadata.metadata("activation-kb").get_all("Provides-Extra") or [])
    except metadata.PackageNotFoundError:
        return set()


class MissingDependencyError(ActivationKBError, ImportError):
    """Raised when an optional dependency is needed but not installed; says how to install it.

    The message names ``activation-kb[extra]`` only when the installed distribution declares
    that extra; otherwise it gives the plain ``pip install package`` command.
    """

    def __init__(self, package: str, extra: str | None, purpose: str) -> None:
        command = f"pip install {package}"
        if extra and extra in _extras():
            command = f"pip install 'activation-kb[{extra}]' (or {command})"
        super().__init__(
            f"{purpose} needs the optional dependency {package!r}, which is not installed. "
            f"Please run: {command}"
        )
        self.package = package
        self.extra = extra if extra and extra in _extras() else None
        self.command = command


class SimulationError(ActivationKBError, ValueError):
    """Raised when fleet simulation parameters or incident specs are invalid."""


class AnalysisError(ActivationKBError, ValueError):
    """Raised when counts or events given to an analysis function cannot be analysed."""


class ReportError(ActivationKBError):
    """Raised when a report run fails (a failing cell, an export error)."""


class ReportParameterError(ReportError, ParameterError):
    """Raised when a report parameter is invalid; raised before any kernel starts.

    When a general check failed, the :class:`ParameterError` of its kind is the ``__cause__``
    and its class is ``kind``.
    """

    def __init__(self, message: str, parameter: str | None = None, value: object = None,
                 kind: type[ParameterError] | None = None) -> None:
        super().__init__(message, parameter, value)
        self.kind = kind


class StoreError(ActivationKBError):
    """Raised when an event store cannot be read or written."""


class StoreLockedError(StoreError):
    """Raised when another ingest holds an event store's lock."""


class StoreVersionError(StoreError, ValueError):
    """Raised when a path is not an event store, or one written by a newer activation_kb."""
