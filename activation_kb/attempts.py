"""Activation attempts: the records Windows writes for one attempt, grouped back into one.

One failed KMS activation leaves up to four records: 12288 (the request, with the per-host
HRESULT), 8198 (slui's HRESULT, often 0xC004F074), 8233 (the rules engine's reason) on the client,
and 12290 on the KMS host. Counting records would count one failure two to four times and mix
client and host logs, so the analysis first groups records into **attempts**: the records of one
device that follow each other within ``window`` (10 minutes; retries come every 2 hours). The
device of a record is the machine it is about: the client named by a 12290 on a KMS host, the
logging machine otherwise, compared without domain suffix and case (``PARIS-WS00001.contoso.com``
and ``paris-ws00001`` are one device).

An attempt fails when any of its records carries a non-zero HRESULT; each distinct code of a
failed attempt is one **error** (so an attempt that logged 0x8007232B and 0xC004F074 is one error
of each code). Dimensions (site, KMS host, SKU, edition ...) are taken from whichever record of the
attempt carries them: the 12288 names the KMS host that the 8198 of the same attempt does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema as S
from .categories import category_of
from .errors import AnalysisError

__all__ = [
    "AttemptTable",
    "activation_attempts",
    "ATTEMPT_KINDS",
    "ATTEMPT_WINDOW",
    "DIMENSIONS",
]

#: Event kinds that belong to an activation attempt.
ATTEMPT_KINDS = (
    "kms_request",
    "kms_response",
    "kms_host_request",
    "activation_failure",
    "vl_failure",
    "adba_success",
)
#: Records of one device closer than this belong to one attempt.
ATTEMPT_WINDOW = pd.Timedelta(minutes=10)
#: Dimensions an attempt carries (besides its time, device, codes and categories): ``edition``
#: is "client" or "server" from the KMS threshold the request states (25 or 5); ``role`` is
#: "client" when the client's own log recorded the attempt, "kms_host" when only a KMS host did.
DIMENSIONS = ("site", "kms_host", "edition", "sku_id", "role", "trigger", "activation_method")

_NEEDED = (S.EVENT_TIME, S.HOST, S.EVENT_KIND, S.RESULT_CODE)


@dataclass(frozen=True)
class AttemptTable:
    """Attempts and their errors, built by :func:`activation_attempts`.

    Attributes
    ----------
    attempts : pandas.DataFrame
        One row per attempt: ``attempt`` (id), ``time`` (first record, UTC), ``device``,
        ``failed`` and one column per :data:`DIMENSIONS` (empty string when unknown).
    errors : pandas.DataFrame
        One row per (failed attempt, code): ``attempt``, ``time`` (first record with the code),
        ``device``, ``code``, ``category`` and the attempt's dimensions.
    records : int
        Number of event records the attempts were built from.
    """

    attempts: pd.DataFrame
    errors: pd.DataFrame
    records: int

    @property
    def devices(self) -> int:
        """Number of distinct devices that made at least one attempt."""
        return int(self.attempts["device"].nunique())


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Factorize strings: ``(codes, uniques)`` with -1 for missing and empty strings."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    empty = np.flatnonzero(uniques == "")
    if empty.size:
        codes = np.where(codes == empty[0], -1, codes)
    return codes.astype(np.int64), uniques


def _device_names(uniques: np.ndarray) -> np.ndarray:
    """Lower-case machine names without their DNS domain."""
    return np.array([str(u).split(".", 1)[0].lower() for u in uniques], dtype=object)


def _dimension(frame: pd.DataFrame, name: str) -> pd.Series:
    """Per-record value of a dimension (empty string or NA when the record does not carry it)."""
    if name == "kms_host":
        on_host = frame[S.ROLE].astype("string").eq("kms_host").fillna(False)
        named = frame[S.KMS_HOST].astype("string")
        return named.where(named.notna(), frame[S.HOST].astype("string").where(on_host))
    if name == "edition":
        minimum = frame[S.MIN_COUNT]
        out = pd.Series(pd.NA, index=frame.index, dtype="string")
        out[minimum.eq(5).fillna(False)] = "server"
        out[minimum.eq(25).fillna(False)] = "client"
        return out
    if name == "activation_method":  # "unknown" on 8198/8233: the 12288 of the attempt knows
        method = frame[name].astype("string")
        return method.where(method != "unknown")
    return frame[name].astype("string")


def activation_attempts(
    events: pd.DataFrame, window: str | pd.Timedelta = ATTEMPT_WINDOW
) -> AttemptTable:
    """Group event records into activation attempts and list each failed attempt's codes.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events frame (:mod:`activation_kb.schema`); records of other kinds (status
        checks, DNS publishing, unknown IDs) are ignored.
    window : str or pandas.Timedelta
        Records of one device closer than this belong to one attempt.

    Returns
    -------
    AttemptTable
        ``attempts`` (one row per attempt) and ``errors`` (one row per failed attempt and code).

    Raises
    ------
    AnalysisError
        When ``events`` lacks a canonical column the grouping needs.

    Examples
    --------
    >>> from activation_kb import simulate_fleet
    >>> events, _ = simulate_fleet(50, 3, seed=1)
    >>> table = activation_attempts(events)
    >>> len(table.attempts) < len(events)
    True
    """
    missing = [c for c in _NEEDED if c not in events.columns]
    if missing:
        raise AnalysisError(
            f"events frame lacks column(s) {', '.join(missing)}; expected a canonical events frame "
            "(see activation_kb.schema)"
        )
    events = S.coerce_events(events) if set(S.EVENT_COLUMNS) - set(events.columns) else events
    window_ns = pd.Timedelta(window).value
    kind = events[S.EVENT_KIND].astype("string")
    keep = kind.isin(ATTEMPT_KINDS).fillna(False) & (
        events[S.RESULT_CODE].notna() | events[S.IS_SUCCESS].notna()
    )
    keep = keep.to_numpy(dtype=bool)
    frame = events.loc[keep]
    on_host = (kind[keep] == "kms_host_request").to_numpy(dtype=bool)
    client = frame[S.CLIENT_NAME].astype("string").fillna(frame[S.CMID].astype("string"))
    named = pd.Series(np.where(on_host, client, frame[S.HOST].astype("string")), dtype="string")
    dev_codes, dev_uniques = _codes(named)
    names = _device_names(dev_uniques)
    dev, dev_names = pd.factorize(names[np.maximum(dev_codes, 0)])  # merge case/domain spellings
    dev = np.where(dev_codes < 0, -1, dev)
    t = pd.DatetimeIndex(frame[S.EVENT_TIME]).as_unit("ns").asi8
    order = np.argsort(dev, kind="stable")  # records are time-ordered within a device ...
    if len(t) > 1 and not (np.diff(t) >= 0).all():  # ... unless the input was not sorted
        order = np.lexsort((t, dev))
    dev_s, t_s = dev[order], t[order]
    code = frame[S.RESULT_CODE].to_numpy(dtype=np.int64, na_value=-1)[order]
    refused = frame[S.IS_SUCCESS].eq(False).fillna(False).to_numpy(dtype=bool)[order]
    failed_rec = (code > 0) | refused
    n = len(order)
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = (dev_s[1:] != dev_s[:-1]) | (t_s[1:] - t_s[:-1] > window_ns)
    starts = np.flatnonzero(new)
    attempt = np.cumsum(new) - 1
    attempts = pd.DataFrame(
        {
            "attempt": np.arange(starts.size),
            "time": pd.to_datetime(t_s[starts], utc=True),
            "device": pd.array(np.asarray(dev_names, dtype=object)[dev_s[starts]], dtype="string")
            if starts.size
            else pd.array([], dtype="string"),
            "failed": np.logical_or.reduceat(failed_rec, starts) if n else np.zeros(0, bool),
        }
    )
    seen_by_client = frame[S.ROLE].astype("string").eq("client").fillna(False).to_numpy(bool)
    for name in DIMENSIONS:
        if name == "role":  # seen in the client's own log, or only in a KMS host's log
            by_client = np.logical_or.reduceat(seen_by_client[order], starts) if n else []
            attempts[name] = pd.array(np.where(by_client, "client", "kms_host"), dtype="string")
            continue
        codes, uniques = _codes(_dimension(frame, name).reset_index(drop=True))
        per = np.maximum.reduceat(codes[order], starts) if n else np.zeros(0, np.int64)
        labels = np.append(uniques, "")
        attempts[name] = pd.array(labels[np.where(per < 0, len(uniques), per)], dtype="string")
    fail_idx = np.flatnonzero(code > 0)
    key = attempt[fail_idx].astype(np.int64) * (1 << 32) + code[fail_idx]
    _, first = np.unique(key, return_index=True)
    rows = fail_idx[np.sort(first)]
    values = code[rows]
    uniq_codes, inv = np.unique(values, return_inverse=True)
    code_text = np.array([f"0x{int(v):08X}" for v in uniq_codes], dtype=object)
    category = np.array([category_of(int(v)) for v in uniq_codes], dtype=object)
    errors = pd.DataFrame(
        {
            "attempt": attempt[rows],
            "time": pd.to_datetime(t_s[rows], utc=True),
            "code": pd.array(code_text[inv], dtype="string"),
            "category": pd.array(category[inv], dtype="string"),
        }
    )
    per_attempt = attempts.drop(columns=["attempt", "time", "failed"]).iloc[errors["attempt"]]
    errors = pd.concat([errors, per_attempt.reset_index(drop=True)], axis=1)
    return AttemptTable(attempts=attempts, errors=errors, records=n)
