"""The simulated fleet: sites, KMS hosts, machines and when each machine is on the network.

Machines are numpy arrays indexed by machine number. Three kinds, named the way admins name them:

* ``SITE-WS00001`` desktops: on during working days (logon between 07:00 and 08:30 UTC, off after
  18:00-20:00); a fifth of them are never switched off.
* ``SITE-LT00001`` laptops: at the office on most working days; on some days at home, on the
  corporate network only through the VPN; off on holidays and most weekends. At home without VPN
  the ``_vlmcs._tcp`` SRV record cannot be resolved (or a statically configured KMS host cannot be
  reached), which is the background of DNS and KMS-unreachable failures every real fleet has.
* ``SITE-SRV00001`` servers: always on, KMS threshold 5 (clients need 25).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SimulationError

__all__ = [
    "Fleet",
    "build_fleet",
    "DEFAULT_SITES",
    "DEFAULT_KMS_HOSTS",
    "BRANCH_SITE",
    "DESKTOP",
    "LAPTOP",
    "SERVER",
]

DEFAULT_SITES = ["paris", "lyon", "berlin", "madrid"]
DEFAULT_KMS_HOSTS = ["kms01.contoso.com", "kms02.contoso.com"]
#: small site opened during the default "kms_count_low" incident
BRANCH_SITE = "branch-oslo"
#: Windows 10/11 Enterprise and Windows Server 2022 Standard activation (SKU) IDs
SKU_CLIENT = "73111121-5638-40f6-bc11-f1d7b0d64300"
SKU_SERVER = "de32eafd-aaee-4662-9444-c1befb41bde2"
APP_ID = "55c92734-d682-4d71-983e-d6ec3f16059f"

DESKTOP, LAPTOP, SERVER = 0, 1, 2
_KIND_TAG = {DESKTOP: "WS", LAPTOP: "LT", SERVER: "SRV"}

# Shares of the fleet and behaviour probabilities (documented in docs/readme/simulate.md).
SERVER_SHARE = 0.15
LAPTOP_SHARE_OF_CLIENTS = 0.35
DESKTOP_ALWAYS_ON = 0.2
LAPTOP_DAY = {"office": 0.62, "home": 0.30}  # rest: off (leave, sick, travel without the laptop)
LAPTOP_WEEKEND_ON = 0.12
VPN_AT_HOME = 0.45
STATIC_KMS = 0.2  # laptops with ``slmgr /skms`` set: off-network they fail to reach the host


@dataclass
class Fleet:
    """Per-machine arrays (index = machine) and the site / KMS host tables."""

    names: np.ndarray  # object array of machine names
    site: np.ndarray  # int index into sites
    sites: list[str]
    kms_hosts: list[str]
    site_host: np.ndarray  # site index -> kms host index (the SRV record of the site)
    kind: np.ndarray  # DESKTOP, LAPTOP or SERVER
    is_vm: np.ndarray
    is_mak: np.ndarray
    static_kms: np.ndarray  # KMS host set with slmgr /skms (no DNS lookup)
    offset_min: np.ndarray  # client clock offset, minutes
    cmid: np.ndarray  # object array of CMIDs
    on_start: np.ndarray  # (machine, day) minute of the day the machine comes on; NaN: off all day
    on_end: np.ndarray  # (machine, day) minute of the day it goes off
    on_lan: np.ndarray  # (machine, day) on the corporate network (office or VPN)

    @property
    def n(self) -> int:
        """Number of machines."""
        return len(self.names)

    @property
    def is_server(self) -> np.ndarray:
        """True for servers (KMS threshold 5)."""
        return self.kind == SERVER

    @property
    def min_count(self) -> np.ndarray:
        """KMS threshold of each machine (25 client editions, 5 servers)."""
        return np.where(self.is_server, 5, 25).astype(np.int16)


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    out = np.empty(n, dtype=object)
    for i in range(n):
        h = f"{int(raw[i, 0]):016x}{int(raw[i, 1]):016x}"
        out[i] = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
    return out


def _schedule(
    kind: np.ndarray, days: int, first_weekday: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw each machine's on-window and network state for every day of the span."""
    n = kind.size
    weekday = (first_weekday + np.arange(days)) % 7
    workday = np.broadcast_to(weekday < 5, (n, days))
    start = np.full((n, days), np.nan, dtype=np.float32)
    end = np.full((n, days), np.nan, dtype=np.float32)
    lan = np.ones((n, days), dtype=bool)

    server = kind == SERVER
    start[server] = 0.0
    end[server] = 1440.0

    desk = kind == DESKTOP
    always = desk & (rng.random(n) < DESKTOP_ALWAYS_ON)
    start[always] = 0.0
    end[always] = 1440.0
    office = (desk & ~always)[:, None] & workday
    k = int(office.sum())
    start[office] = 420 + rng.uniform(0, 90, k)
    end[office] = 1080 + rng.uniform(0, 120, k)

    lap = (kind == LAPTOP)[:, None]
    draw = rng.random((n, days))
    at_office = lap & workday & (draw < LAPTOP_DAY["office"])
    at_home = lap & workday & (draw >= LAPTOP_DAY["office"]) & (
        draw < LAPTOP_DAY["office"] + LAPTOP_DAY["home"]
    )
    weekend_on = lap & ~workday & (draw < LAPTOP_WEEKEND_ON)
    home = at_home | weekend_on
    k = int(at_office.sum())
    start[at_office] = 450 + rng.uniform(0, 90, k)
    end[at_office] = 1020 + rng.uniform(0, 120, k)
    k = int(at_home.sum())
    start[at_home] = 480 + rng.uniform(0, 90, k)
    end[at_home] = 990 + rng.uniform(0, 180, k)
    k = int(weekend_on.sum())
    start[weekend_on] = 600 + rng.uniform(0, 300, k)
    end[weekend_on] = np.minimum(start[weekend_on] + rng.uniform(60, 300, k), 1439)
    lan[home] = rng.random(int(home.sum())) < VPN_AT_HOME
    return start, end, lan


