"""The records of each device and per-device "last record such that" reductions.

A device is the machine a record is about: the logging machine for a client's own records, the
client a KMS host names in a 12290. Names are compared case-insensitively and **with** their DNS
domain, so ``pc1.contoso.com`` and ``pc1.fabrikam.com`` are two machines. A 12290 is tied to its
client by CMID when a client record carries that CMID (and only one machine does), else by the
name it gives: the same full name, or a short name that only one known machine has.

Everything is vectorised and nothing is sorted by device: the text columns are
dictionary-encoded once by pyarrow (on all cores), and each reduction is one
``np.maximum.at`` of time ranks over the records that qualify.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ... import schema

__all__ = ["DeviceRecords", "device_records", "encode", "encode_columns", "KIND_CODES",
           "OFFICE_APP_IDS"]

#: Event kinds as small integers (the order of :data:`activation_kb.schema.EVENT_KINDS`).
KIND_CODES = {kind: i for i, kind in enumerate(schema.EVENT_KINDS)}
OFFICE_APP_IDS = ("0ff1ce15-a989-479d-af46-f275c6370663", "59a52881-a989-479d-af46-f275c6370663")
#: Text columns the device keys are made of, encoded once per frame.
TEXT_COLUMNS = (schema.HOST, schema.CLIENT_NAME, schema.CMID)


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    """Return the column as a pyarrow string array (zero-copy for pyarrow strings)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return values.array.__arrow_array__()
    data = values.astype("string").to_numpy(dtype=object, na_value=None)
    return pa.chunked_array([pa.array(data, type=pa.string())])


