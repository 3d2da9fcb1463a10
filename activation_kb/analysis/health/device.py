"""Per device: which machines are not activated, or will stop being activated soon.

:func:`fleet_health` turns the records (and optionally an inventory snapshot) into one row per
device with its licence state now, its projected expiry and a status:

=================  ===========================================================================
``expired``        activation ran out: OOT grace (the 180 days passed without renewal) or
                   Unlicensed
``notification``   grace over: Windows nags, features are reduced
``at_risk``        Licensed but expires within ``horizon`` (30 days) and its last attempt failed;
                   or not renewed for more than twice the renewal interval while reporting; or
                   silent for that long with ``horizon`` left; or never activated and in a grace
                   period (OOB, Non-genuine, Extended grace)
``unknown``        no record (nor inventory row) carries its licence state
``ok``             none of the above
=================  ===========================================================================

KMS timing (``../shared/reference/telemetry-formats.md``): a successful activation or renewal
sets the validity to 180 days from that moment; a request's 12288 (and the host's 12290)
carries the client's state *before* that request, so after a successful attempt the projected
expiry is the success time plus the validity, not the request's minutes to expiry. Without a
later success, the last record's minutes to expiry count from that record's time. Past the
validity a machine is in OOT grace for 30 days, then in Notification.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ... import schema
from ...catalogue.categories import category_of
from ...errors import AnalysisError
from ...params import check_date, check_duration, check_lang
from ._facts import NO_TIME, DeviceFacts, device_facts
from ._records import DeviceRecords
from ._source import events_of
from ._words import REASONS, days_text, fill, state_names

__all__ = ["fleet_health", "assess_fleet", "STATUSES", "HEALTH_COLUMNS", "RENEWAL", "VALIDITY"]

#: Statuses, most urgent first (the order of the rows).
STATUSES = ("expired", "notification", "at_risk", "unknown", "ok")
#: The columns of :func:`fleet_health`, in order.
HEALTH_COLUMNS = (
    "device", "product", "status", "reason", "license_state", "license_status",
    "projected_expiry", "days_left", "site", "kms_host", "role", "edition", "cmid",
    "first_record", "last_record", "silent_for", "silent", "clock_ahead", "last_success",
    "last_attempt", "last_attempt_failed", "last_failure", "last_failure_code",
    "last_failure_category", "state_source", "state_time", "assessed_at",
)
RENEWAL = pd.Timedelta(days=7)
VALIDITY = pd.Timedelta(days=180)
OOT_GRACE = pd.Timedelta(days=30)
_NS_DAY = 86_400 * 10**9
_GRACE = (2, 4, 6)


def _ns(value: pd.Timedelta | str, name: str) -> int:
    return check_duration(value, name).value


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    out = pd.DatetimeIndex(np.where(ns == NO_TIME, np.datetime64("NaT"),
                                    ns.astype("datetime64[ns]")))
    return out.tz_localize("UTC")


def default_at(last_record: np.ndarray, extra: np.ndarray | None = None) -> int:
    """Return the end of the data: the latest record, ignoring clocks that run days ahead.

    A client whose clock runs ahead stamps its records after everyone else's; the end is the
    latest per-device last record no more than two days after the 90th percentile of them.
    """
    last = last_record[last_record != NO_TIME]
    if extra is not None:
        last = np.concatenate([last, extra[extra != NO_TIME]])
    if not last.size:
        raise AnalysisError("no record carries a time: nothing to assess")
    bound = np.quantile(last, 0.9, method="higher") + 2 * _NS_DAY
    return int(last[last <= bound].max())


def _inventory_facts(inventory: Any, names: np.ndarray, cmids: np.ndarray
                     ) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the inventory's Windows rows and the device each describes (-1: a new one)."""
    from ...telemetry.inventory import load_inventory, match_devices

    frame = (inventory if isinstance(inventory, pd.DataFrame)
             else load_inventory(inventory).inventory)
    windows = frame[frame["product"] == "windows"].reset_index(drop=True)
    return windows, match_devices(windows, names, cmids)


