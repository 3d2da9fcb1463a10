"""The activation model: every attempt of every machine, stepped hour by hour.

Each machine carries the time of its next attempt. The clock advances in 60-minute steps; every
machine due in a step makes one attempt, evaluated for all due machines at once with numpy:

* success: activated, validity 180 days from now (sliding), next attempt after the renewal
  interval (7 days);
* failure: next attempt after the activation interval (120 minutes), validity unchanged.

The licence state and minutes to expiry a request carries (12288, 12290) are the client's state
*before* that request: Licensed until the validity ends, then OOT grace for 30 days, then
Notification; a machine never activated is in OOB grace for 30 days after deployment.

A machine that is off when an attempt falls due makes it when it next comes on
(``Trigger=UserLogon`` in 8198/8233). Off the corporate network (a laptop at home without VPN)
the ``_vlmcs._tcp`` lookup
fails (0x8007232B), or a statically configured KMS host cannot be reached (0x800706BA); either way
no KMS host could be contacted and slui reports 0xC004F074. A small share of on-network requests
is lost to transient network faults.
KMS hosts count the distinct CMIDs that reached them in the past 30 days, capped at 50, and answer
0xC004F038 while that count is below the client's threshold (25 client editions, 5 servers); a
client whose clock differs from the host's by more than 4 hours gets 0xC004F06C.

Machines away from the corporate network (``off_network``) fail like laptops at home without
VPN; a site cut off from KMS (``site_cut_off``) names its host but gets no answer; retired
machines (``decommission``) make no attempt after their retirement. :class:`ModelState` keeps
what the ground truth needs: each machine's validity and the uncapped count of every host after
every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._fleet import Fleet
from ._incidents import IncidentSpec

__all__ = [
    "Attempts",
    "ModelState",
    "Window",
    "run_model",
    "ACT_INTERVAL",
    "RENEW_INTERVAL",
    "VALIDITY",
    "GRACE",
    "C",
    "REACHED",
    "UNREACHABLE",
    "NO_HOST",
    "NO_REQUEST",
    "MAK",
    "state_at",
]

ACT_INTERVAL = 120
RENEW_INTERVAL = 10080
VALIDITY = 180 * 1440
GRACE = 30 * 1440
COUNT_WINDOW = 30 * 1440
COUNT_CAP = 50
CLOCK_TOLERANCE = 240
STEP = 60
#: share of on-network KMS requests lost to a transient network fault
TRANSIENT = 0.0005

# attempt paths: what the client could do
REACHED = 0  # a KMS host answered (12288, 12289 on the client, 12290 on the host)
UNREACHABLE = 1  # a host was named but did not answer (12288 only)
NO_HOST = 2  # DNS gave no KMS host (12288 without host, no request sent)
NO_REQUEST = 3  # no request possible (no KMS client key): 8198/8233 only
MAK = 4  # MAK activation against Microsoft's servers: 8198 on failure

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
    code: np.ndarray  # uint32 HRESULT of the attempt as slui reports it (8198)
    request_code: np.ndarray  # uint32 HRESULT of the request (12288) and rules engine (8233)
    path: np.ndarray
    host: np.ndarray  # KMS host index (-1 none)
    logon: np.ndarray  # Trigger=UserLogon (postponed until the machine came on)
    lic: np.ndarray
    to_expiry: np.ndarray
    count: np.ndarray  # KMS count answered
    offset: np.ndarray  # client clock offset at the attempt, minutes


@dataclass
class ModelState:
    """The model's state at the end of the run and the hosts' counts after every step."""

    activated: np.ndarray  # bool per machine
    expiry: np.ndarray  # end of the activation validity (minutes; -inf: never activated)
    grace_end: np.ndarray  # end of the initial (OOB) grace, minutes
    last_success: np.ndarray  # minutes (-inf: none)
    last_contact: np.ndarray  # (machine, host) last time the machine reached the host
    step_times: np.ndarray  # minutes after start of each step's end
    step_counts: np.ndarray  # (step, host) distinct machines that reached the host in 30 days


@dataclass
class Window:
    """An incident resolved to a machine mask (or host index) and a window in minutes."""

    spec: IncidentSpec
    start: float
    end: float
    mask: np.ndarray | None = None
    host: int = -1


def _next_on(
    fleet: Fleet, dev: np.ndarray, t: np.ndarray, day0: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the first time at or after ``t`` each machine is on, and its day index.

    ``day0`` is the minute of the day the simulation starts at. Machines that stay off for the
    rest of the schedule get ``inf``.
    """
    days = fleet.on_start.shape[1]
    u = t + day0
    d = np.floor(u / 1440.0).astype(np.int64)
    mod = u - d * 1440.0
    out = np.full(t.size, np.inf)
    out_day = np.full(t.size, days - 1, dtype=np.int64)
    todo = np.ones(t.size, dtype=bool)
    for k in range(10):
        dd = d + k
        live = todo & (dd < days)
        if not live.any():
            break
        idx = np.flatnonzero(live)
        s = fleet.on_start[dev[idx], dd[idx]].astype(np.float64)
        e = fleet.on_end[dev[idx], dd[idx]].astype(np.float64)
        low = mod[idx] if k == 0 else np.zeros(idx.size)
        cand = np.maximum(low, s)
        ok = ~np.isnan(s) & (cand < e)
        hit = idx[ok]
        out[hit] = dd[hit] * 1440.0 + cand[ok] - day0
        out_day[hit] = dd[hit]
        todo[hit] = False
    return out, out_day


