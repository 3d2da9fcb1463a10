"""From spikes to incidents: what rose together, where, and what the article says to do.

:func:`explain_spikes` groups the spikes of :func:`~activation_kb.detect_spikes` that co-occur in
time and on the same machines into incidents (0x8007232B and 0xC004F074 rising together at one
site are one DNS/KMS-discovery incident), and attaches to each the documented message, cause and
resolution of its leading code, the devices affected, and the dimensions (site, KMS host, edition,
SKU) that hold most of its failures compared with their share of all attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..catalogue.categories import category_label
from ..deprecation import old_forms
from ..errors import AnalysisError, SchemaError
from ..l10n import dimension_label, format_percent, value_label
from ..params import check_duration, check_lang, check_number, check_top_n
from .attempts import DIMENSIONS, AttemptTable, _text, activation_attempts

__all__ = ["explain_spikes", "catalogue_rows", "code_text", "incident_id", "number_incidents",
           "INCIDENT_COLUMNS", "INCIDENT_KINDS", "UMBRELLA_CODES", "STATUSES"]

#: Codes that name a symptom whose cause another code of the same attempts names:
#: 0xC004F074 ("no KMS could be contacted") comes with the 12288 error of each host tried.
UMBRELLA_CODES = frozenset({"0xC004F074"})
#: Columns of the incidents frame, in order.
INCIDENT_COLUMNS = (
    "incident_id",
    "status",
    "start",
    "end",
    "detected",
    "first_seen",
    "last_seen",
    "top_code",
    "category",
    "category_label",
    "codes",
    "categories",
    "message",
    "cause",
    "resolution",
    "in_article",
    "uncatalogued_codes",
    "devices",
    "affected_devices",
    "failures",
    "excess",
    "score",
    "severity",
    "scope",
    "dimensions",
    "codes_detail",
    "spikes",
    "kind",
    "title",
)
#: Kinds of incident: codes failing more than usual; a site or KMS host whose successful
#: activations or records fell away (:mod:`activation_kb.analysis.silence`).
INCIDENT_KINDS = ("failures", "went_silent")
#: An incident is ``ongoing`` when its window reaches the end of the data, else ``ended``.
STATUSES = ("ongoing", "ended")
_DEVICES_LISTED = 20
_TOUCH = "12h"  # spikes of one code this close are one incident, wherever they are
_SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_SPIKE_COLUMNS = ("start", "end", "excess", "score", "severity")


class _Groups:
    """Union-find over spike indices."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        self.parent[self.find(i)] = self.find(j)


