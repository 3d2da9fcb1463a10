"""The simulated fleet: sites, KMS hosts and machines, as numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SimulationError

__all__ = ["Fleet", "build_fleet", "DEFAULT_SITES", "DEFAULT_KMS_HOSTS", "BRANCH_SITE"]

DEFAULT_SITES = ["paris", "lyon", "berlin", "madrid"]
DEFAULT_KMS_HOSTS = ["kms01.contoso.com", "kms02.contoso.com"]
#: small site opened during the default "kms_count_low" incident
BRANCH_SITE = "branch-oslo"
#: Windows 10/11 Enterprise and Windows Server 2022 Standard activation (SKU) IDs
SKU_CLIENT = "73111121-5638-40f6-bc11-f1d7b0d64300"
SKU_SERVER = "de32eafd-aaee-4662-9444-c1befb41bde2"
APP_ID = "55c92734-d682-4d71-983e-d6ec3f16059f"


@dataclass
class Fleet:
    """Per-machine arrays (index = machine) and the site / KMS host tables."""

    names: np.ndarray  # object array of machine names
    site: np.ndarray  # int index into sites
    sites: list[str]
    kms_hosts: list[str]
    site_host: np.ndarray  # site index -> kms host index (the SRV record of the site)
    is_server: np.ndarray
    is_vm: np.ndarray
    is_mak: np.ndarray
    office_hours: np.ndarray  # machines switched off at night / weekends
    offset_min: np.ndarray  # client clock offset, minutes
    cmid: np.ndarray  # object array of CMIDs

    @property
    def n(self) -> int:
        """Number of machines."""
        return len(self.names)

    @property
    def min_count(self) -> np.ndarray:
        """KMS threshold of each machine (25 client editions, 5 servers)."""
        return np.where(self.is_server, 5, 25).astype(np.int16)


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).view(np.uint64)
    out = np.empty(n, dtype=object)
    for i in range(n):
        h = f"{int(raw[i, 0]):016x}{int(raw[i, 1]):016x}"
        out[i] = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
    return out


def build_fleet(
    devices: int,
    rng: np.random.Generator,
    sites: list[str] | None,
    kms_hosts: list[str] | None,
    branch: str | None,
) -> Fleet:
    """Draw a fleet of ``devices`` machines over ``sites`` served by ``kms_hosts``.

    ``branch`` (if given) is an extra small site of min(20, 3 %) machines.
    """
    if devices < 1:
        raise SimulationError(f"devices must be >= 1, got {devices}; pass a positive fleet size")
    sites = list(sites) if sites else list(DEFAULT_SITES)
    kms_hosts = list(kms_hosts) if kms_hosts else list(DEFAULT_KMS_HOSTS)
    if not 1 <= len(kms_hosts) <= 6:
        raise SimulationError(f"kms_hosts must name 1 to 6 hosts, got {len(kms_hosts)}")
    n_branch = 0
    if branch:
        n_branch = int(min(20, max(6, round(devices * 0.03)))) if devices >= 40 else 0
        if n_branch:
            sites = sites + [branch]
    n_main = devices - n_branch
    weights = np.linspace(2.0, 1.0, len(sites) - (1 if n_branch else 0))
    site = rng.choice(len(weights), size=n_main, p=weights / weights.sum())
    site = np.concatenate([np.sort(site), np.full(n_branch, len(sites) - 1)]).astype(np.int32)
    site_host = np.arange(len(sites)) % len(kms_hosts)
    is_server = rng.random(devices) < 0.15
    is_vm = rng.random(devices) < np.where(is_server, 0.6, 0.1)
    is_mak = (rng.random(devices) < 0.04) & (site < len(sites) - (1 if n_branch else 0))
    office = ~is_server & (rng.random(devices) < 0.8)
    offset = np.round(rng.normal(0.0, 1.5, devices)).astype(np.int64)
    names = np.empty(devices, dtype=object)
    counters: dict[str, int] = {}
    for i in range(devices):
        s = sites[site[i]]
        kind = "srv" if is_server[i] else "ws"
        k = counters.get(s + kind, 0) + 1
        counters[s + kind] = k
        names[i] = f"{s.upper()}-{kind.upper()}{k:05d}"
    return Fleet(
        names,
        site,
        sites,
        kms_hosts,
        site_host,
        is_server,
        is_vm,
        is_mak,
        office,
        offset,
        _uuids(rng, devices),
    )
