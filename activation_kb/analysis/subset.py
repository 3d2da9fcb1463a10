"""Part of a fleet analysis: the attempts of some sites, KMS hosts, categories, codes or times.

:func:`filter_table` keeps part of an :class:`~activation_kb.AttemptTable`; :func:`where`
(behind :meth:`FleetAnalysis.where <activation_kb.FleetAnalysis.where>`) builds the analysis of
that part from the whole one, without reading or grouping records again: counts on the same
buckets, the spikes and incidents that hold failures of the part, and a summary of it.

Filters act on attempts (``site``, ``kms_host``, time) and on their failures (``category``,
``code``): filtering by code keeps every attempt, so that failure rates keep their denominator,
and marks as failed only the attempts that failed with that code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import schema
from ..catalogue.categories import CATEGORY_NAMES
from ..catalogue.codes import normalize_code
from ..errors import DateError, ParameterError
from ..params import check_choice, check_date
from .attempts import AttemptTable
from .frequency import error_frequency
from .summary import summarize, uncatalogued

if TYPE_CHECKING:
    from .fleet import FleetAnalysis

__all__ = ["FILTERS", "check_filters", "filter_table", "where"]

#: What :func:`where` can filter by, besides time.
FILTERS = ("site", "kms_host", "category", "code")
_ONE_NS = pd.Timedelta(1, "ns")


def _values(value: object, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or not all(isinstance(v, str) for v in items):
        raise ParameterError(f"{name}={value!r}: expected a name or a list of names", name, value)
    return tuple(dict.fromkeys(items))


def check_filters(*, site: object = None, kms_host: object = None, category: object = None,
                  code: object = None) -> dict[str, tuple[str, ...]]:
    """Return the given filters as tuples of names: codes canonical, categories checked.

    Parameters
    ----------
    site, kms_host, category, code : str or list of str, optional
        The values to keep; codes in any spelling.

    Returns
    -------
    dict
        Filter name -> tuple of values, for the filters given.

    Raises
    ------
    ParameterError
        For a value that is not a name or list of names, an unknown category
        (:class:`~activation_kb.errors.ChoiceError`) or an invalid code
        (:class:`~activation_kb.InvalidCodeError`).
    """
    given = {"site": site, "kms_host": kms_host, "category": category, "code": code}
    out = {name: values for name, value in given.items()
           if (values := _values(value, name)) is not None}
    if "category" in out:
        out["category"] = tuple(check_choice(c, "category", CATEGORY_NAMES)
                                for c in out["category"])
    if "code" in out:
        out["code"] = tuple(dict.fromkeys(normalize_code(c) for c in out["code"]))
    return out


def _isin(values: pd.Series, wanted: tuple[str, ...], fold: bool = False) -> np.ndarray:
    """Rows of ``values`` (categorical or text) that are among ``wanted`` (case-folded)."""
    keys = {w.casefold() for w in wanted} if fold else set(wanted)
    if isinstance(values.dtype, pd.CategoricalDtype):
        chosen = [c for c in values.cat.categories if (str(c).casefold() if fold else c) in keys]
        return values.isin(chosen).to_numpy(dtype=bool)
    text = values.astype(str)
    return (text.str.casefold() if fold else text).isin(keys).to_numpy(dtype=bool)


def filter_table(table: AttemptTable, filters: dict[str, tuple[str, ...]],
                 since: pd.Timestamp | None = None, until: pd.Timestamp | None = None,
                 ) -> AttemptTable:
    """Keep the attempts and failures that pass ``filters`` and started in ``[since, until)``.

    Parameters
    ----------
    table : AttemptTable
        The attempts and errors.
    filters : dict
        Output of :func:`check_filters`.
    since, until : pandas.Timestamp, optional
        UTC bounds of the attempts' start.

    Returns
    -------
    AttemptTable
        Attempts kept by site, KMS host (without case) and time; their errors kept by category
        and code. With a category or code filter, ``failed`` says whether the attempt failed
        that way.
    """
    attempts = table.attempts
    keep = np.ones(len(attempts), dtype=bool)
    if since is not None:
        keep &= (attempts["time"] >= since).to_numpy(dtype=bool)
    if until is not None:
        keep &= (attempts["time"] < until).to_numpy(dtype=bool)
    for name in ("site", "kms_host"):
        if name in filters:
            keep &= _isin(attempts[name], filters[name], fold=name == "kms_host")
    attempts = attempts[keep]
    errors = table.errors[table.errors["attempt"].isin(attempts["attempt"]).to_numpy(dtype=bool)]
    for name in ("category", "code"):
        if name in filters:
            errors = errors[_isin(errors[name], filters[name])]
    if "category" in filters or "code" in filters:
        attempts = attempts.assign(failed=attempts["attempt"].isin(errors["attempt"]))
    return AttemptTable(attempts=attempts.reset_index(drop=True),
                        errors=errors.reset_index(drop=True))


def _with_failures(frame: pd.DataFrame, errors: pd.DataFrame, codes_of) -> pd.DataFrame:
    """Rows of a spikes or incidents frame whose window holds a failure ``codes_of`` accepts."""
    if frame.empty:
        return frame
    times = errors["time"]
    keep = []
    for row in frame.to_dict(orient="records"):
        mask = ((times >= row["start"]) & (times < row["end"])).to_numpy(dtype=bool)
        mask = mask & codes_of(row)
        keep.append(bool(mask.any()))
    return frame[np.asarray(keep, dtype=bool)].reset_index(drop=True)


def _keep_spikes(spikes: pd.DataFrame, errors: pd.DataFrame) -> pd.DataFrame:
    if spikes.empty:
        return spikes
    # each key column as text once, not once per spike (a filter change stays well under 1 s)
    texts = {key: errors[key].astype(str).to_numpy() for key in ("code", "category", "site")
             if key in spikes.columns and key in errors.columns}

    def match(row: dict[str, Any]) -> np.ndarray:
        mask = np.ones(len(errors), dtype=bool)
        for key, values in texts.items():
            if pd.notna(row[key]):
                mask &= values == str(row[key])
        return mask

    return _with_failures(spikes, errors, match)


def _keep_incidents(incidents: pd.DataFrame, errors: pd.DataFrame) -> pd.DataFrame:
    codes = errors["code"].astype(str)
    kept = _with_failures(incidents, errors,
                          lambda row: codes.isin([str(c) for c in row["codes"]]).to_numpy(bool))
    kept.attrs.update(incidents.attrs)
    return kept


def _grid(analysis: FleetAnalysis) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Return the span of the analysis' buckets: first start, just after the last start."""
    times = analysis.counts["time"]
    if len(times):
        return times.min().tz_convert("UTC"), times.max().tz_convert("UTC") + _ONE_NS
    return analysis.since, analysis.until


