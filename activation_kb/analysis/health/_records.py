"""The records of each device, sorted once, and per-device "last record such that" reductions.

A device is the machine a record is about: the logging machine for a client's own records, the
client a KMS host names in a 12290. Names are compared case-insensitively and **with** their DNS
domain, so ``pc1.contoso.com`` and ``pc1.fabrikam.com`` are two machines. A 12290 is tied to its
client by CMID when a client record carries that CMID (and only one machine does), else by the
name it gives: the same full name, or a short name that only one known machine has.

Everything is vectorised: the text columns are dictionary-encoded by pyarrow, the records sorted
by (device, time) once, and each reduction is one ``np.maximum.reduceat`` over the sorted rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ... import schema as S

__all__ = ["DeviceRecords", "device_records", "encode", "KIND_CODES"]

#: Event kinds as small integers (the order of :data:`activation_kb.schema.EVENT_KINDS`).
KIND_CODES = {kind: i for i, kind in enumerate(S.EVENT_KINDS)}
OFFICE_APP_IDS = ("0ff1ce15-a989-479d-af46-f275c6370663", "59a52881-a989-479d-af46-f275c6370663")


def _arrow(values: pd.Series) -> pa.ChunkedArray:
    """Return the column as a pyarrow string array (zero-copy for pyarrow strings)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return values.array.__arrow_array__()
    data = values.astype("string").to_numpy(dtype=object, na_value=None)
    return pa.chunked_array([pa.array(data, type=pa.string())])


def encode(values: pd.Series, rows: np.ndarray | None = None,
           lower: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for missing or empty) and uniques of a text column at ``rows``.

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
    codes = np.where(codes >= 0, folded[np.maximum(codes, 0)] if folded.size else -1, -1)
    empty = np.flatnonzero(names == "")
    if empty.size:
        codes = np.where(codes == empty[0], -1, codes)
    return codes.astype(np.int64), names


def _short(names: np.ndarray) -> np.ndarray:
    """Machine names without their DNS domain."""
    short = pc.replace_substring_regex(pa.array(names, pa.string()), r"\..*$", "")
    return np.asarray(short.to_numpy(zero_copy_only=False), dtype=object)


@dataclass
class DeviceRecords:
    """A device's records, contiguous and in time order.

    ``rows[i]`` is the position in the events frame of sorted record ``i``, ``dev[i]`` its
    device (an index into ``names``), ``t[i]`` its time (ns since the epoch, UTC); ``starts``
    are the first sorted record of each device that has records.
    """

    names: np.ndarray
    rows: np.ndarray
    dev: np.ndarray
    t: np.ndarray
    starts: np.ndarray
    seg_dev: np.ndarray  # device of each segment
    host_side: np.ndarray  # the record comes from a KMS host's log (12290)

    @property
    def n(self) -> int:
        """Number of devices."""
        return len(self.names)

    def take(self, values: np.ndarray) -> np.ndarray:
        """Return a per-record column of the events frame in sorted order."""
        return values[self.rows]

    def last(self, mask: np.ndarray) -> np.ndarray:
        """Per device, the sorted index of its last record where ``mask`` holds (-1: none)."""
        out = np.full(self.n, -1, dtype=np.int64)
        if not self.starts.size:
            return out
        idx = np.where(mask, np.arange(mask.size), -1)
        out[self.seg_dev] = np.maximum.reduceat(idx, self.starts)
        return out

    def first(self, mask: np.ndarray) -> np.ndarray:
        """Per device, the sorted index of its first record where ``mask`` holds (-1: none)."""
        out = np.full(self.n, -1, dtype=np.int64)
        if not self.starts.size:
            return out
        big = np.iinfo(np.int64).max
        idx = np.where(mask, np.arange(mask.size), big)
        found = np.minimum.reduceat(idx, self.starts)
        out[self.seg_dev] = np.where(found == big, -1, found)
        return out


