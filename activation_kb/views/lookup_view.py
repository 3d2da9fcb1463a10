"""The lookup widget itself (needs ipywidgets; :func:`activation_kb.lookup_widget` builds it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

import ipywidgets as W
import pandas as pd

from ..catalogue.article import ACTIVATION_TYPES, LANGUAGES, cached_catalogue
from ..catalogue.categories import CATEGORY_NAMES
from ..catalogue.hresult import describe_code
from ..catalogue.search import lookup, query_code
from ..errors import InvalidCodeError
from ..l10n import plural
from .lookup_device import DeviceIndex, device_html
from .lookup_query import code_in_text, search_any_language
from .lookup_render import (
    TEXT,
    CodeActivity,
    activity_html,
    description_html,
    entry_html,
    type_label,
)

__all__ = ["LookupWidget"]

# The start of a code being typed, with or without 0x (tried only when no word matches).
_HEX_PREFIX = re.compile(r"^\s*(?:0\s*[xX]\s*)?([0-9A-Fa-f]{0,7})\s*$")
_LANGUAGE_LABELS = {"en": "English", "fr": "Français"}
# rows of controls wrap instead of being cut at the notebook's width
_ROW = W.Layout(flex_flow="row wrap", width="100%", max_width="60em")


class LookupWidget(W.VBox):
    """Search the activation error catalogue as you type; see :func:`activation_kb.lookup_widget`.

    Attributes
    ----------
    query : ipywidgets.Text
        Code in any spelling, or words; results follow every keystroke.
    language : ipywidgets.ToggleButtons
        ``"en"`` or ``"fr"``: the catalogue's text and the widget's words.
    category, activation_type : ipywidgets.Dropdown
        Filters; ``""`` means all.
    results : ipywidgets.Select
        Matching entries (value: the code); the selected one is shown in :attr:`detail`.
    status : ipywidgets.HTML
        Number of matches, or why there is none.
    detail : ipywidgets.HTML
        The selected entry (message, cause, resolution, links), or a decoded code that the
        article does not document.
    activity : ipywidgets.HTML
        With telemetry: the shown code's failures over time, devices and hosts affected.
    device : ipywidgets.HTML
        With telemetry: the machine the query names (name or CMID): state, expiry, KMS host,
        last attempts with the resolution of each error.
    matches : pandas.DataFrame
        The rows listed in :attr:`results`, after the filters.
    shown_code : str or None
        The code :attr:`detail` describes.
    shown_device : str or None
        The machine :attr:`device` describes.
    """

    def __init__(
        self,
        catalogues: Mapping[str, pd.DataFrame | None],
        activity: CodeActivity | None,
        lang: str,
        devices: DeviceIndex | None = None,
    ) -> None:
        self._catalogues = dict(catalogues)
        self._activity = activity
        self._devices = devices
        self.shown_device: str | None = None
        self._busy = False
        self.matches = pd.DataFrame()
        self.shown_code: str | None = None
        wide = {"description_width": "initial"}
        self.query = W.Text(continuous_update=True, style=wide,
                            layout=W.Layout(flex="1 1 22em", min_width="14em", max_width="40em"))
        self.language = W.ToggleButtons(
            options=[(_LANGUAGE_LABELS[code], code) for code in LANGUAGES],
            value=lang,
            style={"button_width": "7em"},
        )
        self.category = W.Dropdown(style=wide, layout=W.Layout(flex="1 1 18em", max_width="24em"))
        self.activation_type = W.Dropdown(style=wide,
                                          layout=W.Layout(flex="1 1 16em", max_width="22em"))
        self.results = W.Select(rows=8, layout=W.Layout(width="100%", max_width="52em"))
        self.status = W.HTML()
        self.detail = W.HTML(layout=W.Layout(max_width="52em", overflow="auto"))
        self.activity = W.HTML(layout=W.Layout(max_width="52em", overflow="auto"))
        self.device = W.HTML(layout=W.Layout(max_width="52em", overflow="auto"))
        for widget, css in [
            (self.query, "query"),
            (self.language, "lang"),
            (self.category, "category"),
            (self.activation_type, "type"),
            (self.results, "results"),
            (self.status, "status"),
            (self.detail, "detail"),
            (self.activity, "activity"),
            (self.device, "device"),
        ]:
            widget.add_class(f"akb-lookup-{css}")
        super().__init__(
            [
                W.HBox([self.query, self.language], layout=_ROW),
                W.HBox([self.category, self.activation_type], layout=_ROW),
                self.results,
                self.status,
                self.device,
                self.detail,
                self.activity,
            ]
        )
        self.add_class("akb-lookup")
        self._label_controls()
        self.query.observe(self._on_change, "value")
        self.category.observe(self._on_change, "value")
        self.activation_type.observe(self._on_change, "value")
        self.language.observe(self._on_language, "value")
        self.results.observe(self._on_select, "value")
        self._refresh()

    # -- reading the catalogue -------------------------------------------------------------
    @property
    def lang(self) -> str:
        """The language shown: ``"en"`` or ``"fr"``."""
        return str(self.language.value)

    def _catalogue(self) -> pd.DataFrame | None:
        return self._catalogues[self.lang]

    def _search(self, text: str) -> tuple[pd.DataFrame, str | None, str | None]:
        """Return ``(rows, uncatalogued code, error)`` for the query text."""
        catalogue = self._catalogue()
        if not text.strip():
            return self._full_catalogue(), None, None
        try:
            rows = lookup(text, lang=self.lang, catalogue=catalogue)
        except InvalidCodeError:
            rows = None
        if rows is not None and len(rows):
            return rows, None, None
        found = self._pasted_or_translated(text)
        if found is not None:
            return found
        prefix = _HEX_PREFIX.match(text)
        if prefix:  # a code being typed: the entries whose code starts with it
            full = self._full_catalogue()
            started = full[full["code"].str.startswith("0x" + prefix.group(1).upper())]
            if len(started):
                return started.reset_index(drop=True), None, None
        if rows is None:
            return self._full_catalogue().iloc[:0], None, text
        return rows, query_code(text, self.lang), None  # lookup raised for malformed hex

    def _pasted_or_translated(self, text: str) -> tuple[pd.DataFrame, str | None, None] | None:
        """Rows for a code inside pasted text, or for words of the other language; else None."""
        code = code_in_text(text)
        if code is not None:
            rows = lookup(code, lang=self.lang, catalogue=self._catalogue())
            return rows, (None if len(rows) else code), None
        if _HEX_PREFIX.match(text):
            return None
        try:
            rows = search_any_language(text, self.lang, self._catalogue())
        except InvalidCodeError:  # malformed hex: said by the caller
            return None
        return (rows, None, None) if len(rows) else None

    def _full_catalogue(self) -> pd.DataFrame:
        frame = self._catalogue()
        return (cached_catalogue(self.lang) if frame is None else frame).reset_index(drop=True)

    # -- controls --------------------------------------------------------------------------
    def _label_controls(self) -> None:
        """Set the words of the controls in the current language, keeping the filters' values."""
        text = TEXT[self.lang]
        for widget, key in [
            (self.query, "query"),
            (self.category, "category"),
            (self.activation_type, "type"),
        ]:
            widget.description = text[key]
        self.query.placeholder = text["placeholder"]
        frame = self._full_catalogue()
        labels = dict(zip(frame["category"], frame["category_label"], strict=True))
        present = [c for c in CATEGORY_NAMES if c in labels]
        present += sorted(set(labels) - set(present))
        choices = [
            (self.category, [(labels[c], c) for c in present]),
            (self.activation_type, [(type_label(t, self.lang), t) for t in ACTIVATION_TYPES]),
        ]
        self._busy = True
        try:
            for widget, options in choices:
                keep = widget.value
                widget.options = [(text["all"], ""), *options]
                widget.value = keep if keep in [value for _, value in options] else ""
        finally:
            self._busy = False

    def _on_language(self, change: dict) -> None:
        self._label_controls()
        self._refresh()

    def _on_change(self, change: dict) -> None:
        if not self._busy:
            self._refresh()

    def _on_select(self, change: dict) -> None:
        if not self._busy:
            self._show(change["new"], None)

    # -- updating --------------------------------------------------------------------------
    def _refresh(self) -> None:
        self._show_device(str(self.query.value))
        text = TEXT[self.lang]
        rows, uncatalogued, invalid = self._search(str(self.query.value))
        total = len(self._full_catalogue())
        filtered = rows
        if self.category.value:
            filtered = filtered[filtered["category"] == self.category.value]
        if self.activation_type.value:
            wanted = self.activation_type.value
            has_type = filtered["activation_types"].map(lambda types: wanted in types)
            filtered = filtered[has_type.astype(bool)]
        self.matches = filtered.reset_index(drop=True)
        keep = self.results.value
        options = [
            (f"{row.code} · {_short(row.message)}", row.code)
            for row in self.matches.itertuples(index=False)
        ]
        codes = [code for _, code in options]
        selected = keep if keep in codes else (codes[0] if codes else None)
        self._busy = True
        try:
            self.results.options = options
            self.results.value = selected
        finally:
            self._busy = False
        if invalid is not None:
            self.status.value = (
                f"<span>{escape(text['invalid'].format(query=invalid.strip()))}</span>"
            )
        elif not len(rows) and uncatalogued is None:
            self.status.value = f"<span>{escape(text['none'])}</span>"
        else:
            key = "count_filtered" if len(filtered) < len(rows) else "count"
            entries = plural(len(self.matches), text["entry"], self.lang)
            self.status.value = escape(text[key].format(n=len(self.matches), entries=entries,
                                                        total=total))
        self._show(selected, uncatalogued)

    def _show(self, code: str | None, uncatalogued: str | None) -> None:
        if code is not None:
            row = self.matches[self.matches["code"] == code].iloc[0]
            self.detail.value = entry_html(row, self.lang, describe_code(code).notes)
        elif uncatalogued is not None:
            code = uncatalogued
            self.detail.value = description_html(describe_code(code), self.lang)
        else:
            self.detail.value = ""
        self.shown_code = code
        if self._activity is None or code is None:
            self.activity.value = ""
        else:
            self.activity.value = activity_html(self._activity, code, self.lang)


    def _show_device(self, query: str) -> None:
        """Show the machine the query names (device name or CMID), if telemetry was given."""
        if self._devices is None:
            self.device.value, self.shown_device = "", None
            return
        found = self._devices.find(query)
        self.shown_device = str(found["device"].iloc[0]) if len(found) == 1 else None
        self.device.value = device_html(self._devices, query, self.lang, self._catalogue())


def _short(message: object, width: int = 72) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= width else text[: width - 1] + "…"