class _ByTime:
    """The errors and their times, to find a spike's errors in its window.

    With few spikes (up to :data:`_MASKED_SPIKES`), a mask over every error's time; with more,
    the times are sorted once and each window found by binary search: with thousands of spikes
    over millions of errors (a year of a large fleet) the masks were most of
    ``explain_spikes``.
    A spike's errors are held as their positions, and its machines as codes: the frames and
    sets of names of every spike at once took 400 MB for 21 spikes over 6.4 million errors.
    """

    def __init__(self, errors: pd.DataFrame, spikes: int) -> None:
        self.errors = errors
        # what an incident reads of its spikes' errors
        self.used = errors[[c for c in _INCIDENT_ERROR_COLUMNS if c in errors.columns]]
        self.device = _machines(errors["device"])[0]  # -1: no name, one "machine" as NaN was
        stamps = errors["time"].array
        if not isinstance(stamps, pd.arrays.DatetimeArray):
            stamps = pd.DatetimeIndex(errors["time"]).array
        if stamps.unit != "ns":
            stamps = stamps.as_unit("ns")
        times = stamps.asi8  # a view of the column's own memory when it is in ns
        self.order = None
        self.times = times
        if spikes > _MASKED_SPIKES:  # else a mask per spike: no sorted copy (76 MB at 6.4 M)
            order = np.argsort(times, kind="stable")
            self.times = times[order]
            self.order = order.astype(np.int32) if len(order) < 2**31 else order

    def window(self, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
        """Positions (in the errors' own order) of the errors in ``[start, end)``."""
        lo, hi = pd.Timestamp(start).as_unit("ns").value, pd.Timestamp(end).as_unit("ns").value
        if self.order is None:
            return np.flatnonzero((self.times >= lo) & (self.times < hi))
        first, last = np.searchsorted(self.times, [lo, hi])
        return np.sort(self.order[first:last])

    def devices(self, rows: np.ndarray) -> np.ndarray:
        """Return the machines of the errors at ``rows``, as sorted unique codes."""
        return np.unique(self.device[rows])

    def rows(self, positions: Sequence[np.ndarray]) -> pd.DataFrame:
        """Return the errors at any of ``positions`` (each once), in their order.

        A mask over every error, not a sort of the positions (an incident of millions of
        errors: a seventh of explaining the spikes of 50 million records).
        """
        if len(positions) == 1 and (len(positions[0]) < 2 or
                                    (np.diff(positions[0]) > 0).all()):
            return self.used.iloc[positions[0]]
        mask = np.zeros(len(self.used), dtype=bool)
        for rows in positions:
            mask[rows] = True
        return self.used.iloc[np.flatnonzero(mask)]


#: Up to this many spikes, a spike's errors are found by a mask over every error's time (6.4
#: million errors: 9 ms a spike); past it the times are sorted once and searched.
_MASKED_SPIKES = 50
#: The columns of a spike's errors that grouping and explaining incidents read.
_INCIDENT_ERROR_COLUMNS = ("attempt", "time", "code", "category", "device")


def _spike_rows(errors: _ByTime, spike: pd.Series, keys: list[str]) -> np.ndarray:
    """Return the positions of the errors a spike counted: its keys' values, in its window."""
    rows = errors.window(spike["start"], spike["end"])
    mask = np.ones(len(rows), dtype=bool)
    for key in keys:
        if pd.notna(spike[key]):  # spikes of several key sets: a missing key is not a filter
            mask &= (errors.errors[key].iloc[rows] == spike[key]).to_numpy(dtype=bool)
    return rows if mask.all() else rows[mask]


def catalogue_rows(lang: str = "en", catalogue: pd.DataFrame | None = None) -> dict[str, dict]:
    """Return catalogue rows by code: ``catalogue``'s, or the shipped one in ``lang``.

    Parameters
    ----------
    lang : {"en", "fr"}
        Language of the shipped catalogue, used when ``catalogue`` is None.
    catalogue : pandas.DataFrame, optional
        A frame from :func:`~activation_kb.load_catalogue` or
        :func:`~activation_kb.parse_catalogue`.

    Returns
    -------
    dict
        Code (``"0xC004F074"``) -> row as a dict.

    Raises
    ------
    SchemaError
        When ``catalogue`` is not a catalogue frame (naming what it is, or the columns it lacks).
    """
    if catalogue is None:
        from ..catalogue.article import cached_catalogue

        catalogue = cached_catalogue(check_lang(lang))
    if not isinstance(catalogue, pd.DataFrame):
        hint = (f"; to choose the language pass lang={catalogue!r}"
                if isinstance(catalogue, str) and len(catalogue) <= 5 else "")
        raise SchemaError(f"catalogue must be a catalogue DataFrame (load_catalogue(), "
                          f"parse_catalogue()), not the {type(catalogue).__name__} "
                          f"{catalogue!r}{hint}")
    missing = {"code", "message", "cause", "resolution"} - set(catalogue.columns)
    if missing:
        raise SchemaError(f"catalogue lacks column(s) {sorted(missing)}; expected a frame from "
                          "load_catalogue() or parse_catalogue()")
    return {str(r["code"]): r for r in catalogue.to_dict(orient="records")}


def code_text(code: str, rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return the message, cause, resolution and links of a code, and whether the article has it.

    ``rows`` come from :func:`catalogue_rows`. A code the article does not document gets the
    description of :func:`~activation_kb.describe_code` and an empty resolution.
    """
    row = rows.get(code)
    if row is not None:
        return {
            "message": row["message"],
            "cause": row["cause"],
            "resolution": row["resolution"],
            "in_article": True,
            "links": list(row.get("links") or []),
        }
    from ..catalogue.hresult import describe_code

    info = describe_code(code)
    name = info.symbol or info.win32_name or "no known symbol"
    facility = info.facility_name or str(info.facility)
    return {
        "message": info.message or f"{name} (facility {facility}, code {info.code_number})",
        "cause": f"Not documented in the article. {info.summary()}",
        "resolution": "",
        "in_article": False,
        "links": [],
    }


def _rank_codes(per_code: pd.DataFrame, device_sets: dict[str, np.ndarray]) -> list[str]:
    """Codes by failures; an umbrella code goes after the specific codes of the same machines.

    ``device_sets`` are each code's machines as sorted unique codes (:func:`_machines`).
    """
    specific = [c for c in per_code["code"] if c not in UMBRELLA_CODES]

    def covered(code: str) -> bool:
        mine = device_sets[code]
        return code in UMBRELLA_CODES and any(
            np.intersect1d(mine, device_sets[other], assume_unique=True).size
            >= 0.5 * max(len(mine), 1) for other in specific
        )

    ranked = per_code.assign(demoted=[covered(c) for c in per_code["code"]])
    ranked = ranked.sort_values(["demoted", "failures", "code"], ascending=[True, False, True])
    return ranked["code"].tolist()


def _profile(attempts: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """Each device's usual value of every dimension: the most frequent non-empty one.

    A table with one row per device (the Dask engine's profile) is its own profile, its
    values kept categorical (as text, a million machines' five values would take 300 MB).
    """
    devices = attempts["device"]
    if not isinstance(devices.dtype, pd.StringDtype):  # text already: not copied
        devices = devices.astype(str)
    if _distinct(devices):
        return pd.DataFrame({dim: _categories(attempts[dim]) for dim in dims},
                            index=pd.Index(devices, name="device"))
    out = pd.DataFrame(index=pd.Index(devices.unique(), name="device"))
    for dim in dims:
        known = attempts.loc[attempts[dim].astype(str) != "", ["device", dim]].astype(str)
        counts = known.groupby(["device", dim], observed=True).size().reset_index(name="n")
        usual = counts.sort_values(["n", dim], ascending=[False, True]).drop_duplicates("device")
        out[dim] = usual.set_index("device")[dim].astype(str).reindex(out.index).fillna("")
    return out


def _distinct(values: pd.Series) -> bool:
    """Whether no value of the text ``values`` comes twice.

    Counted in Arrow when the text is Arrow's: pandas' ``is_unique`` kept 91 MB for a million
    machine names.
    """
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        # from the C library, which gives a large block back when it is freed
        distinct = pc.count_distinct(pa.array(values.array), mode="all",
                                     memory_pool=pa.system_memory_pool())
        return distinct.as_py() == len(values)
    return bool(values.is_unique)


def _categories(values: pd.Series) -> pd.Categorical:
    """Return ``values`` as a categorical of text."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Categorical.from_codes(values.cat.codes.to_numpy(),
                                         values.cat.categories.astype(str))
    return pd.Categorical(values.astype(str).to_numpy())


def _machines(devices: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Return the machines of failures as a code per row, and the names the codes stand for.

    Codes, not sets of names: an incident of 500,000 machines made sets of as many Python
    strings, several times over.
    """
    if isinstance(devices.dtype, pd.CategoricalDtype):
        return devices.cat.codes.to_numpy(), devices.cat.categories
    codes, names = pd.factorize(devices)
    return codes, pd.Index(names)


class _ProfileRows:
    """Rows of a profile (one per machine) by machine code, looked up once per set of names.

    The incidents of one explanation share their machines' names (the errors' categories):
    looking every incident's machines up among the fleet's took a quarter of explaining the
    spikes of 50 million records. The profile is :func:`_profile`'s: one row per machine.
    """

    def __init__(self, profile: pd.DataFrame) -> None:
        self.profile = profile
        self._names: pd.Index | None = None
        self._rows = np.zeros(0, dtype=np.int64)

    def of(self, names: pd.Index, codes: np.ndarray) -> pd.DataFrame:
        """Return the profile's rows of the machines ``names[codes]`` (-1: no machine)."""
        if self._names is not names:
            # in Arrow, one hash of the fleet's names (pandas' lookup checked them for
            # uniqueness first, a second hash)
            found = pc.index_in(_text(names), value_set=_text(self.profile.index))
            self._names = names
            self._rows = pc.fill_null(found, -1).to_numpy().astype(np.int64)
        rows = self._rows[codes[codes >= 0]]
        return self.profile.iloc[np.sort(rows[rows >= 0])]


def _dimensions(
    failing_devices: np.ndarray, names: pd.Index, profile: _ProfileRows,
    shares: dict[str, pd.Series], top_n: int
) -> list[dict[str, Any]]:
    """Rank dimension values by the failing devices they hold beyond their share of the fleet.

    ``failing_devices`` are the machines' sorted unique codes into ``names`` (-1: a failure
    without a machine name, one machine as a set of names counted it); ``shares`` is each
    dimension's share of the fleet per value (of ``profile``).
    """
    total = len(failing_devices)
    rows: list[dict[str, Any]] = []
    if total == 0 or profile.profile.empty:
        return rows
    failing = profile.of(names, failing_devices)
    for dim, fleet in shares.items():
        for value, count in failing[dim].value_counts().items():
            # unknown (a MAK machine has no KMS host): explains nothing; a category held by
            # no failing device (a categorical profile counts every one) is not a row
            if not value or not count:
                continue
            share_fleet = float(fleet.get(value, 0.0))
            rows.append(
                {
                    "dimension": dim,
                    "value": str(value),
                    "devices": int(count),
                    "share": round(count / total, 4),
                    "fleet_share": round(share_fleet, 4),
                    "lift": round(count / total / share_fleet, 2) if share_fleet else None,
                    "excess_share": round(count / total - share_fleet, 4),
                }
            )
    rows.sort(key=lambda r: (-r["excess_share"], -r["devices"], r["dimension"], r["value"]))
    return rows[:top_n] if top_n else rows


_SCOPE_WORDS = {
    "en": ("{dim}={value} ({share} of failing devices, {fleet} of the fleet)", "fleet-wide"),
    "fr": ("{dim}\u00a0: {value} ({share} des appareils en échec, {fleet} du parc)",
           "tout le parc"),
}


def _scope(dimensions: list[dict[str, Any]], lang: str = "en") -> str:
    """Return a short text naming the dimension values that explain the incident."""
    template, everywhere = _SCOPE_WORDS[lang]
    parts = []
    seen = set()
    for row in dimensions:
        if (row["dimension"] in seen or not row["value"] or row["share"] < 0.5
                or row["excess_share"] < 0.2):
            continue
        seen.add(row["dimension"])
        parts.append(template.format(
            dim=dimension_label(row["dimension"], lang),
            value=value_label(row["dimension"], row["value"], lang),
            share=format_percent(row["share"], lang, 0),
            fleet=format_percent(row["fleet_share"], lang, 0)))
    return (" ; " if lang == "fr" else "; ").join(parts) or everywhere


@old_forms(positional=("catalogue", "lang"), renamed={"top": "top_n"})
def explain_spikes(
    spikes: pd.DataFrame,
    events: pd.DataFrame | AttemptTable,
    *,
    catalogue: pd.DataFrame | None = None,
    lang: str = "en",
    gap: str = "3D",
    overlap: float = 0.3,
    dimensions: Sequence[str] = ("site", "kms_host", "edition", "sku_id", "role"),
    top_n: int = 10,
    min_devices: int = 3,
    data_end: object = None,
) -> pd.DataFrame:
    """Group co-occurring spikes into incidents and explain each with the article.

    Parameters
    ----------
    spikes : pandas.DataFrame
        Output of :func:`~activation_kb.detect_spikes` run on
        :func:`~activation_kb.error_frequency` counts keyed by ``code`` or ``category``
        (optionally with dimensions such as ``site``); spikes of several such runs may be
        concatenated (a key a spike lacks, NA, does not filter its errors).
    events : pandas.DataFrame or AttemptTable
        The events the counts came from (or their attempt table).
    catalogue : pandas.DataFrame, optional
        Catalogue to take the text from; default the shipped catalogue in ``lang``.
    lang : {"en", "fr"}
        Language of the message, cause, resolution and category label.
    gap : str
        Spikes less than this apart may belong to one incident ("3D": a problem that pauses over
        a weekend, when the failing machines are off, stays one incident).
    overlap : float
        Two spikes less than ``gap`` apart join when at least this share of the smaller one's
        failing devices also fail in the other (the same machines failing in several ways).
        Spikes of the same code (or category) less than 12 hours apart always join: one code
        rising at two sites, or counted both fleet-wide and per site, is one incident.
    dimensions : sequence of str
        Dimensions to rank; any of :data:`activation_kb.analysis.attempts.DIMENSIONS`.
    top_n : int
        Number of ranked dimension values kept per incident (0 keeps all). (``top`` is the
        former name.)
    min_devices : int
        Spikes whose failures come from fewer machines are left out: one laptop retrying every
        2 hours at a site where its code is rare is a machine's problem, not an incident. Their
        number is in ``attrs["single_machine_spikes"]``.
    data_end : timestamp, optional
        Time of the data's last attempt, which tells an ongoing incident from an ended one;
        default the last attempt of ``events`` (an engine that passes only the failed attempts
        gives it).

    Returns
    -------
    pandas.DataFrame
        One row per incident (:data:`INCIDENT_COLUMNS`), largest excess first: its stable
        ``incident_id`` (:func:`incident_id`), its ``status`` ("ongoing" when its window reaches
        the last attempt of the data, else "ended"), the window
        (``start``, ``end``), when it was ``detected`` (the earliest alarm of its spikes) and the
        first and last failure seen in it; ``top_code`` (the code
        of most failures, an umbrella code such as 0xC004F074 after the specific code of the same
        machines), its ``category``, the article's ``message``, ``cause`` and ``resolution`` in
        ``lang`` (``in_article`` False and ``describe_code`` text for a code the article does
        not document), all ``codes`` and ``categories``, ``uncatalogued_codes``, ``devices``
        affected and the names of up to 20 of them (``affected_devices``, most failures
        first), ``failures`` (failed attempts), the largest spike's ``excess``, ``score`` and
        ``severity``, ``scope`` (the dimension values that hold most failures), ``dimensions``
        (ranked list of dicts: dimension, value, devices, share of the failing devices,
        fleet_share, lift, excess_share; a device's value is its most frequent one over all its
        attempts), ``codes_detail`` (per code: failures, devices and text), ``spikes``
        (number of spikes grouped), ``kind`` ("failures") and ``title`` ("0xC004F074 — KMS
        host unreachable"). A site or KMS host that went silent is an incident of
        :func:`~activation_kb.analysis.silence.silence_incidents` instead.

    Raises
    ------
    AnalysisError
        When ``spikes`` lacks the columns of ``detect_spikes`` output or names unknown keys.
    SchemaError
        When ``catalogue`` is not a catalogue frame (``explain_spikes(spikes, table, "fr")``
        says to pass ``lang="fr"``).
    ParameterError
        For a bad ``lang``, ``gap``, ``overlap``, ``top_n`` or ``min_devices``.
    """
    lang = check_lang(lang)
    tolerance = check_duration(gap, "gap")
    check_number(overlap, "overlap", minimum=0, maximum=1)
    top_n = 0 if top_n == 0 else check_top_n(top_n)
    min_devices = int(check_number(min_devices, "min_devices", minimum=0, integer=True))
    keys = _check_spikes(spikes, dimensions)
    table = events if isinstance(events, AttemptTable) else activation_attempts(events)
    rows = catalogue_rows(lang, catalogue)
    spikes = spikes.reset_index(drop=True)
    by_time = _ByTime(table.errors, len(spikes))
    per_spike = [_spike_rows(by_time, s, keys) for _, s in spikes.iterrows()]
    devices = [by_time.devices(rows) for rows in per_spike]
    wide = [i for i, d in enumerate(devices) if len(d) >= min_devices]
    dropped = len(spikes) - len(wide)
    if not wide:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in INCIDENT_COLUMNS})
        out.attrs["single_machine_spikes"] = dropped
        return out
    spikes = spikes.iloc[wide].reset_index(drop=True)
    per_spike = [per_spike[i] for i in wide]
    groups = _group(spikes, [devices[i] for i in wide], keys, tolerance, overlap)
    profile = _profile(table.attempts, dimensions)
    # the fleet's share of each value: the same for every incident, counted once
    shares = {dim: profile[dim].value_counts(normalize=True) for dim in profile.columns}
    lookup = _ProfileRows(profile)
    incidents = [
        _incident(spikes.iloc[ids], by_time.rows([per_spike[i] for i in ids]), lookup,
                  shares, rows, lang, top_n)
        for ids in groups
    ]
    out = pd.DataFrame(incidents)
    out["incident_id"] = [incident_id(c, s, d) for c, s, d in
                          zip(out["top_code"], out["start"], out["dimensions"])]
    if data_end is None and "time" in table.attempts.columns and len(table.attempts):
        data_end = table.attempts["time"].max()
    if data_end is not None:
        data_end = pd.Timestamp(data_end)
    out["status"] = ["ongoing" if data_end is not None and end > data_end else "ended"
                     for end in out["end"]]
    out = number_incidents(out)
    out.attrs["single_machine_spikes"] = dropped
    return out


def number_incidents(*frames: pd.DataFrame) -> pd.DataFrame:
    """Put incident frames together, largest excess first, each id once.

    Parameters
    ----------
    *frames : pandas.DataFrame
        Frames with the columns of :data:`INCIDENT_COLUMNS` and their stable
        :func:`incident_id` (:func:`explain_spikes`,
        :func:`~activation_kb.analysis.silence.silence_incidents`).

    Returns
    -------
    pandas.DataFrame
        One frame; an id that comes twice gets ``-2``, ``-3`` ...; ``attrs`` of the first frame.
    """
    kept = [f for f in frames if len(f)]
    if not kept:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in INCIDENT_COLUMNS})
    else:
        out = pd.concat([f[list(INCIDENT_COLUMNS)] for f in kept], ignore_index=True)
        out = out.sort_values(["excess", "start"], ascending=[False, True], kind="stable")
        out["incident_id"] = _unique(list(out["incident_id"]))
    out = out[list(INCIDENT_COLUMNS)].reset_index(drop=True)
    if frames:
        out.attrs.update(frames[0].attrs)
    return out


