"""The event-driven activation model: attempts of every machine, stepped hour by hour.

Each machine carries its next attempt time. The clock advances in 60-minute steps; every machine due
in a step makes one attempt, evaluated for all due machines at once with numpy. Outcomes:

* success: activated, validity 180 days from now (sliding), next attempt = renewal (7 days);
* failure: next attempt after the activation interval (120 minutes), grace / validity unchanged.

Machines that are switched off at night (``office_hours``) postpone a due attempt to their next
logon (weekdays 07:00-19:00 UTC, ``Trigger=UserLogon``). KMS hosts count the distinct CMIDs that
reached them in the past 30 days, capped at 50, and answer 0xC004F038 while that count is below the
client's threshold (25 client editions, 5 servers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._fleet import Fleet
from ._incidents import IncidentSpec

__all__ = ["Attempts", "run_model", "ACT_INTERVAL", "RENEW_INTERVAL", "VALIDITY", "GRACE"]

ACT_INTERVAL = 120
RENEW_INTERVAL = 10080
VALIDITY = 180 * 1440
GRACE = 30 * 1440
COUNT_WINDOW = 30 * 1440
COUNT_CAP = 50
STEP = 60

# attempt paths
REACHED, NOT_REACHED, NO_REQUEST, MAK = 0, 1, 2, 3

C = {
    "dns": 0x8007232B,
    "down": 0xC004F074,
    "rpc": 0x800706BA,
    "count": 0xC004F038,
    "clock": 0xC004F06C,
    "mak": 0xC004C020,
    "nokey": 0xC004F014,
    "hostunact": 0xC004F041,
}


@dataclass
class Attempts:
    """One row per attempt (numpy arrays of equal length)."""

    dev: np.ndarray
    t: np.ndarray  # minutes after start
    code: np.ndarray  # uint32 HRESULT
    path: np.ndarray
    host: np.ndarray  # KMS host index (-1 none)
    logon: np.ndarray  # Trigger=UserLogon
    lic: np.ndarray
    to_expiry: np.ndarray
    count: np.ndarray  # KMS count answered
    offset: np.ndarray  # client clock offset at the attempt, minutes


@dataclass
class Window:
    """An incident resolved to a machine mask (or host index) and a window in minutes."""

    spec: IncidentSpec
    start: float
    end: float
    mask: np.ndarray | None = None
    host: int = -1


def _logon_shift(
    t: np.ndarray, start_min: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Move times outside weekday 07:00-19:00 to the next 07:00 + up to 90 min logon jitter."""
    absm = start_min + t
    day = np.floor(absm / 1440.0)
    mod = absm - day * 1440.0
    weekday = (day.astype(np.int64) + 3) % 7  # 1970-01-01 is a Thursday (3)
    ok = (weekday < 5) & (mod >= 420) & (mod < 1140)
    if ok.all():
        return t, np.zeros(len(t), bool)
    nd = np.where(mod < 420, day, day + 1)
    wd = (nd.astype(np.int64) + 3) % 7
    nd = nd + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
    shifted = nd * 1440.0 + 420 + rng.uniform(0, 90, len(t)) - start_min
    return np.where(ok, t, shifted), ~ok