def _combine(f: DeviceFacts, inv: pd.DataFrame, target: np.ndarray, until: int | None
             ) -> tuple[DeviceFacts, np.ndarray, np.ndarray]:
    """Add the inventory's devices and facts; the newer fact wins. Returns sources and files."""
    n_old = len(f.names)
    if until is not None:
        keep = inv["taken_at"].isna() | (inv["taken_at"] <= pd.Timestamp(until, tz="UTC"))
        inv, target = inv[keep.to_numpy(bool)].reset_index(drop=True), target[keep.to_numpy(bool)]
    fresh = np.flatnonzero(target < 0)
    if fresh.size:  # machines only the inventory knows
        add = pd.Index(inv["device"].str.lower().to_numpy()[fresh]).unique()
        pos = dict(zip(add, range(n_old, n_old + len(add))))
        target = target.copy()
        target[fresh] = [pos[x] for x in inv["device"].str.lower().to_numpy()[fresh]]
        f = _extend(f, np.asarray(add, dtype=object))
    source = np.where(f.state >= 0, "events", "").astype(object)
    files = np.full(len(f.names), "", dtype=object)
    if not len(inv):
        return f, source, files
    taken = pd.DatetimeIndex(inv["taken_at"]).as_unit("ns").asi8
    # the newest inventory row per device
    order = np.lexsort((taken, target))
    last = np.r_[target[order][1:] != target[order][:-1], True]
    rows = order[last]
    dev, t_inv = target[rows], taken[rows]
    fact_time = np.maximum(f.state_time, f.last_success)[dev]
    newer = t_inv > fact_time
    d, r = dev[newer], rows[newer]
    f.state[d] = inv["license_status"].to_numpy(dtype=np.int16, na_value=-1)[r]
    f.state_minutes[d] = inv["grace_minutes"].to_numpy(dtype=np.int64, na_value=0)[r]
    f.state_time[d] = t_inv[newer]
    f.last_success[d] = np.where(f.last_success[d] > t_inv[newer], f.last_success[d], NO_TIME)
    source[d] = "inventory"
    files[d] = inv["source_file"].astype(str).to_numpy()[r]
    seen = dev  # an inventory row is a sign of life too
    f.last_record[seen] = np.maximum(f.last_record[seen], t_inv)
    first = f.first_record[seen]
    f.first_record[seen] = np.where(first == NO_TIME, t_inv, np.minimum(first, t_inv))
    for column, attr in (("kms_host", "kms_host"), ("cmid", "cmid")):
        values = inv[column].fillna("").astype(str).str.lower().to_numpy()[rows]
        current = getattr(f, attr)
        fill = (current[dev] == "") & (values != "")
        current[dev[fill]] = values[fill]
    return f, source, files


def _extend(f: DeviceFacts, names: np.ndarray) -> DeviceFacts:
    """Facts with ``names`` appended as devices no record describes."""
    k = names.size

    def grow(values: np.ndarray, fill: Any) -> np.ndarray:
        return np.concatenate([values, np.full(k, fill, dtype=values.dtype)])

    out = {}
    for name, values in vars(f).items():
        if name == "names":
            out[name] = np.concatenate([values, names])
        elif values.dtype == object:
            out[name] = grow(values, "")
        elif values.dtype == bool:
            out[name] = grow(values, False)
        elif name in ("first_record", "last_record", "state_time", "last_success",
                      "last_attempt", "last_failure"):
            out[name] = grow(values, NO_TIME)
        else:
            out[name] = grow(values, -1)
    return DeviceFacts(**out)


