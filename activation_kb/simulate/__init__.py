"""Fleet simulator: realistic KMS activation telemetry with ground-truth incidents.

``simulate_fleet`` returns a :class:`SimulatedFleet` ``(events, incidents)``: a canonical events
frame (see :mod:`activation_kb.schema`) and the ground truth of the injected incidents; it
unpacks as a pair (``events, truth = simulate_fleet(...)``). ``simulate_health`` runs the same
model and also returns each machine's true activation state and expiry and each KMS host's true
count (:class:`HealthSimulation`), the ground truth that :func:`~activation_kb.fleet_health` and
:func:`~activation_kb.kms_health` are measured against.

Both begin in steady state: the model runs :data:`BURN_IN_DAYS` before ``start`` and drops
them, so renewals have already gathered at logons, laptops at home are already retrying and
each KMS host's 30-day count is built when the span begins.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..deprecation import old_forms
from ..errors import SimulationError
from ..params import MAX_DATE, MAX_SPAN, check_date, check_number
from ._engine import Attempts, ModelState, Window, run_model
from ._events import build_events
from ._fleet import BRANCH_SITE, LAPTOP, Fleet, build_fleet
from ._incidents import (
    INCIDENT_KINDS,
    IncidentSpec,
    default_incidents,
    incidents_frame,
    parse_incidents,
)
from ._scoring import DetectionScore, score_detection
from ._truth import HealthSimulation, device_truth, kms_truth

__all__ = ["simulate_fleet", "SimulatedFleet", "simulate_health", "HealthSimulation",
           "IncidentSpec", "INCIDENT_KINDS", "score_detection", "DetectionScore", "BURN_IN_DAYS"]

#: Default start of a simulated span: a Monday.
DEFAULT_START = "2026-01-05"
#: Days the model runs before the start, dropped, so that the span begins in steady state.
BURN_IN_DAYS = 35


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
        What to inject. The health scenarios (``off_network``, ``site_cut_off``,
        ``decommission``, see :func:`simulate_health`) are never in the default set.
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

    See Also
    --------
    simulate_health : The same simulation with each machine's and KMS host's ground truth.
    """
    sim = simulate_health(devices, days, start=start, seed=seed, incidents=incidents,
                          sites=sites, kms_hosts=kms_hosts, background=background)
    return SimulatedFleet(sim.events, sim.incidents)


