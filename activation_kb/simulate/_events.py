"""Turn model attempts into the canonical events frame (what the machines would log)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema as S
from ..categories import category_of
from ..codes import normalize_code
from ._engine import ACT_INTERVAL, MAK, NO_REQUEST, REACHED, RENEW_INTERVAL, Attempts, C
from ._fleet import APP_ID, SKU_CLIENT, SKU_SERVER, Fleet

__all__ = ["build_events"]

PROVIDER = "Microsoft-Windows-Security-SPP"
MSG = {
    12288: "The client has sent an activation request to the key management service machine.",
    12289: (
        "The client has processed an activation response from the key management service machine."
    ),
    12290: "An activation request has been processed.",
    8198: "License Activation (slui.exe) failed with the following error code.",
    8233: "The rules engine reported a failed VL activation attempt.",
    1003: "The Software Protection service has completed licensing status check.",
}
KIND = {
    12288: "kms_request",
    12289: "kms_response",
    12290: "kms_host_request",
    8198: "activation_failure",
    8233: "vl_failure",
    1003: "status_check",
}
LEVEL = {12288: "info", 12289: "info", 12290: "info", 8198: "error", 8233: "warning", 1003: "info"}


def _strs(values: np.ndarray) -> pd.arrays.ArrowStringArray:
    return pd.array(pa.array(values, type=pa.large_string()), dtype=pd.StringDtype("pyarrow"))


def _cat(values: np.ndarray, column: str) -> pd.Categorical:
    """Categorical of the canonical dtype of ``column`` built from codes (fast)."""
    dtype = S.EVENT_DTYPES[column]
    cats = np.array(list(dtype.categories), dtype=object)
    vals = np.asarray(values, dtype=object)
    present = pd.notna(vals)
    codes = np.full(len(vals), -1, dtype=np.int16)
    if present.any():
        uniq, inv = np.unique(vals[present].astype(str), return_inverse=True)
        lookup = np.array([list(cats).index(u) for u in uniq], dtype=np.int16)
        codes[present] = lookup[inv]
    return pd.Categorical.from_codes(codes, dtype=dtype)


def build_events(
    fleet: Fleet,
    a: Attempts,
    hosts: list[str],
    born: np.ndarray,
    minutes: float,
    start: pd.Timestamp,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Return the canonical events frame for the attempts ``a``."""
    kms = a.path != MAK
    parts = []

    def take(mask: np.ndarray, eid: int, dt_sec: float, code: np.ndarray | None = None) -> None:
        idx = np.flatnonzero(mask)
        parts.append((idx, eid, dt_sec, a.code[idx] if code is None else code[idx]))

    take(kms & (a.path != NO_REQUEST), 12288, 0.0)
    take(a.path == REACHED, 12289, 1.0)
    take(a.path == REACHED, 12290, 0.5)
    fail = a.code != 0
    take(fail, 8198, 2.0)
    reason = np.where(a.code == C["down"], np.uint32(C["rpc"]), a.code).astype(np.uint32)
    take(fail & (a.path != MAK), 8233, 3.0, reason)
    cols: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "dev",
            "t",
            "eid",
            "code",
            "khost",
            "role",
            "logon",
            "lic",
            "exp",
            "count",
            "offset",
            "att",
        )
    }
    for idx, eid, dt, code in parts:
        cols["dev"].append(a.dev[idx])
        cols["t"].append(a.t[idx] + dt / 60.0)
        cols["eid"].append(np.full(idx.size, eid, np.int32))
        cols["code"].append(code)
        cols["khost"].append(a.host[idx])
        cols["role"].append(np.full(idx.size, eid == 12290))
        cols["logon"].append(a.logon[idx])
        cols["lic"].append(a.lic[idx])
        cols["exp"].append(a.to_expiry[idx])
        cols["count"].append(a.count[idx])
        cols["offset"].append(a.offset[idx])
        cols["att"].append(np.full(idx.size, True))
    # 1003 status checks: about one every 3 days per machine, while it exists
    per = rng.poisson(minutes / (3 * 1440), fleet.n)
    dev = np.repeat(np.arange(fleet.n), per)
    t = rng.uniform(0, minutes, dev.size)
    keep = t >= born[dev]
    dev, t = dev[keep], t[keep]
    z = np.zeros(dev.size)
    cols["dev"].append(dev)
    cols["t"].append(t)
    cols["eid"].append(np.full(dev.size, 1003, np.int32))
    cols["code"].append(z.astype(np.uint32))
    cols["khost"].append(np.full(dev.size, -1))
    cols["role"].append(z.astype(bool))
    cols["logon"].append(z.astype(bool))
    cols["lic"].append(np.full(dev.size, -1, np.int8))
    cols["exp"].append(z.astype(np.int32))
    cols["count"].append(z.astype(np.int16))
    cols["offset"].append(fleet.offset_min[dev].astype(float))
    cols["att"].append(z.astype(bool))
    c = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.lexsort((c["eid"], c["t"]))  # time order; same-instant ties by event id
    c = {k: v[order] for k, v in c.items()}
    n = c["dev"].size
    eid, code, role = c["eid"], c["code"], c["role"]
    dev = c["dev"]
    khost_names = np.array(hosts + [""], dtype=object)
    khost = khost_names[np.where(c["khost"] >= 0, c["khost"], len(hosts))]
    host = np.where(role, khost, fleet.names[dev])
    time = start + pd.to_timedelta(np.round(c["t"] * 60_000_000).astype(np.int64) * 1000, unit="ns")
    ctime = (
        time.tz_localize(None) + pd.to_timedelta(np.round(c["offset"]).astype(np.int64), unit="m")
    ).floor("min")
    uniq = {int(v): normalize_code(int(v)) for v in np.unique(code)}
    code_s = np.array([uniq[int(v)] for v in code], dtype=object) if n else np.array([], object)
    cat_map = {k: category_of(v) for k, v in uniq.items() if k}
    has_code = eid != 1003
    category = np.array([cat_map.get(int(v), None) for v in code], dtype=object) if n else code_s
    request = np.isin(eid, (12288, 12289, 12290))
    req_info = np.isin(eid, (12288, 12290))  # fields carried by the request / host record
    is_server = fleet.is_server[dev]
    status = np.where((eid == 12289) & (code == C["count"]), 0x04000008, 0).astype(np.uint32)
    trigger = np.where(
        np.isin(eid, (8198, 8233)), np.where(c["logon"], "UserLogon", "TimerEvent"), None
    )
    msg = np.array([MSG[int(e)] for e in (12288, 12289, 12290, 8198, 8233, 1003)], dtype=object)
    msg_idx = np.searchsorted(np.array([1003, 8198, 8233, 12288, 12289, 12290]), eid)
    msg = np.array(
        [MSG[1003], MSG[8198], MSG[8233], MSG[12288], MSG[12289], MSG[12290]], dtype=object
    )[msg_idx]
    client_in_msg = np.where(eid == 12290, "\nClient: " + fleet.names[dev].astype(str), "")
    hr_in_msg = np.where(
        np.isin(eid, (8198,)),
        "\nhr=" + code_s.astype(str),
        np.where(eid == 8233, "\nReason:" + code_s.astype(str), ""),
    )
    message = msg.astype(str) + hr_in_msg + client_in_msg
    kind = np.array([KIND[int(e)] for e in (1003, 8198, 8233, 12288, 12289, 12290)], dtype=object)[
        msg_idx
    ]
    level = np.array(
        [LEVEL[int(e)] for e in (1003, 8198, 8233, 12288, 12289, 12290)], dtype=object
    )[msg_idx]
    frame = pd.DataFrame(
        {
            S.EVENT_TIME: time,
            S.HOST: _strs(host),
            S.ROLE: _cat(np.where(role, "kms_host", "client"), S.ROLE),
            S.CHANNEL: _strs(
                np.where(role, "Key Management Service", "Application").astype(object)
            ),
            S.PROVIDER: _strs(np.full(n, PROVIDER, dtype=object)),
            S.EVENT_ID: pd.array(eid, dtype="Int32"),
            S.LEVEL: _cat(level, S.LEVEL),
            S.EVENT_KIND: _cat(kind, S.EVENT_KIND),
            S.ACTIVATION_METHOD: _cat(np.where(request, "KMS", "unknown"), S.ACTIVATION_METHOD),
            S.RESULT_CODE: pd.array(np.where(has_code, code, None), dtype="UInt32"),
            S.CODE: _strs(np.where(has_code, code_s, None)),
            S.IS_SUCCESS: pd.array(np.where(has_code, code == 0, None), dtype="boolean")
            if n
            else [],
            S.CATEGORY: _cat(category, S.CATEGORY),
            S.STATUS_FLAGS: pd.array(
                np.where(request & (eid != 12290), status, None), dtype="UInt32"
            ),
            S.KMS_HOST: _strs(np.where((eid == 12288) & (khost != ""), khost, None)),
            S.KMS_PORT: pd.array(
                np.where((eid == 12288) & (khost != ""), 1688, None), dtype="UInt16"
            ),
            S.CMID: _strs(np.where(req_info, fleet.cmid[dev], None)),
            S.CLIENT_TIME: pd.Series(ctime).where(request),
            S.IS_VM: pd.array(np.where(req_info, fleet.is_vm[dev], None), dtype="boolean"),
            S.LICENSE_STATUS: pd.array(np.where(req_info, c["lic"], None), dtype="Int8"),
            S.MINUTES_TO_EXPIRY: pd.array(np.where(req_info, c["exp"], None), dtype="Int32"),
            S.SKU_ID: _strs(
                np.where(
                    np.isin(eid, (1003, 12289)), None, np.where(is_server, SKU_SERVER, SKU_CLIENT)
                )
            ),
            S.APP_ID: _strs(np.where(np.isin(eid, (8198, 8233, 1003)), APP_ID, None)),
            S.MIN_COUNT: pd.array(
                np.where(req_info, np.where(is_server, 5, 25), None), dtype="Int16"
            ),
            S.KMS_COUNT: pd.array(np.where(eid == 12289, c["count"], None), dtype="Int16"),
            S.ACTIVATION_INTERVAL_MIN: pd.array(
                np.where(eid == 12289, ACT_INTERVAL, None), dtype="Int32"
            ),
            S.RENEWAL_INTERVAL_MIN: pd.array(
                np.where(eid == 12289, RENEW_INTERVAL, None), dtype="Int32"
            ),
            S.TRIGGER: _strs(trigger),
            S.SITE: _strs(np.array(fleet.sites, dtype=object)[fleet.site[dev]]),
            S.MESSAGE: _strs(message.astype(object)),
            S.SOURCE_FORMAT: _cat(np.full(n, "synthetic", dtype=object), S.SOURCE_FORMAT),
        }
    )
    for column, dtype in S.EVENT_DTYPES.items():  # cheap: only the columns not built above
        if column not in frame.columns:
            frame[column] = pd.array([pd.NA] * n, dtype=dtype)
        elif frame[column].dtype != dtype:
            frame[column] = frame[column].astype(dtype)
    frame = frame[list(S.EVENT_COLUMNS)]
    key = frame[S.HOST].astype(str) + "|" + frame[S.CHANNEL].astype(str)
    frame[S.RECORD_ID] = (frame.groupby(key, sort=False).cumcount() + 1).astype("Int64")
    return frame