def _scope_key(dimensions: Sequence[dict[str, Any]] | None) -> str:
    """Return the language-free scope of an incident: its explaining site or KMS host, or all."""
    for row in dimensions or []:
        if (row["dimension"] in ("site", "kms_host") and row["value"] and row["share"] >= 0.5
                and row["excess_share"] >= 0.2):
            return f"{row['dimension']}={row['value']}".casefold()
    return "*"


def incident_id(top_code: str, start: object, dimensions: Sequence[dict] | None = None) -> str:
    """Return the stable id of an incident: what it is, not its rank.

    The id is made of the incident's start (UTC, to the minute), its leading code and a short
    digest of code, start and scope (the site or KMS host that explains it), so a run over 7
    days and a run over the whole quarter give the same incident the same id, one that can go
    in a ticket.

    Parameters
    ----------
    top_code : str
        The incident's leading code (``"0x8007232B"``).
    start : timestamp
        Start of its window (tz-aware, or naive UTC).
    dimensions : list of dict, optional
        Its ranked dimensions (``explain_spikes`` column ``dimensions``).

    Returns
    -------
    str
        ``"INC-20260111-0900-232B-7f3a"``: date, time, the last four digits of the code and a
        four-character digest.

    Examples
    --------
    >>> incident_id("0x8007232B", "2026-01-11 09:00")
    'INC-20260111-0900-232B-aa1a'
    """
    import hashlib

    stamp = pd.Timestamp(start)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    code = str(top_code)
    scope = _scope_key(dimensions)
    digest = hashlib.sha1(f"{code}|{stamp:%Y-%m-%dT%H:%M}|{scope}".encode()).hexdigest()[:4]
    return f"INC-{stamp:%Y%m%d-%H%M}-{code[-4:].upper()}-{digest}"


