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
Where an attempt's records disagree, the greatest value in code point order is taken, whatever
order the records come in.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema
from ..catalogue.categories import category_of
from ..deprecation import old_forms
from ..errors import AnalysisError
from ..params import check_duration

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

_NEEDED = (schema.EVENT_TIME, schema.HOST, schema.EVENT_KIND, schema.RESULT_CODE)
#: Every column the grouping reads: a frame holding them all is used as it is.
_READS = (*_NEEDED, schema.IS_SUCCESS, schema.CLIENT_NAME, schema.CMID, schema.KMS_HOST,
          schema.SITE, schema.SKU_ID, schema.TRIGGER, schema.ROLE, schema.ACTIVATION_METHOD,
          schema.MIN_COUNT)


@dataclass(frozen=True)
class AttemptTable:
    """Attempts and their errors, built by :func:`activation_attempts`.

    Attributes
    ----------
    attempts : pandas.DataFrame
        One row per attempt: ``attempt`` (id), ``time`` (first record, UTC), ``device``,
        ``failed``, ``records`` (event records of the attempt) and one column per
        :data:`DIMENSIONS` (empty string when unknown).
    errors : pandas.DataFrame
        One row per (failed attempt, code): ``attempt``, ``time`` (first record with the code),
        ``device``, ``code``, ``category`` and the attempt's dimensions.
    """

    attempts: pd.DataFrame
    errors: pd.DataFrame

    @property
    def records(self) -> int:
        """Number of event records the attempts were built from."""
        return int(self.attempts["records"].sum())

    @property
    def devices(self) -> int:
        """Number of distinct devices that made at least one attempt."""
        return int(self.attempts["device"].nunique())

    @old_forms(renamed={"start": "since", "end": "until"})
    def between(self, since: pd.Timestamp | None, until: pd.Timestamp | None) -> AttemptTable:
        """Return the attempts that started in ``[since, until)``, with their errors.

        Cheaper than grouping the records of the period again, and an attempt stays whole: it
        belongs where it started.

        Parameters
        ----------
        since, until : pandas.Timestamp or None
            UTC bounds; None leaves that side open.

        Returns
        -------
        AttemptTable
        """
        keep = pd.Series(True, index=self.attempts.index)
        if since is not None:
            keep &= self.attempts["time"] >= since
        if until is not None:
            keep &= self.attempts["time"] < until
        attempts = self.attempts[keep.to_numpy()]
        errors = self.errors[self.errors["attempt"].isin(attempts["attempt"]).to_numpy()]
        return AttemptTable(attempts=attempts.reset_index(drop=True),
                            errors=errors.reset_index(drop=True))


def _factorize(values: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Codes (int32, -1 for missing or empty) and uniques (Arrow text) of ``values`` at ``rows``.

    Categorical columns use their codes (and their categories as Arrow text when they are);
    pyarrow strings are dictionary-encoded by pyarrow (about twice as fast as pandas.factorize
    on millions of rows); anything else by pandas. The uniques stay Arrow text: as Python
    strings, folding a day's machine names took 7 % of a Dask task.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, uniques = _held(values.cat.codes.to_numpy()[rows].astype(np.int32),
                               _text(values.cat.categories))
    elif isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        chunked = values.array.__arrow_array__()
        if chunked.null_count == len(chunked):  # a column no record fills
            return np.full(rows.size, -1, dtype=np.int32), pa.array([], pa.string())
        # the whole column encoded, its codes taken: taking the rows' text first copied every
        # string of the column (9 columns at once, the peak of a Dask task)
        whole = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
        encoded = pc.dictionary_encode(whole)
        codes, uniques = _held(pc.fill_null(encoded.indices, -1).to_numpy()[rows]
                               .astype(np.int32), encoded.dictionary)
    else:
        taken = values.iloc[rows]
        codes, found = pd.factorize(taken, use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int32)
        uniques = _text(np.asarray(found, dtype=object))
    empty = _position(uniques, "")
    if empty >= 0:
        codes = np.where(codes == empty, -1, codes)
    return codes, uniques


