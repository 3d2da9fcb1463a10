"""Turn model attempts into the canonical events frame: what the machines would log.

Per attempt, following the documented layouts (``shared/reference/telemetry-formats.md``):

* 12288 on the client when a request was sent or a host looked up (its HRESULT is the per-host
  result: 0x800706BA for a host that did not answer, 0x8007232B when DNS named no host);
* 12290 on the KMS host and 12289 on the client when the host answered;
* 8198 (error) on the client when the attempt failed, with the HRESULT slui reports (0xC004F074
  when no host could be contacted), and for KMS 8233 (warning) with the rules engine's reason
  (the request's HRESULT: 0x8007232B, 0x800706BA ...);
* 1003 status checks on every machine about every three days, and 12294 on each KMS host once a
  day when it re-publishes its SRV record.

A machine's own records are not collected while it is away from the corporate network
(``hidden`` windows) nor after it is retired: it goes silent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema as S
from ..catalogue.categories import category_of
from ..telemetry import EVENT_KIND_BY_ID
from ._engine import ACT_INTERVAL, MAK, NO_REQUEST, REACHED, RENEW_INTERVAL, Attempts, C
from ._fleet import APP_ID, SKU_CLIENT, SKU_SERVER, Fleet

__all__ = ["build_events", "PROVIDER", "MESSAGES"]

PROVIDER = "Microsoft-Windows-Security-SPP"
KMS_CHANNEL = "Key Management Service"
#: event id -> (first line of the message, level); the event kind is the loaders' own mapping
MESSAGES: dict[int, tuple[str, str]] = {
    1003: ("The Software Protection service has completed licensing status check.", "info"),
    8198: ("License Activation (slui.exe) failed with the following error code:", "error"),
    8233: ("The rules engine reported a failed VL activation attempt.", "warning"),
    12288: (
        "The client has sent an activation request to the key management service machine.",
        "info",
    ),
    12289: (
        "The client has processed an activation response from the key management service "
        "machine.",
        "info",
    ),
    12290: ("An activation request has been processed.", "info"),
    12294: (
        "Publishing the Key Management Service (KMS) to DNS in the 'contoso.com' domain is "
        "successful.",
        "info",
    ),
}
_IDS = np.array(sorted(MESSAGES))
_NONE = -1


def _strs(values: np.ndarray) -> pd.arrays.ArrowStringArray:
    return pd.array(pa.array(values, type=pa.large_string()), dtype=pd.StringDtype("pyarrow"))


def _cat(values: np.ndarray, column: str) -> pd.Categorical:
    """Categorical of the canonical dtype of ``column`` built from string values (fast)."""
    dtype = S.EVENT_DTYPES[column]
    cats = list(dtype.categories)
    vals = np.asarray(values, dtype=object)
    present = pd.notna(vals)
    codes = np.full(len(vals), -1, dtype=np.int16)
    if present.any():
        uniq, inv = np.unique(vals[present].astype(str), return_inverse=True)
        codes[present] = np.array([cats.index(u) for u in uniq], dtype=np.int16)[inv]
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _nullable(values: np.ndarray, mask: np.ndarray, dtype: str) -> pd.api.extensions.ExtensionArray:
    """Return a nullable array of ``values`` where ``mask`` holds, NA elsewhere."""
    numpy_dtype = pd.api.types.pandas_dtype(dtype).numpy_dtype
    return pd.arrays.IntegerArray(values.astype(numpy_dtype), ~mask)


def _collected(att, eid, t, code, dev, khost, hidden, retire):
    """Drop the records a collector never receives: of retired machines, of machines away."""
    mine = (dev >= 0) & (eid != 12290)  # the machine's own log (12290 is on the KMS host)
    di = np.maximum(dev, 0)
    drop = mine & (t >= retire[di]) if retire is not None else np.zeros(t.size, bool)
    for mask, lo, hi in hidden or ():
        drop |= mine & mask[di] & (t >= lo) & (t < hi)
    keep = ~drop
    return tuple(x[keep] for x in (att, eid, t, code, dev, khost))


def build_events(
    fleet: Fleet,
    a: Attempts,
    hosts: list[str],
    host_sites: list[str],
    born: np.ndarray,
    minutes: float,
    start: pd.Timestamp,
    rng: np.random.Generator,
    hidden: list[tuple[np.ndarray, float, float]] | None = None,
    retire: np.ndarray | None = None,
) -> pd.DataFrame:
    """Return the canonical events frame for the attempts ``a``.

    ``site`` is the site of the machine a record is about: the client's for client records and
    for 12290 (the request of a client), the KMS host's own (``host_sites``) for 12294.
    ``hidden`` lists (machine mask, start, end) windows whose client records are not collected;
    ``retire`` the minute each machine is switched off for good (nothing after it).
    """
    fail = a.code != 0
    kms = (a.path != MAK) & (a.path != NO_REQUEST)
    # (attempt indices, event id, seconds after the attempt, HRESULT per attempt)
    parts = [
        (np.flatnonzero(kms), 12288, 0.0, a.request_code),
        (np.flatnonzero(a.path == REACHED), 12290, 0.5, a.request_code),
        (np.flatnonzero(a.path == REACHED), 12289, 1.0, a.request_code),
        (np.flatnonzero(fail), 8198, 2.0, a.code),
        (np.flatnonzero(fail & (a.path != MAK)), 8233, 3.0, a.request_code),
    ]
    att = np.concatenate([p[0] for p in parts])
    eid = np.concatenate([np.full(p[0].size, p[1], np.int32) for p in parts])
    t = np.concatenate([a.t[p[0]] + p[2] / 60.0 for p in parts])
    code = np.concatenate([p[3][p[0]] for p in parts]).astype(np.uint32)
    dev = a.dev[att]
    khost = a.host[att]

    # background: 1003 status checks (about one every 3 days per machine, while it exists)
    per = rng.poisson(minutes / (3 * 1440), fleet.n)
    sdev = np.repeat(np.arange(fleet.n), per)
    st = rng.uniform(0, minutes, sdev.size)
    keep = st >= born[sdev]
    sdev, st = sdev[keep], st[keep]
    # background: 12294 on each KMS host once a day (SRV record re-published)
    days = int(np.ceil(minutes / 1440))
    phase = rng.uniform(0, 1440, len(hosts))
    hhost = np.repeat(np.arange(len(hosts)), days)
    ht = (np.tile(np.arange(days) * 1440.0, len(hosts)) + phase[hhost])
    hkeep = ht < minutes
    hhost, ht = hhost[hkeep], ht[hkeep]

    att = np.concatenate([att, np.full(sdev.size + hhost.size, _NONE)])
    eid = np.concatenate(
        [eid, np.full(sdev.size, 1003, np.int32), np.full(hhost.size, 12294, np.int32)]
    )
    t = np.concatenate([t, st, ht])
    code = np.concatenate([code, np.zeros(sdev.size + hhost.size, np.uint32)])
    dev = np.concatenate([dev, sdev, np.full(hhost.size, _NONE)])
    khost = np.concatenate([khost, np.full(sdev.size, _NONE), hhost])
    if hidden or retire is not None:
        att, eid, t, code, dev, khost = _collected(att, eid, t, code, dev, khost, hidden, retire)

    order = np.lexsort((eid, t))  # time order; same-instant ties by event id
    att, eid, t, code, dev, khost = (x[order] for x in (att, eid, t, code, dev, khost))
    n = eid.size
    is_att = att >= 0
    ai = np.where(is_att, att, 0)
    on_host = (eid == 12290) | (eid == 12294)
    has_dev = dev >= 0
    di = np.where(has_dev, dev, 0)

    host_names = np.array(list(hosts) + [None], dtype=object)
    kms_name = host_names[np.where(khost >= 0, khost, len(hosts))]
    client = np.where(has_dev, fleet.names[di], None)
    host = np.where(on_host, kms_name, client)
    time = start + pd.to_timedelta(np.round(t * 60e6).astype(np.int64) * 1000, unit="ns")
    offset = np.where(is_att, a.offset[ai], fleet.offset_min[di])
    ctime = (
        time.tz_localize(None) + pd.to_timedelta(np.round(offset).astype(np.int64), unit="m")
    ).floor("min")

    with_code = is_att | (eid == 12294)
    uniq, inv = np.unique(code, return_inverse=True)
    code_s = np.where(is_att, np.array([f"0x{int(v):08X}" for v in uniq], dtype=object)[inv], None)
    category = np.array([category_of(int(v)) if v else None for v in uniq], dtype=object)[inv]
    category = np.where(is_att, category, None)
    success = np.where(eid == 12294, True, code == 0)
    request = (eid == 12288) | (eid == 12289) | (eid == 12290)
    req_info = (eid == 12288) | (eid == 12290)
    is_server = fleet.is_server[di]
    idx = np.searchsorted(_IDS, eid)
    first_line = np.array([MESSAGES[i][0] for i in _IDS], dtype=object)[idx]
    kind = np.array([EVENT_KIND_BY_ID[i] for i in _IDS], dtype=object)[idx]
    level = np.array([MESSAGES[i][1] for i in _IDS], dtype=object)[idx]
    fail_ev = (eid == 8198) | (eid == 8233)
    message = first_line.copy()
    label = np.where(eid[fail_ev] == 8198, "\nhr=", "\nReason:").astype(object)
    message[fail_ev] = first_line[fail_ev] + label + code_s[fail_ev]
    status = np.where((eid == 12289) & (code == C["count"]), 0x04000008, 0).astype(np.uint32)
    trigger = np.where(fail_ev, np.where(a.logon[ai], "UserLogon", "TimerEvent"), None)
    sites = np.array(fleet.sites, dtype=object)
    has_kms = (eid == 12288) & (khost >= 0)

    frame = pd.DataFrame(
        {
            S.EVENT_TIME: time,
            S.HOST: _strs(host),
            S.ROLE: _cat(np.where(on_host, "kms_host", "client"), S.ROLE),
            S.CHANNEL: _strs(np.where(eid == 12290, KMS_CHANNEL, "Application").astype(object)),
            S.PROVIDER: _strs(np.full(n, PROVIDER, dtype=object)),
            S.EVENT_ID: pd.array(eid, dtype="Int32"),
            S.LEVEL: _cat(level, S.LEVEL),
            S.EVENT_KIND: _cat(kind, S.EVENT_KIND),
            S.ACTIVATION_METHOD: _cat(np.where(request, "KMS", "unknown"), S.ACTIVATION_METHOD),
            S.RESULT_CODE: _nullable(code, is_att, "UInt32"),
            S.CODE: _strs(code_s),
            S.IS_SUCCESS: pd.arrays.BooleanArray(success, ~with_code),
            S.CATEGORY: _cat(category, S.CATEGORY),
            S.STATUS_FLAGS: _nullable(status, (eid == 12288) | (eid == 12289), "UInt32"),
            S.KMS_HOST: _strs(np.where(has_kms, kms_name, None)),
            S.KMS_PORT: _nullable(np.full(n, 1688), has_kms, "UInt16"),
            S.CLIENT_NAME: _strs(np.where(eid == 12290, client, None)),
            S.CMID: _strs(np.where(req_info, fleet.cmid[di], None)),
            S.CLIENT_TIME: pd.Series(ctime).where(request),
            S.IS_VM: pd.arrays.BooleanArray(fleet.is_vm[di], ~req_info),
            S.LICENSE_STATUS: _nullable(a.lic[ai], req_info & is_att, "Int8"),
            S.MINUTES_TO_EXPIRY: _nullable(a.to_expiry[ai], req_info & is_att, "Int32"),
            S.SKU_ID: _strs(
                np.where(req_info | fail_ev, np.where(is_server, SKU_SERVER, SKU_CLIENT), None)
            ),
            S.APP_ID: _strs(np.where(fail_ev | (eid == 1003), APP_ID, None)),
            S.MIN_COUNT: _nullable(np.where(is_server, 5, 25), req_info, "Int16"),
            S.KMS_COUNT: _nullable(a.count[ai], eid == 12289, "Int16"),
            S.ACTIVATION_INTERVAL_MIN: _nullable(np.full(n, ACT_INTERVAL), eid == 12289, "Int32"),
            S.RENEWAL_INTERVAL_MIN: _nullable(np.full(n, RENEW_INTERVAL), eid == 12289, "Int32"),
            S.TRIGGER: _strs(trigger),
            S.SITE: _strs(
                np.where(has_dev, sites[fleet.site[di]], np.array(host_sites, dtype=object)[
                    np.maximum(khost, 0)])
            ),
            S.MESSAGE: _strs(message),
            S.SOURCE_FORMAT: _cat(np.full(n, "synthetic", dtype=object), S.SOURCE_FORMAT),
        }
    )
    for column, dtype in S.EVENT_DTYPES.items():  # the columns not built above: all NA
        if column not in frame.columns:
            frame[column] = pd.array([pd.NA] * n, dtype=dtype)
        elif frame[column].dtype != dtype:
            frame[column] = frame[column].astype(dtype)
    frame = frame[list(S.EVENT_COLUMNS)]
    # EventRecordID: sequential per machine and channel, in time order
    key = pd.factorize(host)[0].astype(np.int64) * 2 + (eid == 12290)
    order = np.argsort(key, kind="stable")
    first = np.r_[True, key[order][1:] != key[order][:-1]]
    run_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    rid = np.empty(n, np.int64)
    rid[order] = np.arange(n) - run_start + 1
    frame[S.RECORD_ID] = pd.array(rid, dtype="Int64")
    return frame
