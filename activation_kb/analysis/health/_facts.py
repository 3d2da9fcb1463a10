"""Per-device facts from the records: last record, last state, last success, last failure.

Each fact is "the device's last record such that ...", one vectorised reduction over the
records sorted by (device, time) (:class:`~._records.DeviceRecords`). Times stay int64
nanoseconds (UTC) until the frame is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ... import schema
from ._records import (
    KIND_CODES,
    OFFICE_APP_IDS,
    DeviceRecords,
    device_records,
    filled,
    text_at,
)

__all__ = ["DeviceFacts", "device_facts", "NO_TIME"]

NO_TIME = np.iinfo(np.int64).min
_ATTEMPT = ("kms_request", "kms_response", "kms_host_request", "activation_failure",
            "vl_failure", "adba_success")
#: Which record of a failed attempt names its cause best: the request's own HRESULT (the
#: per-host result, e.g. 0x8007232B) before the host's answer, the rules engine's reason and
#: slui's generic code (0xC004F074).
_CAUSE_RANK = {"kms_request": 4, "kms_response": 3, "kms_host_request": 3, "vl_failure": 2,
               "activation_failure": 1, "adba_success": 0}


def _ints(values: pd.Series, na: int, dtype=np.int64) -> np.ndarray:
    return values.to_numpy(dtype=dtype, na_value=na)


@dataclass
class DeviceFacts:
    """One array per fact, indexed like ``names`` (times: int64 ns, ``NO_TIME`` when none)."""

    names: np.ndarray
    first_record: np.ndarray
    last_record: np.ndarray
    from_client: np.ndarray  # the device's own log was collected
    from_host: np.ndarray  # a KMS host's log names it
    state: np.ndarray  # last licence state carried by a record (-1: none)
    state_minutes: np.ndarray
    state_time: np.ndarray
    last_success: np.ndarray
    last_attempt: np.ndarray
    last_attempt_failed: np.ndarray
    last_failure: np.ndarray
    last_failure_code: np.ndarray  # uint32 as int64 (-1: none)
    renewal_minutes: np.ndarray  # from the host's answer (-1: unknown)
    min_count: np.ndarray  # 25 client editions, 5 servers (-1: unknown)
    site: np.ndarray  # object: "" when unknown
    kms_host: np.ndarray  # object
    cmid: np.ndarray  # object


def _times(rec: DeviceRecords, index: np.ndarray) -> np.ndarray:
    return np.where(index >= 0, rec.t[np.maximum(index, 0)] if rec.t.size else 0, NO_TIME)


def _kms_names(events: pd.DataFrame, rec: DeviceRecords) -> tuple[np.ndarray, np.ndarray]:
    """Per record, the KMS host it names (12288) or that logged it (12290)."""
    named, named_uniques = rec.column(events, schema.KMS_HOST)
    own, own_uniques = rec.column(events, schema.HOST)
    names = pd.Index(named_uniques).append(pd.Index(own_uniques)).unique()
    to_named = names.get_indexer(named_uniques) if len(named_uniques) else np.zeros(0, np.int64)
    to_own = names.get_indexer(own_uniques) if len(own_uniques) else np.zeros(0, np.int64)
    codes = np.where(named >= 0, to_named[np.maximum(named, 0)] if to_named.size else -1, -1)
    side = rec.host_side
    codes[side] = np.where(own[side] >= 0, to_own[np.maximum(own[side], 0)]
                           if to_own.size else -1, codes[side])
    return codes, np.asarray(names, dtype=object)


def device_facts(events: pd.DataFrame, until: int | None = None,
                 window_ns: int = 10 * 60 * 10**9, rec: DeviceRecords | None = None
                 ) -> DeviceFacts:
    """Reduce the records to per-device facts, using only records up to ``until`` (ns).

    Office records (an Office application ID on 8198/8233) are left out: the facts are about
    Windows activation. ``rec`` reuses records already placed on their devices.
    """
    rec = device_records(events) if rec is None else rec
    rows, kind = rec.rows, rec.kind
    code = _ints(events[schema.RESULT_CODE], -1)[rows]
    success = events[schema.IS_SUCCESS]
    ok = success.eq(True).fillna(False).to_numpy(bool)[rows]
    refused = success.eq(False).fillna(False).to_numpy(bool)[rows]
    use = ~_office(events)[rows]
    if until is not None:
        use &= rec.t <= until

    def k(name: str) -> np.ndarray:
        return kind == KIND_CODES[name]

    i_last = rec.last(use)
    i_first = rec.first(use)
    lic = _ints(events[schema.LICENSE_STATUS], -1, np.int16)[rows]
    i_state = rec.last(use & (lic >= 0))
    minutes = _ints(events[schema.MINUTES_TO_EXPIRY], -1)[rows]
    success_rec = (k("kms_response") & ok) | (k("kms_host_request") & (code == 0)) | (
        k("adba_success") & ~refused & (code <= 0))
    i_succ = rec.last(use & success_rec)
    attempt = np.isin(kind, [KIND_CODES[x] for x in _ATTEMPT]) & ((code >= 0) | ok | refused)
    failed = attempt & ((code > 0) | refused)
    i_att = rec.last(use & attempt)
    i_fail = rec.last(use & failed)
    t_att, t_fail = _times(rec, i_att), _times(rec, i_fail)
    dev = rec.dev
    # the last attempt failed when a failing record lies within the window before its last record
    near = use & failed
    near[near] = rec.t[near] >= t_att[dev[near]] - window_ns
    last_failed = rec.last(near) >= 0
    # the code that names the last failure's cause: the best-ranked record of that attempt
    rank = np.zeros(len(schema.EVENT_KINDS) + 1, np.int64)
    for name, value in _CAUSE_RANK.items():
        rank[KIND_CODES[name]] = value
    cause = use & failed
    cause[cause] = rec.t[cause] >= t_fail[dev[cause]] - window_ns
    score = np.full(rec.n, -1, np.int64)
    np.maximum.at(score, dev[cause], rank[kind[cause]] * (rows.size + 1) + rec.rank[cause])
    i_cause = np.where(score >= 0, rec.by_rank[np.maximum(score, 0) % (rows.size + 1)], -1)
    renewal = _ints(events[schema.RENEWAL_INTERVAL_MIN], -1)[rows]
    i_ren = rec.last(use & (renewal > 0))
    mc = _ints(events[schema.MIN_COUNT], -1, np.int32)[rows]
    i_mc = rec.last(use & ((mc == 25) | (mc == 5)))
    # texts of one record per device, read at that record only
    site_there = filled(events[schema.SITE])
    i_site = i_last if site_there.all() else rec.last(use & site_there[rows])
    i_kms = rec.last(use & (filled(events[schema.KMS_HOST])[rows] | rec.host_side))
    kms_row = np.where(i_kms >= 0, rows[np.maximum(i_kms, 0)], -1)
    named = text_at(events[schema.KMS_HOST], kms_row, lower=True)
    logged = text_at(events[schema.HOST], np.where(
        (i_kms >= 0) & rec.host_side[np.maximum(i_kms, 0)], kms_row, -1), lower=True)
    i_cmid = rec.last(use & filled(events[schema.CMID])[rows])
    own = np.bincount(rec.dev[use & ~rec.host_side], minlength=rec.n) > 0
    seen_by_host = np.bincount(rec.dev[use & rec.host_side], minlength=rec.n) > 0

    def at(values: np.ndarray, index: np.ndarray, na: int = -1) -> np.ndarray:
        return np.where(index >= 0, values[np.maximum(index, 0)] if values.size else na, na)

    return DeviceFacts(
        names=rec.names,
        first_record=_times(rec, i_first),
        last_record=_times(rec, i_last),
        from_client=own,
        from_host=seen_by_host,
        state=at(lic, i_state).astype(np.int16),
        state_minutes=at(minutes, i_state),
        state_time=_times(rec, i_state),
        last_success=_times(rec, i_succ),
        last_attempt=t_att,
        last_attempt_failed=last_failed,
        last_failure=t_fail,
        last_failure_code=at(code, i_cause),
        renewal_minutes=at(renewal, i_ren),
        min_count=at(mc, i_mc),
        site=text_at(events[schema.SITE], np.where(i_site >= 0, rows[np.maximum(i_site, 0)], -1)),
        kms_host=np.where(named != "", named, logged),
        cmid=text_at(events[schema.CMID], np.where(i_cmid >= 0, rows[np.maximum(i_cmid, 0)], -1),
                     lower=True),
    )


def _office(events: pd.DataFrame) -> np.ndarray:
    """Return the records whose application ID is Office's (8198/8233 carry it)."""
    app = events[schema.APP_ID]
    if not app.notna().any():
        return np.zeros(len(events), bool)
    return app.isin(OFFICE_APP_IDS).fillna(False).to_numpy(bool)
