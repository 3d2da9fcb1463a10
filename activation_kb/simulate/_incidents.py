"""Incident specifications and the default incident set of the fleet simulator."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import SimulationError

__all__ = [
    "IncidentSpec",
    "INCIDENT_KINDS",
    "LONG_KINDS",
    "default_incidents",
    "parse_incidents",
    "incidents_frame",
]

#: kind -> (scope_type, expected codes, description template)
INCIDENT_KINDS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "dns_srv_missing": (
        "site",
        ("0x8007232B", "0xC004F074"),
        "_vlmcs._tcp SRV record missing in DNS for site {scope}",
    ),
    "kms_host_down": (
        "kms_host",
        ("0xC004F074", "0x800706BA"),
        "KMS host {scope} down / TCP 1688 blocked",
    ),
    "kms_count_low": (
        "site",
        ("0xC004F038",),
        "new isolated site {scope} with its own KMS host: count below the client threshold",
    ),
    "clock_drift": ("machines", ("0xC004F06C",), "clock drift beyond 4 h on a group of machines"),
    "mak_exhausted": (
        "machines",
        ("0xC004C020",),
        "MAK key exhausted: new MAK machines cannot activate",
    ),
    "no_client_key": (
        "machines",
        ("0xC004F014",),
        "new image deployed without the KMS client setup key",
    ),
    "kms_host_unactivated": (
        "kms_host",
        ("0xC004F041",),
        "KMS host {scope} is itself not activated",
    ),
    # Health scenarios (opt-in: never in the default set). Their effects last longer than their
    # window: validity runs down while machines cannot renew, counts age over 30 days.
    "off_network": (
        "machines",
        ("0x8007232B", "0xC004F074"),
        "machines away from the corporate network (not reporting): activation validity runs down",
    ),
    "site_cut_off": (
        "site",
        ("0xC004F074", "0x800706BA"),
        "site {scope} cut off from its KMS host (WAN link down or TCP 1688 blocked)",
    ),
    "decommission": (
        "kms_host",
        ("0xC004F038",),
        "clients of {scope} decommissioned one by one: its count falls over the next 30 days",
    ),
}
#: Incident kinds whose window may start before the simulation (machines already away or cut
#: off at the start: their last renewal came before the window).
LONG_KINDS = ("off_network", "site_cut_off", "decommission")


@dataclass(frozen=True)
class IncidentSpec:
    """One incident to inject into a simulated fleet.

    Parameters
    ----------
    kind : str
        One of :data:`INCIDENT_KINDS`.
    start, end : float or str or pandas.Timestamp
        Window; a number is days after the simulation start, otherwise a UTC timestamp.
    scope : str
        Site name, KMS host name, or a comma-joined list of machine names (see ``kind``).
        For ``machines`` kinds an empty scope lets the simulator pick ``machines`` machines.
    machines : int
        How many machines a ``machines`` incident picks when ``scope`` is empty; for
        ``decommission``, how many clients of the KMS host are retired (one by one, spread
        over the window).
    description : str
        Free text; a default is built from the kind.
    """

    kind: str
    start: Any
    end: Any
    scope: str = ""
    machines: int = 20
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in INCIDENT_KINDS:
            raise SimulationError(
                f"unknown incident kind {self.kind!r}; expected one of {', '.join(INCIDENT_KINDS)}"
            )

    @property
    def scope_type(self) -> str:
        """``site``, ``kms_host`` or ``machines``."""
        return INCIDENT_KINDS[self.kind][0]

    @property
    def expected_codes(self) -> list[str]:
        """The codes this incident produces."""
        return list(INCIDENT_KINDS[self.kind][1])

    def as_dict(self) -> dict[str, Any]:
        """Return the spec as a plain dict.

        Returns
        -------
        dict
            One key per field.
        """
        return asdict(self)


def default_incidents(
    days: float, sites: list[str], kms_hosts: list[str], branch: str
) -> list[IncidentSpec]:
    """Return the default incident set spread over ``days`` (fractions of the span)."""
    d = float(days)
    main = sites[0]
    specs = [
        IncidentSpec("dns_srv_missing", 0.10 * d, 0.10 * d + 1.5, main),
        IncidentSpec("kms_host_down", 0.25 * d, 0.25 * d + 1.0, kms_hosts[-1]),
        IncidentSpec("kms_count_low", 0.35 * d, 0.35 * d + 4.0, branch),
        IncidentSpec("clock_drift", 0.50 * d, 0.50 * d + 2.0, "", machines=25),
        IncidentSpec("mak_exhausted", 0.62 * d, 0.62 * d + 2.0, "", machines=15),
        IncidentSpec("no_client_key", 0.75 * d, 0.75 * d + 2.0, "", machines=30),
        IncidentSpec("kms_host_unactivated", 0.87 * d, 0.87 * d + 1.0, kms_hosts[0]),
    ]
    return specs


def parse_incidents(value: Any) -> list[IncidentSpec] | None:
    """Turn ``"default"``, ``"none"``, a list of specs/dicts or a JSON path into specs.

    Returns ``None`` for ``"default"`` (the simulator builds the default set itself).
    """
    if isinstance(value, str):
        if value == "default":
            return None
        if value == "none":
            return []
        path = Path(value)
        if not path.is_file():
            raise SimulationError(
                f"incidents={value!r} is neither 'default', 'none' nor an existing JSON file"
            )
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SimulationError(f"incidents file {value} is not valid JSON: {exc}") from exc
    if value is None:
        return []
    out = []
    for item in value:
        if isinstance(item, IncidentSpec):
            out.append(item)
        elif isinstance(item, dict):
            keys = {"kind", "start", "end", "scope", "machines", "description"}
            try:
                out.append(IncidentSpec(**{k: v for k, v in item.items() if k in keys}))
            except TypeError as exc:
                raise SimulationError(f"incident {item!r} lacks a field: {exc}") from exc
        else:
            raise SimulationError(
                f"an incident must be an IncidentSpec or a dict, got {type(item).__name__}"
            )
    return out


def incidents_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build the ground-truth incidents frame of the contract."""
    cols = [
        "incident_id",
        "kind",
        "start",
        "end",
        "scope_type",
        "scope",
        "expected_codes",
        "description",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    frame["end"] = pd.to_datetime(frame["end"], utc=True)
    for c in ("incident_id", "kind", "scope_type", "scope", "description"):
        frame[c] = frame[c].astype("string")
    return frame