def _held(codes: np.ndarray, uniques: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Keep only the uniques the codes use (in the same order), the codes renumbered.

    A whole column's values (a store's categories, other records' names) would otherwise be
    folded as machine names and labelled for nothing.
    """
    held = np.bincount(codes + 1, minlength=len(uniques) + 1)[1:] > 0
    if held.all():
        return codes, _text(uniques)
    codes = np.append(np.cumsum(held, dtype=np.int32) - 1, np.int32(-1))[codes]  # -1 stays
    return codes, _text(uniques).filter(pa.array(held))


def _position(values: pa.Array, value: str) -> int:
    """Return the first position of ``value`` in ``values`` (-1 if absent)."""
    return pc.index(values, value).as_py() if len(values) else -1


def _device_names(uniques: pa.Array) -> pa.Array:
    """Lower-case machine names without their DNS domain.

    Only the names with a dot go through the regular expression, and ASCII names are
    lower-cased as ASCII (a day's 460,000 names: 84 -> 25 ms).
    """
    names = _text(uniques)
    dotted = pc.greater_equal(pc.find_substring(names, "."), 0)
    if pc.any(dotted).as_py():
        short = pc.replace_substring_regex(names.filter(dotted), r"\..*$", "")
        names = pc.replace_with_mask(names, dotted, short)
    ascii_only = pc.all(pc.string_is_ascii(names)).as_py() is not False
    return pc.ascii_lower(names) if ascii_only else pc.utf8_lower(names)


def _text(values: np.ndarray | pa.Array | pd.Index) -> pa.Array:
    """Return ``values`` as Arrow text (numbers and the like as ``str`` writes them).

    An index of Arrow-backed text (a categorical's categories) is taken as it is.
    """
    if isinstance(values, pd.Index):
        if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
            chunked = values.array.__arrow_array__()
            values = (chunked.combine_chunks() if isinstance(chunked, pa.ChunkedArray)
                      else chunked)
        else:
            values = np.asarray(values, dtype=object)
    if isinstance(values, pa.Array):
        return values if values.type == pa.string() else values.cast(pa.string())
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(np.asarray(values).astype(str), pa.string())


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    """UTC times from nanoseconds since the epoch."""
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")


def _labels(codes: np.ndarray, uniques: np.ndarray | pa.Array,
            distinct: bool = False) -> pd.Categorical:
    """Return a categorical of ``uniques[codes]``, with "" where the code is -1.

    In Arrow (categories sorted in code point order, as Python sorts): numpy sorted the
    machine names as Python objects, a third of the attempt grouping of a day of 1.4 million
    records. ``distinct``: no value of ``uniques`` comes twice (they need not be joined).
    """
    labels = pa.concat_arrays([_text(uniques), pa.array([""], pa.string())])
    picked = np.where(codes < 0, len(labels) - 1, codes)
    # only the values that occur become categories, so counts list no empty category
    used = np.flatnonzero(np.bincount(picked, minlength=len(labels)))
    taken = labels.take(pa.array(used))
    if distinct and pc.sum(pc.equal(taken, "")).as_py() in (None, 0, 1):
        # at most one "" (the appended one or a name's): the values are distinct as they are
        dictionary, indices = taken, np.arange(len(used))
    else:  # equal names join
        encoded = pc.dictionary_encode(taken)
        dictionary, indices = encoded.dictionary, encoded.indices.to_numpy()
    order = pc.array_sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    remap = np.zeros(len(labels), dtype=np.int64)
    remap[used] = rank[indices]
    categories = pd.Index(dictionary.take(pa.array(order)).to_pandas())
    return pd.Categorical.from_codes(remap[picked], dtype=schema.distinct_categories(categories),
                                     validate=False)


def _encode_columns(events: pd.DataFrame, rows: np.ndarray) -> dict[str, tuple]:
    """Codes and uniques of every text column the grouping reads, encoded on all cores.

    pyarrow's take and dictionary encoding release the GIL, so the columns encode in parallel.
    """
    columns = (schema.HOST, schema.CLIENT_NAME, schema.CMID, schema.KMS_HOST, schema.SITE,
               schema.SKU_ID, schema.TRIGGER, schema.ROLE, schema.ACTIVATION_METHOD)
    workers = max(1, min(len(columns), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = pool.map(lambda column: _factorize(events[column], rows), columns)
        return dict(zip(columns, done))


def _dimension_codes(name: str, encoded: dict, events: pd.DataFrame, rows: np.ndarray,
                     on_host: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Per-record codes and uniques of a dimension (-1 where the record does not carry it)."""
    if name == "kms_host":  # named by a 12288, or the KMS host that logged a 12290
        named, uniques = encoded[schema.KMS_HOST]
        own, own_uniques = encoded[schema.HOST]
        codes = np.where(named >= 0, named, np.where(on_host & (own >= 0), own + len(uniques), -1))
        return codes, pa.concat_arrays([uniques, own_uniques])
    if name == "edition":  # the KMS threshold a request states: 25 for clients, 5 for servers
        minimum = events[schema.MIN_COUNT].to_numpy(dtype=np.float64, na_value=np.nan)[rows]
        codes = np.where(minimum == 25, 0, np.where(minimum == 5, 1, -1))
        return codes, pa.array(["client", "server"], pa.string())
    codes, uniques = encoded[name]
    if name == "activation_method":  # "unknown" on 8198/8233: the 12288 of the attempt knows
        unknown = _position(uniques, "unknown")
        if unknown >= 0:
            codes = np.where(codes == unknown, -1, codes)
    return codes, uniques


@old_forms(positional=("window",))
def activation_attempts(
    events: pd.DataFrame, *, window: str | pd.Timedelta = ATTEMPT_WINDOW
) -> AttemptTable:
    """Group event records into activation attempts and list each failed attempt's codes.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events frame (:mod:`activation_kb.schema`); records of other kinds (status
        checks, DNS publishing, unknown IDs) are ignored.
    window : str or pandas.Timedelta
        Records of one device closer than this belong to one attempt (at most a day).

    Returns
    -------
    AttemptTable
        ``attempts`` (one row per attempt) and ``errors`` (one row per failed attempt and code);
        device, code, category and dimension columns are categorical (their categories list
        every value of the table, so ``value_counts`` on a subset shows zeros for the others).

    Raises
    ------
    AnalysisError
        When ``events`` lacks a canonical column the grouping needs.
    DurationError
        When ``window`` is not a positive duration of at most a day.

    Examples
    --------
    >>> from activation_kb import simulate_fleet
    >>> events, _ = simulate_fleet(50, 3, seed=1)
    >>> table = activation_attempts(events)
    >>> len(table.attempts) < len(events)
    True
    """
    return grouped_records(events, window=window).table


@dataclass(frozen=True)
class GroupedRecords:
    """An :class:`AttemptTable` and which records each attempt was made of.

    Attributes
    ----------
    table : AttemptTable
        The attempts (numbered 0, 1, ... in ``table.attempts["attempt"]``) and their errors.
    attempt_of : numpy.ndarray
        Per row of the events grouped, the number of its attempt (-1: not an attempt's record).
    last : numpy.ndarray
        Per attempt, the time of its last record (nanoseconds since the epoch, UTC).
    """

    table: AttemptTable
    attempt_of: np.ndarray
    last: np.ndarray


def grouped_records(events: pd.DataFrame, *,
                    window: str | pd.Timedelta = ATTEMPT_WINDOW) -> GroupedRecords:
    """Group records into attempts as :func:`activation_attempts` does, keeping which is which.

    For a caller that splits records across tasks (the Dask engine): an attempt whose records
    come within ``window`` of a slice's edge may go on in the next slice, and its records are
    grouped again with that slice's.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events frame.
    window : str or pandas.Timedelta
        As for :func:`activation_attempts`.

    Returns
    -------
    GroupedRecords
    """
    events = _canonical(events)
    window_ns = check_duration(window, "window", maximum=pd.Timedelta(days=1)).value
    kind = events[schema.EVENT_KIND]
    has_result = events[schema.RESULT_CODE].notna() | events[schema.IS_SUCCESS].notna()
    rows = np.flatnonzero(kind.isin(ATTEMPT_KINDS).to_numpy(dtype=bool) & has_result.to_numpy(bool))
    on_host = (kind.iloc[rows] == "kms_host_request").to_numpy(dtype=bool)
    encoded = _encode_columns(events, rows)
    dev, dev_names = _devices(encoded, on_host)
    t = pd.DatetimeIndex(events[schema.EVENT_TIME].iloc[rows]).as_unit("ns").asi8
    order = np.argsort(dev, kind="stable")  # records are time-ordered within a device ...
    if rows.size > 1 and not (np.diff(t) >= 0).all():  # ... unless the input was not sorted
        order = np.lexsort((t, dev))
    dev_s, t_s = dev[order], t[order]
    code = events[schema.RESULT_CODE].to_numpy(dtype=np.int64, na_value=-1)[rows][order]
    refused = events[schema.IS_SUCCESS].eq(False).fillna(False).to_numpy(dtype=bool)[rows][order]
    n = rows.size
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = (dev_s[1:] != dev_s[:-1]) | (t_s[1:] - t_s[:-1] > window_ns)
    starts = np.flatnonzero(new)
    attempts = pd.DataFrame(
        {
            "attempt": np.arange(starts.size),
            "time": _utc(t_s[starts]),
            "device": _labels(dev_s[starts], dev_names, distinct=True),
            "failed": (np.logical_or.reduceat((code > 0) | refused, starts) if n
                       else np.zeros(0, bool)),
            "records": np.diff(np.append(starts, n)),
        }
    )
    _add_dimensions(attempts, encoded, events, rows, on_host, order, starts)
    number = np.cumsum(new) - 1
    errors = _errors(attempts, number, code, t_s)
    attempt_of = np.full(len(events), -1, dtype=np.int64)
    attempt_of[rows[order]] = number
    last = t_s[np.append(starts[1:], n) - 1] if n else np.zeros(0, np.int64)
    return GroupedRecords(AttemptTable(attempts=attempts, errors=errors), attempt_of, last)


def _canonical(events: pd.DataFrame) -> pd.DataFrame:
    """Return ``events`` with every canonical column, or raise naming the missing ones."""
    if not isinstance(events, pd.DataFrame):
        raise AnalysisError(f"events must be a canonical events DataFrame, not "
                            f"{type(events).__name__}")
    missing = [c for c in _NEEDED if c not in events.columns]
    if missing:
        raise AnalysisError(
            f"events frame lacks column(s) {', '.join(missing)}; expected a canonical events frame "
            "(see activation_kb.schema)"
        )
    if set(_READS) - set(events.columns):  # the others are never read: not added
        events = schema.coerce_events(events)
    return events


def _devices(encoded: dict, on_host: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Per record, the code of the device it is about (-1: unknown), and the device names.

    The device of a KMS host's record is the client it names (by name, else by CMID).
    """
    host, host_names = encoded[schema.HOST]
    client, client_names = encoded[schema.CLIENT_NAME]
    cmid, cmids = encoded[schema.CMID]
    names = pa.concat_arrays([host_names, client_names, cmids])
    raw = np.where(
        on_host,
        np.where(client >= 0, client + len(host_names),
                 np.where(cmid >= 0, cmid + len(host_names) + len(client_names), -1)),
        host,
    )
    if not len(names):
        return np.full(raw.shape, -1, dtype=np.int64), pa.array([], pa.string())
    # in Arrow: pandas' factorize hashed the names as Python objects (8 % of a Dask task)
    folded = pc.dictionary_encode(_device_names(names))
    codes = folded.indices.to_numpy().astype(np.int64)
    return np.where(raw >= 0, codes[np.maximum(raw, 0)], -1), folded.dictionary


def _add_dimensions(attempts: pd.DataFrame, encoded: dict, events: pd.DataFrame,
                    rows: np.ndarray, on_host: np.ndarray, order: np.ndarray,
                    starts: np.ndarray) -> None:
    """Add one column per :data:`DIMENSIONS` to ``attempts``, from any record that carries it.

    Where an attempt's records disagree, the greatest value (in code point order) is taken:
    the same whatever order the records came in or were encoded in (one slice of a store or
    another, text or categories).
    """
    n = rows.size
    role, roles = encoded[schema.ROLE]
    client = _position(roles, "client")
    by_client = (role == client)[order] if client >= 0 else np.zeros(n, dtype=bool)
    for name in DIMENSIONS:
        if name == "role":  # seen in the client's own log, or only in a KMS host's log
            seen = np.logical_or.reduceat(by_client, starts) if n else np.zeros(0, bool)
            attempts[name] = pd.Categorical.from_codes(np.where(seen, 0, 1), ["client", "kms_host"])
            continue
        codes, uniques = _dimension_codes(name, encoded, events, rows, on_host)
        per = np.full(starts.size, -1, dtype=np.int64)  # none: no record carries a value
        if n and len(uniques):
            # ranks of the values in text order (-1 stays -1), the greatest per attempt
            by_text = pc.array_sort_indices(_text(uniques)).to_numpy().astype(np.int64)
            rank = np.empty(len(by_text), dtype=np.int64)
            rank[by_text] = np.arange(len(by_text))
            ranked = np.where(codes >= 0, rank[np.maximum(codes, 0)], -1)
            best = np.maximum.reduceat(ranked[order], starts)
            per = np.where(best >= 0, by_text[np.maximum(best, 0)], -1)
        attempts[name] = _labels(per, uniques)


def _errors(attempts: pd.DataFrame, attempt: np.ndarray, code: np.ndarray,
            t_s: np.ndarray) -> pd.DataFrame:
    """One row per (failed attempt, code): the first record with the code, and its dimensions."""
    fail_idx = np.flatnonzero(code > 0)
    key = attempt[fail_idx].astype(np.int64) * (1 << 32) + code[fail_idx]
    _, first = np.unique(key, return_index=True)
    picked = fail_idx[np.sort(first)]
    uniq_codes, inv = np.unique(code[picked], return_inverse=True)
    code_text = np.array([f"0x{int(v):08X}" for v in uniq_codes], dtype=object)
    category = np.array([category_of(int(v)) for v in uniq_codes], dtype=object)
    errors = pd.DataFrame(
        {
            "attempt": attempt[picked],
            "time": _utc(t_s[picked]),
            "code": (pd.Categorical.from_codes(inv, code_text) if picked.size
                     else pd.Categorical([])),
            "category": pd.Categorical(category[inv]) if picked.size else pd.Categorical([]),
        }
    )
    per_attempt = attempts.drop(columns=["attempt", "time", "failed", "records"])
    per_attempt = per_attempt.iloc[errors["attempt"]]
    return pd.concat([errors, per_attempt.reset_index(drop=True)], axis=1)
