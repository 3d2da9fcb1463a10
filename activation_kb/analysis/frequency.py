"""Error frequency over time: failed activation attempts by category, code and dimension.

Counts are built on :func:`~activation_kb.activation_attempts`, so the 12288, 8198, 8233
and 12290 records of one failed attempt count once per code, whichever logs were collected.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..deprecation import old_forms
from ..errors import AnalysisError, DateError
from ..params import check_buckets, check_choice, check_date, check_freq, check_timezone
from .attempts import DIMENSIONS, AttemptTable, activation_attempts

__all__ = ["error_frequency", "MEASURES", "KEYS", "check_timezone", "time_buckets", "to_utc",
           "count_parts", "merge_count_parts", "assemble_counts"]

#: What a bucket's ``value`` counts.
MEASURES = ("events", "devices", "rate")
#: Columns ``by`` may name.
KEYS = ("category", "code", "device", *DIMENSIONS)
_ERROR_KEYS = ("category", "code")
_CALENDAR = {"W": "W-SUN", "MS": "M"}  # weeks end on Sunday: they start on Monday


def time_buckets(times: pd.Series, freq: str, tz: str | None = None) -> pd.Series:
    """Return the start of the ``freq`` bucket of each UTC time, in time zone ``tz``.

    Parameters
    ----------
    times : pandas.Series
        tz-aware times.
    freq : str
        A fixed frequency ("15min", "h", "D" ...) or "W" (weeks starting Monday) or "MS" (months).
    tz : str, optional
        Buckets follow this zone's calendar (a day starts at local midnight); default UTC.

    Returns
    -------
    pandas.Series
        tz-aware bucket starts.
    """
    local = times.dt.tz_convert(tz or "UTC")
    if freq in _CALENDAR:
        naive = local.dt.tz_localize(None).dt.to_period(_CALENDAR[freq]).dt.start_time
        return naive.dt.tz_localize(tz or "UTC", ambiguous="NaT", nonexistent="shift_forward")
    if tz in (None, "UTC"):
        return local.dt.floor(freq)
    naive = local.dt.tz_localize(None).dt.floor(freq)
    return naive.dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


def _grid(first: pd.Timestamp, last: pd.Timestamp, freq: str, tz: str | None) -> pd.DatetimeIndex:
    zone = tz or "UTC"
    if freq in _CALENDAR:
        start = first.tz_localize(None).to_period(_CALENDAR[freq]).start_time
        stop = last.tz_localize(None).to_period(_CALENDAR[freq]).start_time
        naive = pd.period_range(start, stop, freq=_CALENDAR[freq]).start_time
        return naive.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    if zone == "UTC":
        return pd.date_range(first, last, freq=freq)
    naive = pd.date_range(first.tz_localize(None), last.tz_localize(None), freq=freq)
    return naive.tz_localize(zone, ambiguous=True, nonexistent="shift_forward").dropna().unique()


def _as_keys(by: str | Sequence[str]) -> list[str]:
    keys = [by] if isinstance(by, str) else list(by)
    bad = [k for k in keys if k not in KEYS]
    if bad or not keys or len(set(keys)) != len(keys):
        raise AnalysisError(
            f"by={by!r}: expected one or more distinct names among {', '.join(KEYS)}"
        )
    return keys


def to_utc(value: object, name: str, tz: str | None = None) -> pd.Timestamp | None:
    """Return ``value`` as a UTC timestamp (kept for callers of 0.1; use params.check_date)."""
    return check_date(value, name, tz=tz)


@old_forms(positional=("freq", "by", "measure"), renamed={"start": "since", "end": "until"})
def error_frequency(
    events: pd.DataFrame | AttemptTable,
    *,
    freq: str = "h",
    by: str | Sequence[str] = "category",
    measure: str = "events",
    since: object = None,
    until: object = None,
    tz: str | None = None,
) -> pd.DataFrame:
    """Count activation errors per time bucket and key: a tidy frame with every bucket present.

    Parameters
    ----------
    events : pandas.DataFrame or AttemptTable
        Canonical events frame, or the :class:`~activation_kb.AttemptTable` built from
        it (pass it when counting the same events several ways, to group records only once).
    freq : str
        Bucket size: "15min", "h", "6h", "D", "W" (weeks from Monday), "MS" (months) ...;
        at least one minute.
    by : str or sequence of str
        ``"category"``, ``"code"``, or a list mixing them with dimensions: ``site``,
        ``kms_host``, ``edition`` (client/server KMS threshold), ``sku_id``, ``role``,
        ``trigger``, ``activation_method``, ``device``.
    measure : {"events", "devices", "rate"}
        ``events``: failed attempts (an attempt counts once per code, or once per category,
        whatever its number of records); ``devices``: distinct devices with such a failure;
        ``rate``: failed attempts / all attempts of the bucket (within the same dimension
        values), so that a busy Monday morning is not mistaken for a rise.
    since, until : str or timestamp, optional
        Time range ``[since, until)``; naive times are in ``tz`` (UTC by default). Default: the
        span of the attempts. (``start``/``end`` are the former names.)
    tz : str, optional
        Time zone of the buckets (days start at local midnight) and of the ``time`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (bucket start), the ``by`` keys, ``value`` (the measure), ``failures``
        (failed attempts) and ``attempts`` (all attempts in the bucket and dimension values).
        Every bucket of the range is present for every key combination seen in the range, with
        0 where nothing failed. ``attrs`` repeats ``measure``, ``freq``, ``tz``, ``by`` and
        ``devices`` (distinct devices that made an attempt in the range) for information; the
        package's own functions take these as arguments, never from ``attrs``.

    Raises
    ------
    ParameterError
        For an unknown measure (:class:`~activation_kb.errors.ChoiceError`), bucket size
        (:class:`~activation_kb.errors.FrequencyError`, also when the range would hold more
        than :data:`activation_kb.params.MAX_BUCKETS` buckets), time zone or bound.
    AnalysisError
        For an unknown key in ``by``.

    See Also
    --------
    activation_kb.detect_spikes : Find rises in these counts.
    """
    measure = check_choice(measure, "measure", MEASURES)
    keys = _as_keys(by)
    freq = check_freq(freq)
    check_timezone(tz)
    lo, hi = check_date(since, "since", tz=tz), check_date(until, "until", tz=tz)
    if lo is not None and hi is not None and hi <= lo:
        raise DateError(f"until={until!r} must be after since={since!r}", "until", until)
    table = events if isinstance(events, AttemptTable) else activation_attempts(events)
    part = count_parts(table, freq, keys, lo, hi, tz, measure)
    return assemble_counts(part, freq, keys, measure, lo, hi, tz)


def count_parts(table: AttemptTable, freq: str, keys: list[str], lo: pd.Timestamp | None,
                hi: pd.Timestamp | None, tz: str | None, measure: str = "events",
                devices: bool = True) -> dict:
    """Return the additive parts of :func:`error_frequency` for the attempts of ``table``.

    Parts of disjoint attempt tables (the days of a store, on Dask workers) combine with
    :func:`merge_count_parts`; :func:`assemble_counts` turns them into the counts frame.
    Without ``devices`` the part's ``devices`` (the machines seen) is None: a caller that
    keeps them elsewhere does not pay for naming every attempt's machine.
    """
    attempts, errors = table.attempts, table.errors
    if lo is not None:
        attempts, errors = attempts[attempts["time"] >= lo], errors[errors["time"] >= lo]
    if hi is not None:
        attempts, errors = attempts[attempts["time"] < hi], errors[errors["time"] < hi]
    dims = [k for k in keys if k not in _ERROR_KEYS]
    if attempts.empty:
        return {"attempts": 0}
    a_time = time_buckets(attempts["time"], freq, tz)
    e_time = time_buckets(errors["time"], freq, tz)
    per = errors[["attempt", "device", *keys]].assign(time=e_time)
    per = per[["time", "attempt", "device", *keys]]
    per = per.drop_duplicates(["attempt", *keys])  # one attempt counts once per key value
    # grouped on the keys as they are (categories), named as text after, as the exposure is
    # (a string per failure took a twentieth of a Dask task)
    failures = per.groupby(["time", *keys], sort=False, observed=True).size()
    failures = failures.rename("failures").reset_index()
    for key in keys:
        failures[key] = failures[key].astype(str)
    # grouped as they are (categories), named as text after: a row per group, not per attempt
    exposure = attempts[dims].assign(time=a_time).groupby(
        ["time", *dims], sort=False, observed=True, dropna=False).size().rename("attempts")
    exposure = exposure.reset_index()
    for dim in dims:
        exposure[dim] = exposure[dim].astype(str)
    return {
        "attempts": int(len(attempts)),
        "first": a_time.min(), "last": a_time.max(),
        "failures": failures, "exposure": exposure,
        "combos": failures[keys].drop_duplicates(),
        "devices": pd.Series(attempts["device"].astype(str).unique()) if devices else None,
        "device_rows": (per[["time", *keys]].astype({key: str for key in keys})
                        .assign(device=per["device"].astype(str)).drop_duplicates()
                        if measure == "devices" else None),
    }


def merge_count_parts(parts: Sequence[dict]) -> dict:
    """Combine the :func:`count_parts` of disjoint attempt tables into one."""
    parts = [p for p in parts if p["attempts"]]
    if not parts:
        return {"attempts": 0}
    if len(parts) == 1:
        return parts[0]
    failures = pd.concat([p["failures"] for p in parts], ignore_index=True)
    exposure = pd.concat([p["exposure"] for p in parts], ignore_index=True)
    keys = [c for c in failures.columns if c not in ("time", "failures")]
    dims = [c for c in exposure.columns if c not in ("time", "attempts")]
    rows = [p["device_rows"] for p in parts if p["device_rows"] is not None]
    return {
        "attempts": sum(p["attempts"] for p in parts),
        "first": min(p["first"] for p in parts), "last": max(p["last"] for p in parts),
        "failures": failures.groupby(["time", *keys], sort=False)["failures"].sum()
        .reset_index(),
        "exposure": exposure.groupby(["time", *dims], sort=False)["attempts"].sum()
        .reset_index(),
        "combos": pd.concat([p["combos"] for p in parts], ignore_index=True).drop_duplicates(),
        "devices": (None if any(p["devices"] is None for p in parts)  # kept elsewhere
                    else pd.Series(pd.concat([p["devices"] for p in parts]).unique())),
        "device_rows": pd.concat(rows, ignore_index=True).drop_duplicates() if rows else None,
    }


def assemble_counts(part: dict, freq: str, keys: list[str], measure: str,
                    lo: pd.Timestamp | None, hi: pd.Timestamp | None,
                    tz: str | None) -> pd.DataFrame:
    """Return the counts frame of :func:`error_frequency` from its (merged) parts."""
    dims = [k for k in keys if k not in _ERROR_KEYS]
    out_cols = ["time", *keys, "value", "failures", "attempts"]
    if not part["attempts"]:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in out_cols})
        out["time"] = pd.Series(dtype=f"datetime64[ns, {tz or 'UTC'}]")
        out.attrs.update(measure=measure, freq=freq, tz=tz, by=keys, devices=0)
        return out
    first = part["first"] if lo is None else time_buckets(pd.Series([lo]), freq, tz).iloc[0]
    last = part["last"] if hi is None else time_buckets(
        pd.Series([hi - pd.Timedelta(1, "ns")]), freq, tz
    ).iloc[0]
    check_buckets(first, last, freq)
    grid = _grid(first, last, freq, tz)
    combos = part["combos"]
    if combos.empty:
        combos = pd.DataFrame({k: pd.Series(dtype="string") for k in keys})
    full = combos.merge(pd.DataFrame({"time": grid}), how="cross")[["time", *keys]]
    out = full.merge(part["failures"], on=["time", *keys], how="left")
    out = out.merge(part["exposure"], on=["time", *dims], how="left")
    out["failures"] = out["failures"].fillna(0).astype("int64")
    out["attempts"] = out["attempts"].fillna(0).astype("int64")
    if measure == "events":
        out["value"] = out["failures"].astype("float64")
    elif measure == "devices":
        devices = (part["device_rows"].groupby(["time", *keys], sort=False)["device"]
                   .nunique().rename("value").reset_index())
        out = out.merge(devices, on=["time", *keys], how="left")
        out["value"] = out["value"].fillna(0).astype("float64")
    else:
        share = out["failures"] / out["attempts"].where(out["attempts"] > 0)
        out["value"] = share.fillna(0.0)
    for key in keys:  # plain strings: a tidy frame users can edit, whatever the table used
        out[key] = out[key].astype(str)
    out = out.sort_values(["time", *keys], kind="stable").reset_index(drop=True)[out_cols]
    out.attrs.update(measure=measure, freq=freq, tz=tz, by=keys, devices=int(len(part["devices"])))
    return out