def encode(values: pd.Series, rows: np.ndarray | None = None,
           lower: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for missing or empty) and uniques of a text column (at ``rows``).

    With ``lower``, values that differ only by case get one code (the lower-case unique).
    """
    arr = _arrow(values)
    if rows is not None:
        arr = arr.take(pa.array(rows, pa.int64()))
    if len(arr) == 0:
        return np.zeros(0, np.int64), np.zeros(0, object)
    encoded = arr.combine_chunks().dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    dictionary = encoded.dictionary
    if lower:
        dictionary = pc.utf8_lower(dictionary)
    uniques = np.asarray(dictionary.to_numpy(zero_copy_only=False), dtype=object)
    folded, names = pd.factorize(uniques)
    names = np.asarray(names, dtype=object)
    empty = np.flatnonzero(names == "")
    if folded.size:
        folded = np.append(folded, -1)  # code -1 stays -1
        if empty.size:
            folded[folded == empty[0]] = -1
        codes = folded[codes]
    return codes, names


def encode_columns(events: pd.DataFrame, columns=TEXT_COLUMNS,
                   rows: dict[str, np.ndarray] | None = None) -> dict[str, tuple]:
    """Lower-cased codes and uniques of each text column (at ``rows[column]`` if given).

    pyarrow's dictionary encoding releases the GIL, so the columns encode in parallel.
    """
    rows = rows or {}
    workers = max(1, min(len(columns), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        done = pool.map(lambda c: encode(events[c], rows.get(c), lower=True), columns)
        return dict(zip(columns, done))


def filled(values: pd.Series) -> np.ndarray:
    """Return where a text column holds a value (its validity bitmap: no string is read).

    An empty string counts as a value here; :func:`text_at` reads it as "".
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        chunks = values.array.__arrow_array__()
        if chunks.null_count == 0:
            return np.ones(len(values), dtype=bool)
        return np.asarray(chunks.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return values.notna().to_numpy(dtype=bool)


def text_at(values: pd.Series, rows: np.ndarray, lower: bool = False) -> np.ndarray:
    """Return the text of a column at ``rows`` ("" where a row is -1 or the value missing)."""
    out = np.full(rows.size, "", dtype=object)
    hit = np.flatnonzero(rows >= 0)
    if hit.size:
        arr = _arrow(values).take(pa.array(rows[hit], pa.int64()))
        if lower:
            arr = pc.utf8_lower(arr)
        got = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
        out[hit] = np.where(pd.isna(got), "", got)
    return out


def _short(names: np.ndarray) -> np.ndarray:
    """Machine names without their DNS domain."""
    short = pc.replace_substring_regex(pa.array(names, pa.string()), r"\..*$", "")
    return np.asarray(short.to_numpy(zero_copy_only=False), dtype=object)


def kind_codes(events: pd.DataFrame) -> np.ndarray:
    """Return the event kind of every record as an integer (:data:`KIND_CODES`, -1 unknown)."""
    kind = events[schema.EVENT_KIND]
    if isinstance(kind.dtype, pd.CategoricalDtype) and list(kind.cat.categories) == list(
            schema.EVENT_KINDS):
        return kind.cat.codes.to_numpy()
    return pd.Categorical(kind.astype("string"), schema.EVENT_KINDS).codes


@dataclass
class DeviceRecords:
    """The records that are about a device, in frame order, with their device and time rank.

    ``rows[i]`` is the position in the events frame of record ``i``, ``dev[i]`` its device (an
    index into ``names``), ``t[i]`` its time (ns since the epoch, UTC) and ``rank[i]`` its
    place in time order (ties broken by frame order).
    """

    names: np.ndarray
    rows: np.ndarray
    dev: np.ndarray
    t: np.ndarray
    rank: np.ndarray
    by_rank: np.ndarray  # record index of each rank
    host_side: np.ndarray  # the record comes from a KMS host's log (12290)
    kind: np.ndarray
    codes: dict[str, tuple] = field(default_factory=dict)
    encoded_rows: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of devices."""
        return len(self.names)

    def column(self, events: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes (lower-cased) of a text column at the records, and its uniques."""
        if name not in self.codes:
            self.codes[name] = encode(events[name], lower=True)
        codes, uniques = self.codes[name]
        if codes.size == len(events):
            return codes[self.rows], uniques
        at = np.full(len(events), -1, dtype=np.int64)  # encoded on a subset of rows only
        at[self.encoded_rows[name]] = codes
        return at[self.rows], uniques

    def last(self, mask: np.ndarray) -> np.ndarray:
        """Per device, the index of its latest record where ``mask`` holds (-1: none)."""
        best = np.full(self.n, -1, dtype=np.int64)
        np.maximum.at(best, self.dev[mask], self.rank[mask])
        return np.where(best >= 0, self.by_rank[np.maximum(best, 0)], -1)

    def first(self, mask: np.ndarray) -> np.ndarray:
        """Per device, the index of its earliest record where ``mask`` holds (-1: none)."""
        big = np.iinfo(np.int64).max
        best = np.full(self.n, big, dtype=np.int64)
        np.minimum.at(best, self.dev[mask], self.rank[mask])
        return np.where(best < big, self.by_rank[np.minimum(best, self.rank.size - 1)], -1)


def device_records(events: pd.DataFrame) -> DeviceRecords:
    """Place every record that is about a client machine on its device.

    Records kept: every record a client logged (its own log) and every 12290 a KMS host logged
    about a client. A KMS host's other records (12294 ...) are not about a device.
    """
    kind = kind_codes(events)
    role = events[schema.ROLE]
    if isinstance(role.dtype, pd.CategoricalDtype):
        cats = list(role.cat.categories)
        host_role = role.cat.codes.to_numpy() == (cats.index("kms_host") if "kms_host" in cats
                                                   else -2)
    else:
        host_role = role.eq("kms_host").fillna(False).to_numpy(bool)
    on_host = kind == KIND_CODES["kms_host_request"]
    host_rows = np.flatnonzero(on_host)
    codes = encode_columns(events, rows={schema.CLIENT_NAME: host_rows})  # names only on 12290
    rows = np.flatnonzero(on_host | ~host_role)
    host_side = on_host[rows]
    host_all, host_names = codes[schema.HOST]
    dev = np.where(host_side, -1, host_all[rows])
    names = list(host_names)
    if host_side.any():
        dev = _name_host_records(codes, rows, host_side, dev, names, host_rows)
    keep = dev >= 0  # a record that names no machine at all cannot be placed
    rows, dev, host_side = rows[keep], dev[keep], host_side[keep]
    # only the names records were placed on are devices (a KMS host's own name is not one)
    used = np.zeros(len(names), bool)
    used[dev] = True
    renumber = np.cumsum(used) - 1
    dev = renumber[dev]
    names = np.asarray(names, dtype=object)[used]
    t = pd.DatetimeIndex(events[schema.EVENT_TIME]).as_unit("ns").asi8[rows]
    if t.size > 1 and not (np.diff(t) >= 0).all():
        by_rank = np.argsort(t, kind="stable")
        rank = np.empty_like(by_rank)
        rank[by_rank] = np.arange(by_rank.size)
    else:
        by_rank = rank = np.arange(t.size)
    return DeviceRecords(names=names, rows=rows, dev=dev, t=t, rank=rank, by_rank=by_rank,
                         host_side=host_side, kind=kind[rows], codes=codes,
                         encoded_rows={schema.CLIENT_NAME: host_rows})


def _name_host_records(codes, rows, host_side, dev, names, host_rows) -> np.ndarray:
    """Place each 12290 on its client: by CMID when unambiguous, else by the name it gives."""
    host_all, _ = codes[schema.HOST]
    cmid_all, cmids = codes[schema.CMID]
    client_all, client_names = codes[schema.CLIENT_NAME]
    own = rows[~host_side]
    cm, hc = cmid_all[own], host_all[own]
    known = (cm >= 0) & (hc >= 0)
    lo = np.full(len(cmids), np.iinfo(np.int64).max)
    hi = np.full(len(cmids), -1)
    np.minimum.at(lo, cm[known], hc[known])
    np.maximum.at(hi, cm[known], hc[known])
    by_cmid = np.where(lo == hi, hi, -1)  # one machine carries this CMID
    side = np.flatnonzero(host_side)
    cm = cmid_all[rows[side]]
    placed = np.where(cm >= 0, by_cmid[np.maximum(cm, 0)] if len(cmids) else -1, -1)
    # each client name given by a host: the known machine of that full name, or the only known
    # machine of that short name, or a machine of its own
    known_names = pd.Index(np.asarray(names, dtype=object))
    target = known_names.get_indexer(client_names) if len(client_names) else np.zeros(0, np.int64)
    shorts = pd.Series(_short(np.asarray(names, dtype=object)) if names else [], dtype=object)
    unique_short = shorts[~shorts.duplicated(keep=False)]
    dotless = ~pc.match_substring(pa.array(client_names, pa.string()), ".").to_numpy(
        zero_copy_only=False).astype(bool)
    by_short = pd.Index(unique_short.to_numpy()).get_indexer(client_names)
    by_short = np.where(by_short >= 0, unique_short.index.to_numpy()[np.maximum(by_short, 0)]
                        if len(unique_short) else -1, -1)
    target = np.where((target < 0) & dotless, by_short, target)
    fresh = np.flatnonzero(target < 0)
    target[fresh] = len(names) + np.arange(fresh.size)
    names.extend(np.asarray(client_names, dtype=object)[fresh].tolist())
    client = client_all[np.searchsorted(host_rows, rows[side])]  # encoded on 12290 rows
    by_name = np.where(client >= 0, target[np.maximum(client, 0)] if target.size else -1, -1)
    chosen = np.where(placed >= 0, placed, by_name)
    # no name and no placed CMID: the CMID itself names the machine
    unnamed = np.flatnonzero((chosen < 0) & (cm >= 0))
    if unnamed.size:
        used, inverse = np.unique(cm[unnamed], return_inverse=True)
        chosen[unnamed] = len(names) + inverse
        names.extend(np.asarray(cmids, dtype=object)[used].tolist())
    out = dev.copy()
    out[side] = chosen
    return out