def _unique(ids: list[str]) -> list[str]:
    """Suffix repeated ids (``-2``, ``-3`` ...) in order."""
    seen: dict[str, int] = {}
    out = []
    for value in ids:
        seen[value] = seen.get(value, 0) + 1
        out.append(value if seen[value] == 1 else f"{value}-{seen[value]}")
    return out


def _check_spikes(spikes: pd.DataFrame, dimensions: Sequence[str]) -> list[str]:
    """Check the spikes frame and the dimensions; return the spikes' key columns."""
    if not isinstance(spikes, pd.DataFrame):
        raise AnalysisError(f"spikes must be the DataFrame of detect_spikes, not "
                            f"{type(spikes).__name__}")
    missing = [c for c in _SPIKE_COLUMNS if c not in spikes.columns]
    if missing:
        raise AnalysisError(
            f"spikes lacks column(s) {missing}; expected the output of detect_spikes"
        )
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown:
        raise AnalysisError(f"unknown dimension(s) {unknown}; expected some of {DIMENSIONS}")
    return [c for c in spikes.columns if c in ("code", "category", *DIMENSIONS)]


def _group(spikes: pd.DataFrame, devices: list[np.ndarray], keys: list[str],
           tolerance: pd.Timedelta, overlap: float) -> list[list[int]]:
    """Return the spikes grouped into incidents (lists of row numbers, in order).

    ``devices`` are each spike's machines as sorted unique codes (:meth:`_ByTime.devices`).
    """
    groups = _Groups(len(spikes))
    touch = pd.Timedelta(_TOUCH)
    error_keys = [k for k in keys if k in ("code", "category")]
    for i in range(len(spikes)):
        for j in range(i + 1, len(spikes)):
            a, b = spikes.iloc[i], spikes.iloc[j]
            if a["start"] > b["end"] + tolerance or b["start"] > a["end"] + tolerance:
                continue
            smaller = min(len(devices[i]), len(devices[j]))
            shared = smaller and np.intersect1d(
                devices[i], devices[j], assume_unique=True).size >= overlap * smaller
            near = a["start"] <= b["end"] + touch and b["start"] <= a["end"] + touch
            same = bool(error_keys) and all(
                pd.notna(a[k]) and a[k] == b[k] for k in error_keys
            )
            if shared or (near and same):
                groups.union(i, j)
    members: dict[int, list[int]] = {}
    for i in range(len(spikes)):
        members.setdefault(groups.find(i), []).append(i)
    return list(members.values())