def simulate_health(
    devices: int = 2000,
    days: float = 60,
    *,
    start: Any = None,
    seed: int = 0,
    incidents: Any = "default",
    sites: list[str] | None = None,
    kms_hosts: list[str] | None = None,
    background: bool = True,
) -> HealthSimulation:
    """Simulate a fleet and keep the ground truth of its activation health.

    Takes the parameters of :func:`simulate_fleet` and runs the same model (the same events for
    the same arguments). Health scenarios to pass in ``incidents``:

    * ``off_network`` (machines; laptops when the simulator picks): away from the corporate
      network for the window and not reporting; validity runs down (a laptop away for 200 days
      expires). The window may start before the simulation (a negative number of days): the
      machines renewed last before it.
    * ``site_cut_off`` (site): the site's requests name a KMS host and get no answer
      (0x800706BA, then 0xC004F074) for the window; its records are still collected.
    * ``decommission`` (KMS host): ``machines`` of the host's clients are retired one by one
      over the window; the host's count falls as their last requests age past 30 days.

    Parameters
    ----------
    devices, days, start, seed, incidents, sites, kms_hosts, background
        As for :func:`simulate_fleet`.

    Returns
    -------
    HealthSimulation
        ``events``, ``incidents``, ``devices`` (one row per machine: true state and expiry at
        the end), ``kms_counts`` (each host's true count after every hour) and ``kms_hosts``
        (threshold and when the count first fell below it).

    Raises
    ------
    ParameterError
        For ``days`` or ``start`` out of range (as :func:`simulate_fleet`).
    SimulationError
        For a bad size or incident.

    Examples
    --------
    >>> sim = simulate_health(60, 5, seed=1, incidents="none")
    >>> sorted(sim.devices["true_state_name"].unique())
    ['Licensed']
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
        n_days + BURN_IN_DAYS,
        (start_ts.normalize() - pd.Timedelta(days=BURN_IN_DAYS)).weekday(),
    )
    if specs is None:
        specs = default_incidents(
            days,
            fleet.sites,
            fleet.kms_hosts,
            BRANCH_SITE if BRANCH_SITE in fleet.sites else fleet.sites[-1],
        )
    minutes = float(days) * 1440.0
    plan = _Plan(fleet, rng, start_ts)
    for i, spec in enumerate(specs, 1):
        plan.add(i, spec)
    attempts, state = _run_after_burn_in(fleet, plan, minutes, day0, rng, background)
    host_sites = [fleet.sites[j % len(fleet.sites)] for j in range(len(fleet.kms_hosts))]
    host_sites += [w.spec.scope for w in plan.windows if w.spec.kind == "kms_count_low"]
    hidden = [(w.mask, w.start, w.end) for w in plan.windows if w.spec.kind == "off_network"]
    events = build_events(fleet, attempts, plan.hosts, host_sites, plan.born, minutes, start_ts,
                          rng, hidden, plan.retire if plan.retired else None)
    end = start_ts + pd.Timedelta(minutes=minutes)
    counts, hosts = kms_truth(fleet, state, plan.hosts, host_sites, start_ts)
    return HealthSimulation(
        events=events,
        incidents=incidents_frame(plan.rows),
        devices=device_truth(fleet, state, plan, start_ts, end),
        kms_counts=counts,
        kms_hosts=hosts,
        start=start_ts,
        end=end,
    )


def _run_after_burn_in(fleet: Fleet, plan: _Plan, minutes: float, day0: float,
                       rng: np.random.Generator, background: bool) -> tuple[Attempts, ModelState]:
    """Run the model from :data:`BURN_IN_DAYS` before the start; return what follows the start.

    The model starts from machines whose last renewal is spread evenly over the past week and
    none of which is retrying. A real fleet is not like that: renewals that fell due while a
    machine was off were made at its next logon (Monday mornings gather the weekend's), and
    laptops at home without VPN are retrying every two hours. Run from a start state, a fleet's
    first weeks ramp up to that steady state (the first week had about three quarters of the
    requests of the later weeks, Monday-morning peaks grew week after week) and a detector
    learning its normal from them sees the ramp as rising errors. The burn-in days are
    simulated and dropped: the events, the machines' state and the KMS counts begin in steady
    state. Incident windows, deployments and retirements keep their times relative to the
    start.
    """
    burn = BURN_IN_DAYS * 1440.0
    windows = [replace(w, start=w.start + burn, end=w.end + burn) for w in plan.windows]
    born = np.where(plan.born > 0, plan.born + burn, 0.0)
    retire = plan.retire + burn if plan.retired else None
    attempts, state = run_model(fleet, windows, born, minutes + burn, day0, len(plan.hosts),
                                rng, background, retire)
    keep = attempts.t >= burn
    attempts = Attempts(*(getattr(attempts, f.name)[keep] for f in fields(Attempts)))
    attempts.t -= burn
    steps = state.step_times > burn
    state = ModelState(
        activated=state.activated, expiry=state.expiry - burn,
        grace_end=state.grace_end - burn, last_success=state.last_success - burn,
        last_contact=state.last_contact - burn, step_times=state.step_times[steps] - burn,
        step_counts=state.step_counts[steps])
    return attempts, state


class _Plan:
    """Incident specs resolved against a fleet: windows, new machines, retirements, truth rows."""

    def __init__(self, fleet: Fleet, rng: np.random.Generator, start: pd.Timestamp) -> None:
        self.fleet, self.rng, self.start = fleet, rng, start
        self.hosts = list(fleet.kms_hosts)
        self.born = np.zeros(fleet.n)
        self.retire = np.full(fleet.n, np.inf)
        self.retired = False
        self.windows: list[Window] = []
        self.rows: list[dict[str, Any]] = []
        self.taken = np.zeros(fleet.n, bool)

    def add(self, i: int, spec: IncidentSpec) -> None:
        """Resolve one incident (its scope, machines and window) and record its truth row."""
        fleet = self.fleet
        s, e = _minutes(spec.start, self.start), _minutes(spec.end, self.start)
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
                self.hosts.append(f"kms-{scope}.contoso.com")
                w.host = len(self.hosts) - 1
                self.born[w.mask] = np.maximum(s, 0)  # a new site: deployed at the start
        elif spec.scope_type == "kms_host":
            if scope not in self.hosts:
                raise SimulationError(
                    f"incident {spec.kind}: unknown KMS host {scope!r}; hosts are {self.hosts}"
                )
            w.host = self.hosts.index(scope)
            if spec.kind == "decommission":
                self._retire(w, spec)
        else:
            pick = self._machines(spec) if not scope else self._named(spec, scope)
            if not scope:
                scope = ",".join(fleet.names[pick])
            self.taken[pick] = True
            w.mask = np.zeros(fleet.n, bool)
            w.mask[pick] = True
            if spec.kind in ("mak_exhausted", "no_client_key"):  # new deployments
                fleet.is_mak[pick] = spec.kind == "mak_exhausted"
                self.born[pick] = np.maximum(s, 0)
        self.windows.append(w)
        self.rows.append(
            {
                "incident_id": f"INC-{i:03d}",
                "kind": spec.kind,
                "start": self.start + pd.Timedelta(minutes=s),
                "end": self.start + pd.Timedelta(minutes=e),
                "scope_type": spec.scope_type,
                "scope": scope,
                "expected_codes": spec.expected_codes,
                "description": spec.description or INCIDENT_KINDS[spec.kind][2].format(scope=scope),
            }
        )

    def _named(self, spec: IncidentSpec, scope: str) -> np.ndarray:
        wanted = [x.strip() for x in scope.split(",") if x.strip()]
        pos = {name: j for j, name in enumerate(self.fleet.names)}
        bad = [x for x in wanted if x not in pos]
        if bad:
            raise SimulationError(f"incident {spec.kind}: unknown machines {bad[:5]}")
        return np.array([pos[x] for x in wanted], dtype=np.int64)

    def _machines(self, spec: IncidentSpec) -> np.ndarray:
        """Pick ``spec.machines`` machines no other incident took."""
        fleet, free = self.fleet, ~self.taken & (self.born == 0)
        if spec.kind == "off_network":  # laptops leave the network
            pool = np.flatnonzero(free & ~fleet.is_mak & (fleet.kind == LAPTOP))
        else:
            want_mak = spec.kind == "mak_exhausted"
            site_i = {"clock_drift": 1, "no_client_key": 2}.get(spec.kind, 0) % len(fleet.sites)
            pool = np.flatnonzero(
                free & (fleet.is_mak == want_mak) & ((fleet.site == site_i) | want_mak)
            )
        if pool.size == 0:
            pool = np.flatnonzero(free)
        return np.sort(self.rng.choice(pool, size=min(spec.machines, pool.size), replace=False))

    def _retire(self, w: Window, spec: IncidentSpec) -> None:
        """Retire ``spec.machines`` clients of the host one by one over the window."""
        fleet = self.fleet
        served = fleet.site_host[fleet.site] == w.host
        pool = np.flatnonzero(served & ~self.taken & ~fleet.is_mak & (self.born == 0))
        if pool.size == 0:
            raise SimulationError(
                f"incident decommission: KMS host {spec.scope!r} serves no machine to retire"
            )
        pick = self.rng.choice(pool, size=min(spec.machines, pool.size), replace=False)
        when = np.sort(self.rng.uniform(max(w.start, 0.0), w.end, pick.size))
        self.retire[pick] = when
        self.taken[pick] = True
        self.retired = True
        w.mask = np.zeros(fleet.n, bool)
        w.mask[pick] = True