def run_model(
    fleet: Fleet,
    windows: list[Window],
    born: np.ndarray,
    minutes: float,
    start_min: float,
    n_hosts: int,
    rng: np.random.Generator,
) -> Attempts:
    """Run the activation model for ``minutes`` and return every attempt."""
    n = fleet.n
    new = born > 0
    last = -rng.uniform(0, RENEW_INTERVAL, n)
    activated = ~new
    expiry = np.where(new, -np.inf, last + VALIDITY)
    grace_end = born + GRACE
    nxt = np.where(new, born, last + RENEW_INTERVAL)
    nxt[fleet.is_mak & ~new] = np.inf  # MAK: activated once, no renewal
    seen_t = np.where(new | fleet.is_mak, -np.inf, last)
    seen_h = np.where(new | fleet.is_mak, -1, fleet.site_host[fleet.site]).astype(np.int64)
    base_host = fleet.site_host[fleet.site].astype(np.int64)
    min_count = fleet.min_count
    out: list[tuple] = []
    clock = 0.0
    while clock < minutes:
        clock += STEP
        due = np.flatnonzero(nxt < min(clock, minutes))
        if due.size == 0:
            continue
        t = nxt[due]
        logon = np.zeros(due.size, bool)
        off = fleet.office_hours[due]
        if off.any():
            t2, moved = _logon_shift(t[off], start_min, rng)
            t[off] = t2
            logon[off] = moved
            later = t >= clock
            if later.any():  # postponed to a later step
                nxt[due[later]] = t[later]
                keep = ~later
                due, t, logon = due[keep], t[keep], logon[keep]
                if due.size == 0:
                    continue
        m = due.size
        code = np.zeros(m, np.uint32)
        path = np.full(m, REACHED, np.int8)
        host = base_host[due].copy()
        offset = fleet.offset_min[due].astype(np.float64)
        mak = fleet.is_mak[due]
        path[mak] = MAK
        decided = mak.copy()
        for w in windows:
            if not (w.start <= clock and w.end >= clock - STEP):
                continue
            inw = (t >= w.start) & (t < w.end)
            kind = w.spec.kind
            if kind == "mak_exhausted":
                hit = inw & mak & w.mask[due]
                code[hit] = C["mak"]
                path[hit] = NO_REQUEST
            elif kind == "no_client_key":
                hit = inw & ~decided & w.mask[due]
                code[hit] = C["nokey"]
                path[hit] = NO_REQUEST
                decided |= hit
            elif kind == "dns_srv_missing":
                hit = inw & ~decided & w.mask[due]
                code[hit] = C["dns"]
                path[hit] = NOT_REACHED
                host[hit] = -1
                decided |= hit
            elif kind == "kms_count_low":
                hit = inw & w.mask[due]
                host[hit] = w.host
            elif kind == "clock_drift":
                hit = inw & w.mask[due]
                offset[hit] += 300.0
        for w in windows:  # host-side incidents after routing
            if w.spec.kind not in ("kms_host_down", "kms_host_unactivated"):
                continue
            inw = (t >= w.start) & (t < w.end) & ~decided & (host == w.host)
            if w.spec.kind == "kms_host_down":
                code[inw] = C["down"]
                path[inw] = NOT_REACHED
            else:
                code[inw] = C["hostunact"]
            decided |= inw
        reached = path == REACHED
        # the host records every CMID that reaches it, then answers with its count
        seen_t[due[reached]] = t[reached]
        seen_h[due[reached]] = host[reached]
        recent = seen_t > clock - COUNT_WINDOW
        counts = np.minimum(
            np.bincount(seen_h[recent & (seen_h >= 0)], minlength=n_hosts), COUNT_CAP
        )
        cnt = np.where(host >= 0, counts[np.maximum(host, 0)], 0).astype(np.int16)
        free = reached & ~decided
        clk = free & (np.abs(offset) > 240)
        code[clk] = C["clock"]
        low = free & ~clk & (cnt < min_count[due])
        code[low] = C["count"]
        ok = code == 0
        okd = due[ok]
        activated[okd] = True
        expiry[okd] = t[ok] + VALIDITY
        nxt[okd] = np.where(path[ok] == MAK, np.inf, t[ok] + RENEW_INTERVAL)
        nxt[due[~ok]] = t[~ok] + ACT_INTERVAL
        lic_ok = activated[due] & (expiry[due] > t)
        lic = np.where(lic_ok, 1, np.where(grace_end[due] > t, 2, 5)).astype(np.int8)
        to_exp = np.where(lic_ok, expiry[due] - t, np.maximum(grace_end[due] - t, 0)).astype(
            np.int32
        )
        out.append((due, t, code, path, host, logon, lic, to_exp, cnt, offset))
    cols = list(zip(*out)) if out else [[np.zeros(0)]] * 10
    arr = [np.concatenate(c) for c in cols]
    return Attempts(
        arr[0].astype(np.int64),
        arr[1].astype(np.float64),
        arr[2].astype(np.uint32),
        arr[3].astype(np.int8),
        arr[4].astype(np.int64),
        arr[5].astype(bool),
        arr[6].astype(np.int8),
        arr[7].astype(np.int32),
        arr[8].astype(np.int16),
        arr[9],
    )