def _most_failing(failing: pd.DataFrame, limit: int = _DEVICES_LISTED) -> list[str]:
    """Names of the devices with the most failed attempts (at most ``limit``).

    Ties go to the name first in code point order; failures without a machine name count as
    one machine, "nan". Counted on machine codes (an attempt is one machine's): grouping a
    million failures by machine took a sixth of explaining the spikes of 50 million records.
    """
    if failing.empty:
        return []
    _, first = np.unique(failing["attempt"].to_numpy(), return_index=True)
    machine, names = _machines(failing["device"].iloc[first])
    named = machine >= 0
    per = np.bincount(machine[named], minlength=len(names))
    held = np.flatnonzero(per)
    counts = list(zip(per[held].tolist(), names.take(held).astype(str).tolist()))
    if not named.all():
        counts.append((int((~named).sum()), "nan"))
    if len(counts) > limit:  # the limit-th largest count and those at least as large
        floor = np.partition(np.array([n for n, _ in counts]), len(counts) - limit)[
            len(counts) - limit]
        counts = [c for c in counts if c[0] >= floor]
    counts.sort(key=lambda c: (-c[0], c[1]))
    return [name for _, name in counts[:limit]]


def _incident(group, errors, profile, shares, rows, lang, top_n) -> dict[str, Any]:
    start, end = group["start"].min(), group["end"].max()
    failing = errors.drop_duplicates(["attempt", "code"])
    per_code = (
        failing.groupby("code", observed=True)
        .agg(failures=("attempt", "nunique"), devices=("device", "nunique"),
             category=("category", "first"))
        .reset_index()
    )
    machine, names = _machines(failing["device"])
    device_sets = {c: np.unique(machine[rows])
                   for c, rows in failing.groupby("code", observed=True).indices.items()}
    codes = _rank_codes(per_code, device_sets)
    top_code = codes[0]
    detail = []
    by_code = per_code.set_index("code")
    for code in codes:
        text = code_text(code, rows)
        detail.append(
            {
                "code": code,
                "category": str(by_code.loc[code, "category"]),
                "failures": int(by_code.loc[code, "failures"]),
                "devices": int(by_code.loc[code, "devices"]),
                **text,
            }
        )
    ranked = _dimensions(np.unique(machine), names, profile, shares, top_n)
    worst = max(group["severity"], key=lambda s: _SEVERITY_RANK.get(str(s), -1))
    lead = detail[0]
    categories = list(dict.fromkeys(d["category"] for d in detail))
    return {
        "start": start,
        "end": end,
        "detected": group["detected"].min() if "detected" in group.columns else pd.NaT,
        "first_seen": failing["time"].min(),
        "last_seen": failing["time"].max(),
        "top_code": top_code,
        "category": lead["category"],
        "category_label": category_label(lead["category"], lang=lang),
        "codes": codes,
        "categories": categories,
        "message": lead["message"],
        "cause": lead["cause"],
        "resolution": lead["resolution"],
        "in_article": bool(lead["in_article"]),
        "uncatalogued_codes": [d["code"] for d in detail if not d["in_article"]],
        "devices": int(failing["device"].nunique()),
        "affected_devices": _most_failing(failing),
        "failures": int(failing["attempt"].nunique()),
        "excess": float(group["excess"].max()),
        "score": float(group["score"].max()),
        "severity": str(worst),
        "scope": _scope(ranked, lang),
        "dimensions": ranked,
        "codes_detail": detail,
        "spikes": int(len(group)),
        "kind": "failures",
        "title": f"{top_code} — {category_label(lead['category'], lang=lang)}",
    }