def _project(f: DeviceFacts, at: int, validity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Licence state at ``at``, projected expiry (ns, NO_TIME: none) and base time per device.

    The base fact is the last success (validity from then on) unless a record carrying a state
    came after it; that record's minutes count from its time.
    """
    has_state = f.state >= 0
    has_success = f.last_success != NO_TIME
    by_success = has_success & (~has_state | (f.last_success >= f.state_time - 10 * 60 * 10**9))
    state = np.where(by_success, 1, f.state).astype(np.int16)
    end = np.where(by_success, f.last_success + validity,
                   f.state_time + f.state_minutes * 60 * 10**9)
    permanent = (state == 1) & ~by_success & (f.state_minutes <= 0)  # MAK, retail: no expiry
    oot = OOT_GRACE.value
    # projected expiry: when the activation ends (ended); for an OOT record, the validity
    # ended a grace period before the grace ends; grace states: when the grace ends
    expiry = np.where(state == 3, end - oot, end)
    expiry = np.where(permanent | ~np.isin(state, (1, 2, 3, 4, 6)) | (state < 0), NO_TIME, expiry)
    # a Notification (or Unlicensed) record says no date: the validity of the last success ran out
    lapsed = np.isin(state, (0, 5)) & has_success
    expiry = np.where(lapsed, f.last_success + validity, expiry)
    now = np.select(
        [state < 0, permanent, state == 1, state == 3, np.isin(state, _GRACE)],
        [-1, 1,
         np.where(at < end, 1, np.where(at < end + oot, 3, 5)),
         np.where(at < end, 3, 5),
         np.where(at < end, state, 5)],
        default=state,
    ).astype(np.int16)
    base = np.where(by_success, f.last_success, f.state_time)
    return now, expiry, base


def fleet_health(
    source: Any = None,
    at: Any = None,
    *,
    inventory: Any = None,
    horizon: str | pd.Timedelta = "30D",
    validity: str | pd.Timedelta = VALIDITY,
    tz: str | None = None,
    lang: str = "en",
) -> pd.DataFrame:
    """Assess every device's activation: its state now, when it expires, what to do first.

    Parameters
    ----------
    source : events frame, AttemptTable, FleetAnalysis, path(s), optional
        The records: a canonical events frame, an :class:`~activation_kb.AttemptTable` (no
        licence state: successes stand for activations), anything with an ``events`` frame, or
        what :func:`~activation_kb.load_events` reads (files, directories, globs). More kinds
        (an event store) plug in with :func:`~activation_kb.analysis.health.register_source`.
        May be None when ``inventory`` is given.
    at : str or timestamp, optional
        When to assess (naive: in ``tz``, else UTC); records after it are not used. Default:
        the end of the data (its latest record, ignoring clocks that run days ahead; records
        of such clocks are used and flagged ``clock_ahead``).
    inventory : path, list of paths or frame, optional
        Licence-state snapshots (``Get-CimInstance SoftwareLicensingProduct | Export-Csv``,
        ConfigMgr or Intune exports; see :func:`~activation_kb.load_inventory`). For each
        device the newer fact wins (records or snapshot), ``state_source`` says which. Only
        Windows rows with a product key count; Office rows are not mixed in.
    horizon : str or Timedelta
        A Licensed machine whose expiry is this close is at risk when its last attempt failed
        (or when it is silent).
    validity : str or Timedelta
        Activation validity after a successful KMS or ADBA activation.
    tz : str, optional
        Time zone of a naive ``at`` and of local times in CSV exports.
    lang : {"en", "fr"}
        Language of the ``reason`` sentences.

    Returns
    -------
    pandas.DataFrame
        One row per device (and ``product``, "windows"), most urgent first: ``status``
        (:data:`STATUSES`) and its ``reason``, ``license_state`` (named) and
        ``license_status`` (0-6) at ``at``, ``projected_expiry``, ``days_left`` (negative
        once expired), ``site``, ``kms_host`` (last used), ``role`` (client, or kms_host for a
        KMS host's own activation), ``edition`` (client or server, from the KMS threshold 25 or
        5 its requests state), ``cmid``, ``first_record``/``last_record``, ``silent_for``
        (``at`` minus its last record) and ``silent`` (longer than twice the renewal interval),
        ``clock_ahead``, ``last_success``, ``last_attempt`` and ``last_attempt_failed``,
        ``last_failure`` with its ``last_failure_code`` and catalogue
        ``last_failure_category``, ``state_source`` (events, inventory file, attempts) and
        ``state_time`` (the fact the state is projected from) and ``assessed_at`` (``at``).

    Raises
    ------
    ParameterError
        For a bad ``at`` (:class:`~activation_kb.errors.DateError`), ``horizon`` or
        ``validity`` (:class:`~activation_kb.errors.DurationError`).
    AnalysisError
        For a source it cannot read, or no data.
    TelemetryError
        For an unreadable export or inventory file (missing columns are named).

    Examples
    --------
    >>> from activation_kb import simulate_fleet
    >>> events, _ = simulate_fleet(60, 20, seed=1, incidents="none")
    >>> health = fleet_health(events)
    >>> health["status"].value_counts()[["ok", "at_risk", "unknown"]].tolist()
    [55, 1, 4]

    ``unknown``: MAK machines (no renewal to watch); ``at_risk``: a laptop that has failed to
    renew for 16 days (at home without VPN, 0x8007232B) while still reporting.
    """
    if source is None and inventory is None:
        raise AnalysisError("fleet_health needs a source of records, an inventory, or both")
    until = None if at is None else check_date(at, "at", tz=tz).value
    events, reader = events_of(source, tz) if source is not None else (None, "none")
    return assess_fleet(events, until, inventory=inventory, horizon=horizon, validity=validity,
                        reader=reader, lang=lang)


def assess_fleet(events: pd.DataFrame | None, until: int | None, *, inventory: Any = None,
                 horizon: str | pd.Timedelta = "30D", validity: str | pd.Timedelta = VALIDITY,
                 reader: str = "events frame", rec: DeviceRecords | None = None,
                 lang: str = "en") -> pd.DataFrame:
    """Run :func:`fleet_health` on a canonical frame.

    Parameters
    ----------
    events : pandas.DataFrame or None
        Canonical events (None: only the inventory).
    until : int or None
        Assessment time in ns since the epoch (None: the end of the data).
    inventory, horizon, validity
        As for :func:`fleet_health`.
    reader : str
        Which source reader produced ``events`` ("attempt table": states come from successes).
    rec : DeviceRecords, optional
        The records already placed on their devices (:func:`~._records.device_records`).
    lang : {"en", "fr"}
        Language of the reasons.

    Returns
    -------
    pandas.DataFrame
        :func:`fleet_health`'s frame.
    """
    horizon_ns, validity_ns = _ns(horizon, "horizon"), _ns(validity, "validity")
    facts = device_facts(schema.empty_events() if events is None else events, until, rec=rec)
    inv, target = (_inventory_facts(inventory, facts.names, facts.cmid) if inventory is not None
                   else (None, None))
    if inv is not None:
        facts, source_of, files = _combine(facts, inv, target, until)
    else:
        source_of = np.where(facts.state >= 0, "events", "").astype(object)
        files = np.full(len(facts.names), "", dtype=object)
    if reader == "attempt table":
        source_of = np.where(facts.last_success != NO_TIME, "attempts", source_of)
    when = until if until is not None else default_at(facts.last_record)
    return _frame(facts, when, horizon_ns, validity_ns, source_of, files, events_roles(events),
                  check_lang(lang))


def events_roles(events: pd.DataFrame | None) -> set[str]:
    """Return the lower-case names of the machines that log as KMS hosts."""
    if events is None or not len(events):
        return set()
    on_host = (events[schema.ROLE] == "kms_host").fillna(False).to_numpy(bool)
    hosts = events.loc[on_host, schema.HOST]
    return set(hosts.dropna().astype(str).str.lower().unique())


def _strings(values: np.ndarray) -> pd.arrays.ArrowStringArray:
    """Return a pyarrow-backed string array of an object array of str (converted in C++)."""
    return pd.array(pa.array(values, type=pa.large_string()), dtype=pd.StringDtype("pyarrow"))


def _categorical(values: np.ndarray, categories: tuple[str, ...] | list[str]) -> pd.Categorical:
    """Return a categorical of positions in ``categories``."""
    return pd.Categorical.from_codes(values, categories)


def _frame(f: DeviceFacts, at: int, horizon: int, validity: int, source_of: np.ndarray,
           files: np.ndarray, kms_hosts: set[str], lang: str = "en") -> pd.DataFrame:
    """Build the statuses, the reasons and the output frame (per-device work, vectorised)."""
    now, expiry, base = _project(f, at, validity)
    renewal = np.where(f.renewal_minutes > 0, f.renewal_minutes * 60 * 10**9, RENEWAL.value)
    has_last = f.last_record != NO_TIME
    silent_ns = np.where(has_last, np.maximum(at - f.last_record, 0), 0)
    silent = has_last & (silent_ns > 2 * renewal)
    left_ns = np.where(expiry != NO_TIME, expiry - at, 0)
    has_expiry = expiry != NO_TIME
    renewed = np.where(f.last_success != NO_TIME, f.last_success, f.first_record)
    stale = (now == 1) & has_expiry & ~silent & has_last & (at - renewed > 2 * renewal)
    soon = (now == 1) & has_expiry & (left_ns <= horizon)
    risk_fail = soon & f.last_attempt_failed
    risk_silent = soon & silent & ~risk_fail
    status = np.select(  # positions in STATUSES
        [now < 0, now == 5, np.isin(now, (0, 3)), np.isin(now, _GRACE),
         risk_fail | stale | risk_silent],
        [STATUSES.index("unknown"), STATUSES.index("notification"), STATUSES.index("expired"),
         STATUSES.index("at_risk"), STATUSES.index("at_risk")], default=STATUSES.index("ok"))
    days_left = np.where(has_expiry, left_ns / _NS_DAY, np.nan)
    # codes and categories: one conversion per distinct code, not per device
    uniq, inverse = np.unique(f.last_failure_code, return_inverse=True)
    texts = np.array([f"0x{int(c):08X}" if c >= 0 else "" for c in uniq], dtype=object)
    cats = np.array([category_of(t) if t else "" for t in texts], dtype=object)
    edition = np.where(f.min_count == 25, 0, np.where(f.min_count == 5, 1, 2))
    state_source = np.where(source_of == "inventory", "inventory " + files.astype(str), source_of)
    is_host = pd.Index(f.names).isin(list(kms_hosts))
    frame = pd.DataFrame({
        "device": _strings(f.names),
        "product": "windows",
        "status": _categorical(status, STATUSES),
        "license_state": _categorical(np.where(now >= 0, now, -1),
                                      list(schema.LICENSE_STATES.values())),
        "license_status": pd.arrays.IntegerArray(np.maximum(now, 0).astype(np.int8), now < 0),
        "projected_expiry": _utc(expiry),
        "days_left": days_left,
        "site": _strings(f.site),
        "kms_host": _strings(f.kms_host),
        "role": _categorical(is_host.astype(np.int8), ["client", "kms_host"]),
        "edition": _categorical(edition, ["client", "server", ""]),
        "cmid": _strings(f.cmid),
        "first_record": _utc(f.first_record),
        "last_record": _utc(f.last_record),
        "silent_for": pd.to_timedelta(np.where(has_last, silent_ns, np.iinfo(np.int64).min)),
        "silent": silent,
        "clock_ahead": has_last & (f.last_record > at),
        "last_success": _utc(f.last_success),
        "last_attempt": _utc(f.last_attempt),
        "last_attempt_failed": f.last_attempt_failed & (f.last_attempt != NO_TIME),
        "last_failure": _utc(f.last_failure),
        "last_failure_code": _strings(texts[inverse]),
        "last_failure_category": _strings(cats[inverse]),
        "state_source": _strings(state_source.astype(object)),
        "state_time": _utc(np.where(now >= 0, base, NO_TIME)),
        "assessed_at": pd.Timestamp(at, tz="UTC"),
    })
    reasons = np.full(len(frame), "", dtype=object)
    todo = np.flatnonzero(status != STATUSES.index("ok"))  # sentences for the few not ok
    if todo.size:
        reasons[todo] = _reasons(frame.iloc[todo].reset_index(drop=True), now[todo],
                                 risk_fail[todo], stale[todo], risk_silent[todo], at, lang)
    frame["reason"] = _strings(reasons)
    by_name = np.empty(len(frame), np.int64)
    by_name[np.asarray(pc.sort_indices(pa.array(f.names, pa.string())))] = np.arange(len(frame))
    order = np.lexsort((by_name, np.nan_to_num(days_left, nan=np.inf), status))
    return frame.iloc[order][list(HEALTH_COLUMNS)].reset_index(drop=True)


def _reasons(frame: pd.DataFrame, now: np.ndarray, risk_fail: np.ndarray, stale: np.ndarray,
             risk_silent: np.ndarray, at: int, lang: str = "en") -> np.ndarray:
    """One sentence per device that is not ok, in ``lang`` (templates filled column-wise)."""
    words = REASONS[lang]
    failure = frame["last_failure_code"].fillna("").astype(str).astype(object)
    columns = {
        "day": frame["projected_expiry"].dt.strftime("%Y-%m-%d").fillna("").astype(object),
        "left": days_text(frame["days_left"], lang),
        "ago": days_text(-frame["days_left"], lang),
        "silent": days_text(frame["silent_for"].dt.total_seconds() / 86400, lang),
        "renewed": days_text((pd.Timestamp(at, tz="UTC") - frame["last_success"].fillna(
            frame["first_record"])).dt.total_seconds() / 86400, lang),
        "failure": np.where(failure != "", " (" + failure + ")", ""),
        "state": state_names(now, lang),
    }
    status = frame["status"].astype(str).to_numpy(dtype=object)
    expired = status == "expired"
    oot = expired & (now == 3)
    grace = (status == "at_risk") & np.isin(now, _GRACE)
    cases = [  # later cases win: a machine that is both failing and silent says it failed
        ("unknown", status == "unknown"), ("notification", status == "notification"),
        ("oot", oot), ("expired", expired & ~oot), ("grace", grace),
        ("silent", risk_silent), ("stale", stale & ~risk_fail), ("failed", risk_fail),
    ]
    out = np.full(len(frame), "", dtype=object)
    for key, mask in cases:
        if mask.any():
            picked = {k: (v if isinstance(v, str) else np.asarray(v, dtype=object)[mask])
                      for k, v in columns.items()}
            out[mask] = fill(words[key], picked, int(mask.sum()))
    return out
