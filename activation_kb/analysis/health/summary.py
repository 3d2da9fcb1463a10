"""What alerting and the report read: counts by status, machines to act on first, host alerts.

:func:`health_summary` condenses :func:`~.device.fleet_health` and :func:`~.kms.kms_health`
into a JSON-ready dict; :func:`write_health` saves ``health.json`` and ``health.csv`` beside the
report's ``incidents.json``; :func:`at_risk` is the condition of ``--fail-on-risk`` (exit 4).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .device import STATUSES
from .kms import KmsHealth

__all__ = ["health_summary", "act_first", "write_health", "at_risk", "RISK_WITHIN"]

#: A KMS host forecast below its threshold within this is a risk for ``--fail-on-risk``.
RISK_WITHIN = pd.Timedelta(days=14)
_ACT_COLUMNS = ("device", "status", "reason", "license_state", "projected_expiry", "days_left",
                "site", "kms_host", "last_record", "silent_for", "last_failure_code",
                "last_failure_category", "state_source")


def act_first(devices: pd.DataFrame, top_n: int | None = 20, lang: str = "en",
              catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the machines to act on first, with the catalogue's cause and resolution.

    Expired and Notification machines first (longest expired first), then those at risk (least
    days left first); ``ok`` and ``unknown`` machines are not listed.

    Parameters
    ----------
    devices : pandas.DataFrame
        Output of :func:`~activation_kb.fleet_health`.
    top_n : int, optional
        How many rows (None: all).
    lang : {"en", "fr"}
        Language of the catalogue text.
    catalogue : pandas.DataFrame, optional
        A catalogue to take the text from instead of the shipped one.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`_ACT_COLUMNS` plus ``cause`` and ``resolution`` of the last
        failure's code ("" when the machine has no failure on record).
    """
    from ..incidents import catalogue_rows, code_text

    urgent = devices[devices["status"].isin(["expired", "notification", "at_risk"])]
    order = np.lexsort((urgent["days_left"].fillna(-np.inf).to_numpy(),
                        urgent["status"].cat.codes.to_numpy() if hasattr(
                            urgent["status"], "cat") else np.zeros(len(urgent))))
    urgent = urgent.iloc[order]
    if top_n is not None:
        urgent = urgent.head(top_n)
    out = urgent[list(_ACT_COLUMNS)].reset_index(drop=True).copy()
    codes = [c for c in out["last_failure_code"].dropna().unique() if c]
    texts = {}
    if codes:
        rows = catalogue_rows(lang, catalogue)
        texts = {c: code_text(c, rows) for c in codes}  # one per distinct code
    out["cause"] = out["last_failure_code"].map(lambda c: texts[c]["cause"] if c in texts else "")
    out["resolution"] = out["last_failure_code"].map(
        lambda c: texts[c]["resolution"] if c in texts else "")
    return out


def at_risk(devices: pd.DataFrame, kms: KmsHealth | None, within: pd.Timedelta = RISK_WITHIN
            ) -> list[str]:
    """Return why ``--fail-on-risk`` should fail: expired machines, hosts short of clients.

    A machine counts when it is expired or in Notification; a KMS host when it is below its
    threshold now or forecast below it within ``within`` (an idle host, which no client asks
    any more, does not).

    Parameters
    ----------
    devices : pandas.DataFrame
        Output of :func:`~activation_kb.fleet_health`.
    kms : KmsHealth, optional
        Output of :func:`~activation_kb.kms_health`.
    within : pandas.Timedelta
        How soon a forecast fall below the threshold counts.

    Returns
    -------
    list of str
        One sentence per reason; empty when nothing is at risk.
    """
    reasons = []
    lost = devices[devices["status"].isin(["expired", "notification"])]
    if len(lost):
        names = ", ".join(lost["device"].astype(str).head(5))
        more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
        reasons.append(f"{len(lost)} machine(s) expired or in notification: {names}{more}")
    if kms is not None and len(kms.hosts):
        hosts = kms.hosts
        soon = hosts["falls_below_on"].notna() & (hosts["falls_below_on"] <= kms.at + within)
        used = hosts["status"] != "idle"  # nobody asks it any more: not a risk
        for message in hosts.loc[(hosts["below_now"] | soon) & used, "message"]:
            reasons.append(str(message))
    return reasons


def _plain(value: Any) -> Any:
    """JSON-ready form of a cell."""
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, pd.Timedelta):
        return None if pd.isna(value) else round(value.total_seconds() / 86400, 3)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else round(float(value), 3)
    if hasattr(value, "item"):
        return value.item()
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def health_summary(devices: pd.DataFrame, kms: KmsHealth | None = None, *,
                   top_n: int | None = 20, lang: str = "en",
                   catalogue: pd.DataFrame | None = None) -> dict[str, Any]:
    """Condense the fleet's and the KMS hosts' health into a JSON-ready dict.

    Parameters
    ----------
    devices : pandas.DataFrame
        Output of :func:`~activation_kb.fleet_health`.
    kms : KmsHealth, optional
        Output of :func:`~activation_kb.kms_health`.
    top_n : int, optional
        How many machines ``act_first`` lists (None: every machine not ok).
    lang : {"en", "fr"}
        Language of the catalogue's cause and resolution.
    catalogue : pandas.DataFrame, optional
        A catalogue to take the text from.

    Returns
    -------
    dict
        ``at``, ``devices`` (total), ``by_status`` (every status, zeros included),
        ``act_first`` (machines with cause and resolution), ``kms_hosts`` (one dict per host
        with its ``message``), ``at_risk`` (bool: the ``--fail-on-risk`` condition) and
        ``alerts`` (why).
    """
    counts = devices["status"].astype(str).value_counts()
    at = devices["assessed_at"].iloc[0] if len(devices) else (kms.at if kms else None)
    alerts = at_risk(devices, kms)
    return {
        "at": _plain(at),
        "devices": int(len(devices)),
        "by_status": {s: int(counts.get(s, 0)) for s in STATUSES},
        "act_first": _records(act_first(devices, top_n, lang, catalogue)),
        "kms_hosts": _records(kms.hosts) if kms is not None else [],
        "at_risk": bool(alerts),
        "alerts": alerts,
    }


def write_health(devices: pd.DataFrame, kms: KmsHealth | None, directory: str | Path, *,
                 lang: str = "en") -> dict[str, Path]:
    """Write ``health.json`` (the summary, every machine to act on) and ``health.csv``.

    Parameters
    ----------
    devices : pandas.DataFrame
        Output of :func:`~activation_kb.fleet_health`.
    kms : KmsHealth, optional
        Output of :func:`~activation_kb.kms_health`.
    directory : str or Path
        Existing directory (the report's output folder, beside ``incidents.json``).
    lang : {"en", "fr"}
        Language of the catalogue text.

    Returns
    -------
    dict
        ``{"health.json": path, "health.csv": path}``.
    """
    out = Path(directory)
    paths = {"health.json": out / "health.json", "health.csv": out / "health.csv"}
    summary = health_summary(devices, kms, top_n=None, lang=lang)
    paths["health.json"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    flat = devices.copy()
    flat["silent_for"] = (flat["silent_for"].dt.total_seconds() / 86400).round(3)
    flat = flat.rename(columns={"silent_for": "silent_days"})
    flat.to_csv(paths["health.csv"], index=False, date_format="%Y-%m-%dT%H:%M:%S%z")
    return paths