def _bounds(analysis: FleetAnalysis, since: object, until: object,
            ) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Return the view's period within the analysis' buckets (None: as the analysis)."""
    lo, hi = check_date(since, "since", tz=analysis.tz), check_date(until, "until", tz=analysis.tz)
    first, last = _grid(analysis)
    if lo is not None and first is not None:
        lo = max(lo, first)
    if hi is not None and last is not None:
        hi = min(hi, last)
    start, end = (lo if lo is not None else first), (hi if hi is not None else last)
    if start is not None and end is not None and end <= start:
        raise DateError(
            f"since={since!r}, until={until!r}: the period does not overlap the analysed "
            f"buckets ({first} to {last})", "until" if until is not None else "since",
            until if until is not None else since)
    return lo, hi


def where(analysis: FleetAnalysis, *, site: object = None, kms_host: object = None,
          category: object = None, code: object = None, since: object = None,
          until: object = None) -> FleetAnalysis:
    """Return the analysis of the part of the fleet the filters keep.

    See :meth:`FleetAnalysis.where <activation_kb.FleetAnalysis.where>` for the parameters and
    what the view holds.

    Parameters
    ----------
    analysis : FleetAnalysis
        The whole analysis (or a view of it).
    site, kms_host, category, code : str or list of str, optional
        The values to keep.
    since, until : str or timestamp, optional
        The attempts' start times to keep.

    Returns
    -------
    FleetAnalysis
        The view; its ``filters`` add these to the analysis' own.
    """
    given = check_filters(site=site, kms_host=kms_host, category=category, code=code)
    lo, hi = _bounds(analysis, since, until)
    table = filter_table(analysis.table, given, lo, hi)
    first, last = _grid(analysis)
    first, last = (lo if lo is not None else first), (hi if hi is not None else last)
    counts = {by: error_frequency(table, freq=analysis.freq, by=by, since=first, until=last,
                                  tz=analysis.tz) for by in ("category", "code")}
    incidents = _keep_incidents(analysis.incidents, table.errors)
    events = analysis.events
    if lo is not None or hi is not None:
        times = events[schema.EVENT_TIME]
        keep = (times >= (lo if lo is not None else times.min())) & (
            times < (hi if hi is not None else times.max() + _ONE_NS))
        events = events[keep.to_numpy(dtype=bool)].reset_index(drop=True)
    filters = dict(analysis.filters)
    for name, values in given.items():
        filters[name] = (tuple(v for v in filters[name] if v in values) if name in filters
                         else values)
    summary = summarize(
        table, lo if lo is not None else analysis.summary["period_start"],
        hi if hi is not None else analysis.summary["period_end"],
        kms_hosts=len({h for h in table.attempts["kms_host"].astype(str) if h}),
        events=int(table.attempts["records"].sum()), records=analysis.summary["records"],
        rejected=analysis.summary["rejected"], duplicates=analysis.summary["duplicates"],
        incidents=len(incidents),
    )
    summary["filters"] = {name: list(values) for name, values in filters.items()}
    return dataclasses.replace(
        analysis, events=events, table=table, counts=counts["category"],
        code_counts=counts["code"], spikes=_keep_spikes(analysis.spikes, table.errors),
        incidents=incidents, summary=summary, uncatalogued=uncatalogued(table),
        since=lo if lo is not None else analysis.since,
        until=hi if hi is not None else analysis.until, filters=filters,
    )