def run_model(
    fleet: Fleet,
    windows: list[Window],
    born: np.ndarray,
    minutes: float,
    day0: float,
    n_hosts: int,
    rng: np.random.Generator,
    background: bool = True,
    retire: np.ndarray | None = None,
) -> tuple[Attempts, ModelState]:
    """Run the activation model for ``minutes`` and return every attempt and the final state.

    With ``background`` false, machines never leave the corporate network and no request is lost
    to a transient fault: every failure comes from an incident. ``retire`` gives the minute each
    machine is switched off for good (``inf``: never).
    """
    n = fleet.n
    new = born > 0
    last = -rng.uniform(0, RENEW_INTERVAL, n)
    for w in windows:  # away or cut off since before the start: renewed last before leaving
        if w.spec.kind in ("off_network", "site_cut_off") and w.start < 0 and w.mask is not None:
            last[w.mask & ~new] += w.start
    activated = ~new
    expiry = np.where(new, -np.inf, last + VALIDITY)
    grace_end = born + GRACE
    nxt = np.maximum(np.where(new, born, last + RENEW_INTERVAL), 0.0)  # overdue: at the start
    nxt[fleet.is_mak & ~new] = np.inf  # MAK: activated once, no renewal
    pending_logon = np.zeros(n, dtype=bool)
    base_host = fleet.site_host[fleet.site].astype(np.int64)
    # the last time each machine reached each host: a host counts the distinct machines of the
    # past 30 days, whichever host they use now
    seen = np.full((n, n_hosts), -np.inf)
    known = np.flatnonzero(~(new | fleet.is_mak))
    seen[known, base_host[known]] = last[known]
    last_success = np.where(new, -np.inf, last)
    min_count = fleet.min_count
    out: list[tuple] = []
    step_times: list[float] = []
    step_counts: list[np.ndarray] = []
    clock = 0.0
    while clock < minutes:
        clock += STEP
        due = np.flatnonzero(nxt < min(clock, minutes))
        if due.size == 0:
            _count(seen, clock, step_times, step_counts)
            continue
        t, day = _next_on(fleet, due, nxt[due], day0)
        if retire is not None:  # switched off for good: no attempt any more
            t = np.where(t >= retire[due], np.inf, t)
        moved = t > nxt[due]
        later = t >= min(clock, minutes)
        if later.any():  # the machine is off: it tries when it next comes on
            nxt[due[later]] = t[later]
            pending_logon[due[later]] = True
            keep = ~later
            due, t, day, moved = due[keep], t[keep], day[keep], moved[keep]
            if due.size == 0:
                _count(seen, clock, step_times, step_counts)
                continue
        logon = moved | pending_logon[due]
        pending_logon[due] = False
        m = due.size
        code = np.zeros(m, np.uint32)
        path = np.full(m, REACHED, np.int8)
        host = base_host[due].copy()
        offset = fleet.offset_min[due].astype(np.float64)
        mak = fleet.is_mak[due]
        path[mak] = MAK
        decided = mak.copy()
        away = np.zeros(m, bool)
        for w in windows:
            if not (w.start < clock and w.end >= clock - STEP):
                continue
            inw = (t >= w.start) & (t < w.end)
            kind = w.spec.kind
            if kind == "mak_exhausted":
                hit = inw & mak & w.mask[due]
                code[hit] = C["mak"]
            elif kind == "no_client_key":
                hit = inw & ~decided & w.mask[due]
                code[hit] = C["nokey"]
                path[hit] = NO_REQUEST
                decided |= hit
            elif kind == "dns_srv_missing":
                hit = inw & ~decided & w.mask[due] & ~fleet.static_kms[due]
                code[hit] = C["dns"]
                path[hit] = NO_HOST
                host[hit] = -1
                decided |= hit
            elif kind == "kms_count_low":
                hit = inw & w.mask[due]
                host[hit] = w.host
            elif kind == "clock_drift":
                hit = inw & w.mask[due]
                offset[hit] += 300.0
            elif kind == "off_network":
                away |= inw & ~decided & w.mask[due]
        off_lan = ~decided & ~fleet.on_lan[due, day] if background else np.zeros(m, bool)
        off_lan |= away
        static = off_lan & fleet.static_kms[due]
        path[static] = UNREACHABLE
        dns = off_lan & ~static
        path[dns] = NO_HOST
        code[dns] = C["dns"]
        host[dns] = -1
        decided |= off_lan
        for w in windows:  # host-side incidents after routing
            if w.spec.kind not in ("kms_host_down", "kms_host_unactivated", "site_cut_off"):
                continue
            inw = (t >= w.start) & (t < w.end) & ~decided
            if w.spec.kind == "site_cut_off":  # the site's requests name a host, get no answer
                inw &= w.mask[due] & (host >= 0)
            else:
                inw &= host == w.host
            if w.spec.kind in ("kms_host_down", "site_cut_off"):
                path[inw] = UNREACHABLE
            else:
                code[inw] = C["hostunact"]
            decided |= inw
        lost = ~decided & (rng.random(m) < (TRANSIENT if background else 0.0))
        path[lost] = UNREACHABLE
        decided |= lost
        # no KMS host could be contacted: the request (12288) and the rules engine (8233) say why,
        # slui (8198) reports 0xC004F074
        unreachable = path == UNREACHABLE
        request_code = np.where(unreachable, np.uint32(C["rpc"]), code).astype(np.uint32)
        code[unreachable | (path == NO_HOST)] = C["down"]
        reached = path == REACHED
        # the host records every CMID that reaches it, then answers with its count
        seen[due[reached], host[reached]] = t[reached]
        counts = np.minimum(_count(seen, clock, step_times, step_counts), COUNT_CAP)
        cnt = np.where(host >= 0, counts[np.maximum(host, 0)], 0).astype(np.int16)
        free = reached & ~decided
        clk = free & (np.abs(offset) > CLOCK_TOLERANCE)
        code[clk] = C["clock"]
        low = free & ~clk & (cnt < min_count[due])
        code[low] = C["count"]
        request_code[free] = code[free]
        # the state a request carries is the client's state before it
        lic, to_exp = state_at(activated[due], expiry[due], grace_end[due], t)
        ok = code == 0
        okd = due[ok]
        activated[okd] = True
        expiry[okd] = t[ok] + VALIDITY
        last_success[okd] = t[ok]
        nxt[okd] = np.where(path[ok] == MAK, np.inf, t[ok] + RENEW_INTERVAL)
        nxt[due[~ok]] = t[~ok] + ACT_INTERVAL
        out.append((due, t, code, request_code, path, host, logon, lic, to_exp, cnt, offset))
    types = (np.int64, np.float64, np.uint32, np.uint32, np.int8, np.int64, bool, np.int8,
             np.int32, np.int16, np.float64)
    arrays = [
        np.concatenate([row[i] for row in out]).astype(tp) if out else np.zeros(0, tp)
        for i, tp in enumerate(types)
    ]
    state = ModelState(
        activated=activated, expiry=expiry, grace_end=grace_end, last_success=last_success,
        last_contact=seen, step_times=np.asarray(step_times, dtype=np.float64),
        step_counts=(np.vstack(step_counts) if step_counts
                     else np.zeros((0, n_hosts), np.int64)),
    )
    return Attempts(*arrays), state


def _count(seen: np.ndarray, clock: float, times: list[float], counts: list[np.ndarray]
           ) -> np.ndarray:
    """Distinct machines that reached each host in the 30 days before ``clock`` (recorded)."""
    now = (seen > clock - COUNT_WINDOW).sum(axis=0)
    times.append(clock)
    counts.append(now)
    return now


def state_at(activated: np.ndarray, expiry: np.ndarray, grace_end: np.ndarray, t: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Licence state (0-6) and minutes to the end of that state at ``t``.

    Licensed until the validity ends, then OOT grace (3) for 30 days, then Notification (5);
    never activated: OOB grace (2) until ``grace_end``, then Notification.
    """
    licensed = activated & (expiry > t)
    oot = activated & ~licensed & (expiry + GRACE > t)
    oob = ~activated & (grace_end > t)
    lic = np.where(licensed, 1, np.where(oot, 3, np.where(oob, 2, 5))).astype(np.int8)
    left = np.where(licensed, expiry - t, np.where(oot, expiry + GRACE - t,
                                                    np.where(oob, grace_end - t, 0)))
    return lic, left.astype(np.int32)


