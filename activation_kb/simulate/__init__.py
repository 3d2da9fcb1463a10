"""Fleet simulator: realistic KMS activation telemetry with ground-truth incidents.

``simulate_fleet`` returns a :class:`SimulatedFleet` ``(events, incidents)``: a canonical events
frame (see :mod:`activation_kb.schema`) and the ground truth of the injected incidents; it
unpacks as a pair (``events, truth = simulate_fleet(...)``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..deprecation import old_forms
from ..errors import SimulationError
from ..params import MAX_DATE, MAX_SPAN, check_date, check_number
from ._engine import Window, run_model
from ._events import build_events
from ._fleet import BRANCH_SITE, build_fleet
from ._incidents import (
    INCIDENT_KINDS,
    IncidentSpec,
    default_incidents,
    incidents_frame,
    parse_incidents,
)
from ._scoring import DetectionScore, score_detection

__all__ = ["simulate_fleet", "SimulatedFleet", "IncidentSpec", "INCIDENT_KINDS", "score_detection",
           "DetectionScore"]

#: Default start of a simulated span: a Monday.
DEFAULT_START = "2026-01-05"


class SimulatedFleet(NamedTuple):
    """A simulated fleet's telemetry and its ground truth; unpacks as ``(events, incidents)``.

    Attributes
    ----------
    events : pandas.DataFrame
        Canonical events frame (``source_format`` "synthetic").
    incidents : pandas.DataFrame
        The injected incidents: incident_id, kind, start, end, scope_type, scope,
        expected_codes, description.
    """

    events: pd.DataFrame
    incidents: pd.DataFrame


def _minutes(value: Any, start: pd.Timestamp) -> float:
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) * 1440.0
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return (ts - start).total_seconds() / 60.0


@old_forms(positional=("start", "seed", "incidents", "sites", "kms_hosts", "background"))
def simulate_fleet(
    devices: int = 2000,
    days: float = 60,
    *,
    start: Any = None,
    seed: int = 0,
    incidents: Any = "default",
    sites: list[str] | None = None,
    kms_hosts: list[str] | None = None,
    background: bool = True,
) -> SimulatedFleet:
    """Simulate the activation telemetry of a fleet.

    Parameters
    ----------
    devices : int
        Number of machines (clients, servers, MAK machines).
    days : float
        Length of the simulated span.
    start : str or pandas.Timestamp, optional
        UTC start; default 2026-01-05 00:00 UTC (a Monday).
    seed : int
        Random seed; the same arguments give the same frames.
    incidents : "default", "none", list of IncidentSpec or dict, or JSON path
        What to inject.
    sites, kms_hosts : list of str, optional
        Site names and KMS host FQDNs (site *i* is served by host ``i % len(kms_hosts)``, and
        host *j* stands in site *j*).
    background : bool
        Simulate the failures every real fleet has outside incidents: laptops at home without VPN
        (0x8007232B, or 0xC004F074 for those with a static KMS host) and rare transient network
        faults (0.05 % of requests). False gives a fleet whose only failures are the incidents.

    Returns
    -------
    SimulatedFleet
        ``events`` (canonical events frame, ``source_format`` "synthetic") and ``incidents``
        (incident_id, kind, start, end, scope_type, scope, expected_codes, description); it
        unpacks as ``events, incidents``.

    Raises
    ------
    ParameterError
        For ``days`` that is not a number in (0, 3660] (:class:`~activation_kb.errors.NumberError`)
        or a ``start`` that is not a date in range (:class:`~activation_kb.errors.DateError`).
    SimulationError
        For a bad size or incident.
    """
    days = check_number(days, "days", minimum=0, maximum=MAX_SPAN.days)
    start_ts = check_date(DEFAULT_START if start is None else start, "start")
    if days <= 0:
        raise SimulationError(f"days must be > 0, got {days}")
    if start_ts + pd.Timedelta(days=days) > MAX_DATE:
        raise SimulationError(f"start={start!r} with days={days:g} ends after {MAX_DATE:%Y-%m-%d}")
    rng = np.random.default_rng(seed)
    specs = parse_incidents(incidents)
    day0 = (start_ts - start_ts.normalize()).total_seconds() / 60.0
    n_days = int(np.ceil((day0 + float(days) * 1440.0) / 1440.0)) + 1
    fleet = build_fleet(
        int(devices),
        rng,
        sites,
        kms_hosts,
        BRANCH_SITE if specs is None else None,
        n_days,
        start_ts.normalize().weekday(),
    )
    if specs is None:
        specs = default_incidents(
            days,
            fleet.sites,
            fleet.kms_hosts,
            BRANCH_SITE if BRANCH_SITE in fleet.sites else fleet.sites[-1],
        )
    minutes = float(days) * 1440.0
    hosts = list(fleet.kms_hosts)
    born = np.zeros(fleet.n)
    windows: list[Window] = []
    rows = []
    taken = np.zeros(fleet.n, bool)
    for i, spec in enumerate(specs, 1):
        s, e = _minutes(spec.start, start_ts), _minutes(spec.end, start_ts)
        if not e > s:
            raise SimulationError(
                f"incident {spec.kind}: end must be after start, got {spec.start}..{spec.end}"
            )
        w = Window(spec, s, e)
        scope = spec.scope
        if spec.scope_type == "site":
            if scope not in fleet.sites:
                raise SimulationError(
                    f"incident {spec.kind}: unknown site {scope!r}; sites are {fleet.sites}"
                )
            w.mask = fleet.site == fleet.sites.index(scope)
            if spec.kind == "kms_count_low":
                hosts.append(f"kms-{scope}.contoso.com")
                w.host = len(hosts) - 1
                born[w.mask] = np.maximum(s, 0)  # a new site: its machines are deployed at start
        elif spec.scope_type == "kms_host":
            if scope not in hosts:
                raise SimulationError(
                    f"incident {spec.kind}: unknown KMS host {scope!r}; hosts are {hosts}"
                )
            w.host = hosts.index(scope)
        else:
            if scope:
                wanted = [x.strip() for x in scope.split(",") if x.strip()]
                pos = {name: j for j, name in enumerate(fleet.names)}
                bad = [x for x in wanted if x not in pos]
                if bad:
                    raise SimulationError(f"incident {spec.kind}: unknown machines {bad[:5]}")
                pick = np.array([pos[x] for x in wanted], dtype=np.int64)
            else:
                want_mak = spec.kind == "mak_exhausted"
                site_i = {"clock_drift": 1, "no_client_key": 2}.get(spec.kind, 0) % len(fleet.sites)
                pool = np.flatnonzero(
                    ~taken
                    & (fleet.is_mak == want_mak)
                    & (born == 0)
                    & ((fleet.site == site_i) | want_mak)
                )
                if pool.size == 0:
                    pool = np.flatnonzero(~taken & (born == 0))
                pick = np.sort(rng.choice(pool, size=min(spec.machines, pool.size), replace=False))
                scope = ",".join(fleet.names[pick])
            taken[pick] = True
            w.mask = np.zeros(fleet.n, bool)
            w.mask[pick] = True
            if spec.kind in ("mak_exhausted", "no_client_key"):  # new deployments
                fleet.is_mak[pick] = spec.kind == "mak_exhausted"
                born[pick] = np.maximum(s, 0)
        windows.append(w)
        rows.append(
            {
                "incident_id": f"INC-{i:03d}",
                "kind": spec.kind,
                "start": start_ts + pd.Timedelta(minutes=s),
                "end": start_ts + pd.Timedelta(minutes=e),
                "scope_type": spec.scope_type,
                "scope": scope,
                "expected_codes": spec.expected_codes,
                "description": spec.description or INCIDENT_KINDS[spec.kind][2].format(scope=scope),
            }
        )
    attempts = run_model(fleet, windows, born, minutes, day0, len(hosts), rng, background)
    host_sites = [fleet.sites[j % len(fleet.sites)] for j in range(len(fleet.kms_hosts))]
    host_sites += [w.spec.scope for w in windows if w.spec.kind == "kms_count_low"]
    events = build_events(fleet, attempts, hosts, host_sites, born, minutes, start_ts, rng)
    return SimulatedFleet(events, incidents_frame(rows))