def device_records(events: pd.DataFrame) -> DeviceRecords:
    """Sort the records that are about a client machine by (device, time).

    Records kept: every record a client logged (its own log) and every 12290 a KMS host logged
    about a client. A KMS host's other records (12294 ...) are not about a device.
    """
    kind = events[S.EVENT_KIND].cat.codes.to_numpy() if isinstance(
        events[S.EVENT_KIND].dtype, pd.CategoricalDtype) else pd.Categorical(
        events[S.EVENT_KIND], S.EVENT_KINDS).codes
    role = events[S.ROLE].astype(str).to_numpy() if not isinstance(
        events[S.ROLE].dtype, pd.CategoricalDtype) else np.asarray(
        events[S.ROLE].cat.categories, dtype=object)[np.maximum(events[S.ROLE].cat.codes, 0)]
    role_known = events[S.ROLE].notna().to_numpy(bool)
    on_host = kind == KIND_CODES["kms_host_request"]
    client_side = ~on_host & ~(role_known & (role == "kms_host"))
    rows = np.flatnonzero(client_side | on_host)
    host_side = on_host[rows]
    host_code, host_names = encode(events[S.HOST], rows, lower=True)
    cmid_code, cmids = encode(events[S.CMID], rows, lower=True)
    own = ~host_side
    dev = np.where(own, host_code, -1)
    names = list(host_names)
    if host_side.any():
        dev = _name_host_records(events, rows, host_side, dev, host_code, cmid_code, names)
    keep = dev >= 0  # a record that names no machine at all cannot be placed
    rows, dev, host_side = rows[keep], dev[keep], host_side[keep]
    # only the names records were placed on are devices (a KMS host's own name is not one)
    used = np.zeros(len(names), bool)
    used[dev] = True
    renumber = np.cumsum(used) - 1
    dev = renumber[dev]
    names = [name for name, u in zip(names, used) if u]
    t = pd.DatetimeIndex(events[S.EVENT_TIME].iloc[rows]).as_unit("ns").asi8 if rows.size else (
        np.zeros(0, np.int64))
    if rows.size > 1 and not (np.diff(t) >= 0).all():
        order = np.lexsort((t, dev))
    else:
        order = np.argsort(dev, kind="stable")
    rows, dev, t, host_side = rows[order], dev[order], t[order], host_side[order]
    new = np.ones(dev.size, dtype=bool)
    if dev.size > 1:
        new[1:] = dev[1:] != dev[:-1]
    starts = np.flatnonzero(new)
    return DeviceRecords(names=np.asarray(names, dtype=object), rows=rows, dev=dev, t=t,
                         starts=starts, seg_dev=dev[starts], host_side=host_side)


def _name_host_records(events, rows, host_side, dev, host_code, cmid_code, names) -> np.ndarray:
    """Place each 12290 on its client: by CMID when unambiguous, else by the name it gives."""
    own = ~host_side
    known = own & (cmid_code >= 0) & (host_code >= 0)
    n_cmid = int(cmid_code.max()) + 1 if cmid_code.size else 0
    lo = np.full(n_cmid, np.iinfo(np.int64).max)
    hi = np.full(n_cmid, -1)
    if known.any():
        pairs = pd.DataFrame({"c": cmid_code[known], "d": host_code[known]})
        span = pairs.groupby("c")["d"].agg(["min", "max"])
        lo[span.index.to_numpy()] = span["min"].to_numpy()
        hi[span.index.to_numpy()] = span["max"].to_numpy()
    by_cmid = np.where(lo == hi, hi, -1)  # one machine carries this CMID
    side = np.flatnonzero(host_side)
    cm = cmid_code[side]
    placed = np.where(cm >= 0, by_cmid[np.maximum(cm, 0)] if n_cmid else -1, -1)
    client_code, client_names = encode(events[S.CLIENT_NAME], rows[side], lower=True)
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
    by_name = np.where(client_code >= 0, target[np.maximum(client_code, 0)] if target.size else -1,
                       -1)
    chosen = np.where(placed >= 0, placed, by_name)
    # no name and no placed CMID: the CMID itself names the machine
    unnamed = np.flatnonzero((chosen < 0) & (cm >= 0))
    if unnamed.size:
        cmid_text = np.asarray(encode(events[S.CMID], rows[side[unnamed]], lower=True)[1],
                               dtype=object)
        codes = encode(events[S.CMID], rows[side[unnamed]], lower=True)[0]
        base = len(names)
        names.extend(cmid_text.tolist())
        chosen[unnamed] = base + codes
    out = dev.copy()
    out[side] = chosen
    return out
