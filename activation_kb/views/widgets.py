"""Jupyter widgets: look up activation error codes as you type, with their activity in telemetry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..analysis.attempts import AttemptTable
from ..analysis.fleet import FleetAnalysis
from ..catalogue.article import CATALOGUE_COLUMNS, LANGUAGES, check_language
from ..deprecation import old_forms
from ..errors import AnalysisError, MissingDependencyError, SchemaError

if TYPE_CHECKING:  # pragma: no cover
    from .lookup_view import LookupWidget

__all__ = ["lookup_widget"]

# Catalogue columns the widget reads (the others: value, type text, source, details).
_NEEDED_COLUMNS = tuple(
    c for c in CATALOGUE_COLUMNS if c not in ("value", "activation_type_text", "source", "details")
)


def _require_ipywidgets() -> None:
    try:
        import ipywidgets  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "ipywidgets", None, "The lookup widget (activation_kb.lookup_widget)"
        ) from exc


def _catalogues(catalogue: object, lang: str) -> dict[str, pd.DataFrame | None]:
    """Map each language to its frame; None stands for the shipped catalogue (indexed once)."""
    if catalogue is None:
        given: dict[str, Any] = {}
    elif isinstance(catalogue, pd.DataFrame):
        given = {lang: catalogue}
    elif isinstance(catalogue, Mapping):
        given = {check_language(key): value for key, value in catalogue.items()}
    else:
        raise SchemaError(
            f"catalogue must be a catalogue frame or a mapping of language to frame, "
            f"not {type(catalogue).__name__}"
        )
    for key, frame in given.items():
        if not isinstance(frame, pd.DataFrame):
            raise SchemaError(
                f"catalogue[{key!r}] must be a catalogue frame, not {type(frame).__name__}"
            )
        missing = [column for column in _NEEDED_COLUMNS if column not in frame.columns]
        if missing:
            raise SchemaError(
                f"catalogue[{key!r}] lacks column(s) {', '.join(missing)}; expected a frame "
                "from activation_kb.load_catalogue or parse_catalogue"
            )
    return {key: given.get(key) for key in LANGUAGES}


@old_forms(positional=("events", "lang"))
def lookup_widget(
    catalogue: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    *,
    events: pd.DataFrame | AttemptTable | FleetAnalysis | None = None,
    lang: str | None = None,
) -> LookupWidget:
    """Build a widget to look up activation error codes; it is returned, not displayed.

    The text box takes a code in any spelling (``0xC004F074``, ``c004f074``, ``hr=0xC004F074``,
    ``-1073418124``) or words (``DNS``, ``horloge``) and updates the results at every keystroke:
    a code being typed (``0xC004F0``) lists the entries it starts; words are ranked by
    :func:`~activation_kb.lookup`. The language toggle switches between the English and French
    catalogue (text and widget words); two drop-downs filter by category and activation type.
    The selected entry's message, cause, resolution and links are rendered as formatted text;
    a valid code that the article does not document is decoded by
    :func:`~activation_kb.describe_code` and said to be missing from the article. With
    ``events``, the shown code's failed attempts over time (an inline SVG chart that needs no
    script or network), the number of devices affected and their host names follow; and typing
    a **device name** (full or short) or a **CMID** shows that machine's status, licence state,
    projected expiry and KMS host (:func:`~activation_kb.fleet_health`) and its last attempts
    with the resolution of each error.

    Everything from data (catalogue text, links, host names) is escaped: raw HTML in it shows as
    text, and only http(s) links are made into links.

    Parameters
    ----------
    catalogue : pandas.DataFrame or mapping of str to DataFrame, optional
        A frame from :func:`~activation_kb.load_catalogue` or
        :func:`~activation_kb.parse_catalogue`, used for ``lang``; or ``{"en": frame, "fr":
        frame}``. Languages not given use the shipped catalogue.
    events : pandas.DataFrame, AttemptTable or FleetAnalysis, optional
        Canonical events frame (e.g. ``load_events(...).events``), attempts built from it
        by :func:`~activation_kb.activation_attempts`, or an analysis (its attempts).
    lang : {"en", "fr"}, optional
        Language shown first; default the analysis' language, else English.

    Returns
    -------
    LookupWidget
        An ``ipywidgets.VBox``. Its parts are attributes, so code can drive it: ``query``
        (Text), ``language`` (ToggleButtons), ``category`` and ``activation_type`` (Dropdown),
        ``results`` (Select of codes), ``status``, ``detail``, ``activity`` and ``device``
        (HTML), and ``matches`` (the listed rows), ``shown_code`` and ``shown_device``.

    Raises
    ------
    MissingDependencyError
        When ipywidgets is not installed.
    UnsupportedLanguageError
        When ``lang`` (or a key of ``catalogue``) is not "en" or "fr".
    SchemaError
        When ``catalogue`` is not a catalogue frame (or lacks its columns).
    AnalysisError
        When ``events`` is not an events frame or lacks the columns attempts are built from.

    Examples
    --------
    >>> box = lookup_widget()
    >>> box.query.value = "c004f074"
    >>> box.shown_code
    '0xC004F074'
    """
    _require_ipywidgets()
    records = None  # the records themselves, for the machines' licence states
    if isinstance(events, FleetAnalysis):
        lang = events.lang if lang is None else lang
        records, events = events.events, events.table
    lang = check_language("en" if lang is None else lang)
    catalogues = _catalogues(catalogue, lang)
    activity = devices = None
    if events is not None:
        if not isinstance(events, (pd.DataFrame, AttemptTable)):
            raise AnalysisError(
                f"events must be a canonical events frame or an AttemptTable, not "
                f"{type(events).__name__} (for files, pass load_events(paths).events)"
            )
        from ..analysis.attempts import activation_attempts
        from .lookup_device import device_index
        from .lookup_render import code_activity

        table = events if isinstance(events, AttemptTable) else activation_attempts(events)
        activity = code_activity(table)
        devices = device_index(events if records is None else records, table)
    from .lookup_view import LookupWidget

    return LookupWidget(catalogues, activity, lang, devices)