def build_fleet(
    devices: int,
    rng: np.random.Generator,
    sites: list[str] | None,
    kms_hosts: list[str] | None,
    branch: str | None,
    days: int,
    first_weekday: int,
) -> Fleet:
    """Draw a fleet of ``devices`` machines over ``sites`` served by ``kms_hosts``.

    ``branch`` (if given) is an extra small site of min(20, 3 %) machines. ``days`` is the number of
    calendar days to schedule, starting on weekday ``first_weekday`` (0 = Monday).
    """
    if devices < 1:
        raise SimulationError(f"devices must be >= 1, got {devices}; pass a positive fleet size")
    sites = list(DEFAULT_SITES) if sites is None else list(sites)
    kms_hosts = list(DEFAULT_KMS_HOSTS) if kms_hosts is None else list(kms_hosts)
    if not sites or len(set(sites)) != len(sites):
        raise SimulationError(f"sites must be distinct names, got {sites}")
    if not 1 <= len(kms_hosts) <= 6:
        raise SimulationError(f"kms_hosts must name 1 to 6 hosts, got {len(kms_hosts)}")
    n_branch = 0
    if branch and branch not in sites:
        n_branch = int(min(20, max(6, round(devices * 0.03)))) if devices >= 40 else 0
        if n_branch:
            sites = sites + [branch]
    n_main = devices - n_branch
    weights = np.linspace(2.0, 1.0, len(sites) - (1 if n_branch else 0))
    site = rng.choice(len(weights), size=n_main, p=weights / weights.sum())
    site = np.concatenate([np.sort(site), np.full(n_branch, len(sites) - 1)]).astype(np.int32)
    site_host = np.arange(len(sites)) % len(kms_hosts)
    draw = rng.random(devices)
    laptop_below = SERVER_SHARE + (1 - SERVER_SHARE) * LAPTOP_SHARE_OF_CLIENTS
    kind = np.where(
        draw < SERVER_SHARE, SERVER, np.where(draw < laptop_below, LAPTOP, DESKTOP)
    ).astype(np.int8)
    is_vm = rng.random(devices) < np.where(kind == SERVER, 0.6, np.where(kind == DESKTOP, 0.1, 0))
    in_main = site < len(sites) - (1 if n_branch else 0)
    is_mak = (rng.random(devices) < 0.04) & in_main
    static_kms = (kind == LAPTOP) & (rng.random(devices) < STATIC_KMS)
    offset = np.round(rng.normal(0.0, 1.5, devices)).astype(np.int64)
    names = np.empty(devices, dtype=object)
    counters: dict[tuple[int, int], int] = {}
    for i in range(devices):
        key = (int(site[i]), int(kind[i]))
        counters[key] = counters.get(key, 0) + 1
        names[i] = f"{sites[site[i]].upper()}-{_KIND_TAG[int(kind[i])]}{counters[key]:05d}"
    on_start, on_end, on_lan = _schedule(kind, days, first_weekday, rng)
    return Fleet(
        names=names,
        site=site,
        sites=sites,
        kms_hosts=kms_hosts,
        site_host=site_host,
        kind=kind,
        is_vm=is_vm,
        is_mak=is_mak,
        static_kms=static_kms,
        offset_min=offset,
        cmid=_uuids(rng, devices),
        on_start=on_start,
        on_end=on_end,
        on_lan=on_lan,
    )
