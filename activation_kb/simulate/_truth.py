"""Ground truth of a simulated fleet's activation health: per machine and per KMS host."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..schema import LICENSE_STATES
from ._engine import ModelState, state_at
from ._fleet import DESKTOP, LAPTOP, SERVER, Fleet

if TYPE_CHECKING:
    from . import _Plan

__all__ = ["HealthSimulation", "device_truth", "kms_truth", "STATE_NAMES"]

STATE_NAMES = LICENSE_STATES
_KINDS = {DESKTOP: "desktop", LAPTOP: "laptop", SERVER: "server"}


@dataclass(frozen=True)
class HealthSimulation:
    """A simulated fleet with the ground truth of its activation health.

    Attributes
    ----------
    events, incidents : pandas.DataFrame
        What :func:`~activation_kb.simulate_fleet` returns.
    devices : pandas.DataFrame
        One row per machine: ``device``, ``cmid``, ``site``, ``kind`` (desktop, laptop,
        server), ``edition`` (client, server), ``kms_host`` (the host of its site), ``mak``,
        ``deployed`` and ``retired`` (NaT: at the start / never), ``away`` (off the network at
        the end), ``last_activation``, ``true_expiry`` (end of the activation validity; for a
        machine never activated the end of its initial grace; NaT for MAK), ``true_state`` and
        ``true_state_name`` at the end, and ``expired`` (its activation ran out: OOT grace or
        Notification at the end).
    kms_counts : pandas.DataFrame
        ``host``, ``time``, ``count``: the distinct machines that reached the host in the 30
        days before ``time``, after every simulated hour (not capped at 50).
    kms_hosts : pandas.DataFrame
        ``host``, ``site``, ``threshold`` (25 when client editions use it, else 5),
        ``machines`` (that ever reached it) and ``falls_below``: the first time its count fell
        below the threshold after having reached it (NaT: never).
    start, end : pandas.Timestamp
        The simulated span.
    """

    events: pd.DataFrame
    incidents: pd.DataFrame
    devices: pd.DataFrame
    kms_counts: pd.DataFrame
    kms_hosts: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp


def _times(start: pd.Timestamp, minutes: np.ndarray) -> pd.DatetimeIndex:
    """UTC times ``minutes`` after ``start``; NaT for infinite values."""
    finite = np.isfinite(minutes)
    ns = np.where(finite, np.round(np.where(finite, minutes, 0) * 60e9), 0).astype(np.int64)
    out = pd.DatetimeIndex(start + pd.to_timedelta(ns, unit="ns"))
    return out.where(finite, pd.NaT)


def device_truth(fleet: Fleet, state: ModelState, plan: _Plan, start: pd.Timestamp,
                 end: pd.Timestamp) -> pd.DataFrame:
    """One row per machine: its true licence state and expiry at ``end``."""
    minutes = (end - start).total_seconds() / 60.0
    now = np.full(fleet.n, minutes)
    lic, _ = state_at(state.activated, state.expiry, state.grace_end, now)
    permanent = fleet.is_mak & state.activated
    lic = np.where(permanent, 1, lic).astype(np.int8)
    expiry = np.where(state.activated, state.expiry, state.grace_end)
    expiry = np.where(permanent, np.inf, expiry)
    away = np.zeros(fleet.n, bool)
    for w in plan.windows:
        if w.spec.kind == "off_network" and w.start <= minutes < w.end:
            away |= w.mask
    base = fleet.site_host[fleet.site]
    return pd.DataFrame({
        "device": pd.array(fleet.names.astype(str), dtype="string"),
        "cmid": pd.array(fleet.cmid.astype(str), dtype="string"),
        "site": pd.array(np.array(fleet.sites, dtype=object)[fleet.site], dtype="string"),
        "kind": pd.Categorical([_KINDS[int(k)] for k in fleet.kind], list(_KINDS.values())),
        "edition": pd.Categorical(np.where(fleet.is_server, "server", "client"),
                                  ["client", "server"]),
        "kms_host": pd.array(np.array(plan.hosts, dtype=object)[base], dtype="string"),
        "mak": fleet.is_mak.copy(),
        "deployed": _times(start, np.where(plan.born > 0, plan.born, np.inf)),
        "retired": _times(start, plan.retire),
        "away": away,
        "last_activation": _times(start, np.where(np.isfinite(state.last_success),
                                                  state.last_success, np.inf)),
        "true_expiry": _times(start, expiry),
        "true_state": pd.array(lic, dtype="Int8"),
        "true_state_name": pd.Categorical([STATE_NAMES[int(v)] for v in lic],
                                          list(STATE_NAMES.values())),
        "expired": np.isin(lic, (3, 5)),
    })


def kms_truth(fleet: Fleet, state: ModelState, hosts: list[str], host_sites: list[str],
              start: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each host's true count after every step, and when it first fell below its threshold."""
    steps, n_hosts = state.step_counts.shape
    counts = pd.DataFrame({
        "host": pd.Categorical(np.tile(np.array(hosts, dtype=object), steps), hosts),
        "time": np.repeat(_times(start, state.step_times), n_hosts),
        "count": state.step_counts.reshape(-1).astype(np.int64),
    })
    reached = np.isfinite(state.last_contact)
    rows = []
    for j, host in enumerate(hosts):
        users = reached[:, j]
        threshold = 25 if (users & ~fleet.is_server).any() else 5
        series = state.step_counts[:, j]
        above = np.flatnonzero(series >= threshold)
        falls = pd.NaT
        if above.size:
            below = np.flatnonzero(series[above[0]:] < threshold)
            if below.size:
                falls = start + pd.Timedelta(minutes=float(state.step_times[above[0] + below[0]]))
        rows.append({"host": host, "site": host_sites[j] if j < len(host_sites) else "",
                     "threshold": threshold, "machines": int(users.sum()), "falls_below": falls})
    hosts_frame = pd.DataFrame(rows, columns=["host", "site", "threshold", "machines",
                                              "falls_below"])
    hosts_frame["falls_below"] = pd.to_datetime(hosts_frame["falls_below"], utc=True)
    return counts, hosts_frame
