"""Both assessments in one pass: the records are read and placed on their devices once.

:func:`assess_health` is what the report and the ``health`` command call: it reads the source
once, places every record on its device once, and runs :func:`~.device.fleet_health` and
:func:`~.kms.kms_health` on that, as of the same time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import AnalysisError
from ...params import check_date, check_duration, check_lang
from ._records import device_records
from ._source import events_of
from .device import VALIDITY, assess_fleet
from .kms import KmsHealth, assess_kms
from .summary import health_summary, write_health

__all__ = ["HealthAssessment", "assess_health"]


@dataclass(frozen=True)
class HealthAssessment:
    """The fleet's and the KMS hosts' health as of one time.

    Attributes
    ----------
    devices : pandas.DataFrame
        :func:`~activation_kb.fleet_health`'s frame.
    kms : KmsHealth
        :func:`~activation_kb.kms_health`'s result.
    at : pandas.Timestamp
        When both were assessed.
    """

    devices: pd.DataFrame
    kms: KmsHealth
    at: pd.Timestamp

    def summary(self, top_n: int | None = 20, lang: str = "en") -> dict[str, Any]:
        """Return :func:`~activation_kb.health_summary` of both (JSON-ready).

        Parameters
        ----------
        top_n : int, optional
            How many machines ``act_first`` lists (None: every machine not ok).
        lang : {"en", "fr"}
            Language of the catalogue's cause and resolution.

        Returns
        -------
        dict
            Counts by status, machines to act on, KMS hosts, ``at_risk`` and ``alerts``.
        """
        return health_summary(self.devices, self.kms, top_n=top_n, lang=lang)

    def write(self, directory: str | Path, lang: str = "en") -> dict[str, Path]:
        """Write ``health.json`` and ``health.csv`` (:func:`~activation_kb.write_health`).

        Parameters
        ----------
        directory : str or Path
            Existing directory (the report's output folder).
        lang : {"en", "fr"}
            Language of the catalogue text.

        Returns
        -------
        dict
            ``{"health.json": path, "health.csv": path}``.
        """
        return write_health(self.devices, self.kms, directory, lang=lang)

    @property
    def at_risk(self) -> list[str]:
        """Why ``--fail-on-risk`` fails: expired machines, hosts short of clients ([]: none)."""
        return self.summary(top_n=0)["alerts"]


def assess_health(
    source: Any,
    at: Any = None,
    *,
    inventory: Any = None,
    horizon: str | pd.Timedelta = "30D",
    validity: str | pd.Timedelta = VALIDITY,
    tz: str | None = None,
    lang: str = "en",
) -> HealthAssessment:
    """Assess every device and every KMS host at once, reading the source once.

    Parameters
    ----------
    source : events frame, AttemptTable, FleetAnalysis, path(s)
        The records (see :func:`~activation_kb.fleet_health`).
    at : str or timestamp, optional
        When to assess; default: the end of the data (one time for both).
    inventory : path, list of paths or frame, optional
        Licence-state snapshots combined with the records (newer fact wins).
    horizon : str or Timedelta
        How close an expiry puts a failing machine at risk, and how far the KMS forecast goes.
    validity : str or Timedelta
        Activation validity after a successful KMS or ADBA activation.
    tz : str, optional
        Time zone of a naive ``at`` and of local times in CSV exports.
    lang : {"en", "fr"}
        Language of the machines' reasons and the hosts' messages.

    Returns
    -------
    HealthAssessment
        ``devices``, ``kms`` and ``at``; ``summary()``, ``write(directory)``, ``at_risk``.

    Raises
    ------
    ParameterError
        For a bad ``at`` (:class:`~activation_kb.errors.DateError`), ``horizon`` or
        ``validity`` (:class:`~activation_kb.errors.DurationError`).
    AnalysisError
        For a source it cannot read, or no record.

    Examples
    --------
    >>> from activation_kb import simulate_fleet
    >>> events, _ = simulate_fleet(60, 20, seed=1, incidents="none")
    >>> health = assess_health(events)
    >>> health.at_risk
    []
    """
    until = None if at is None else check_date(at, "at", tz=tz).value
    ahead = check_duration(horizon, "horizon")
    events, reader = events_of(source, tz)
    rec = device_records(events)
    lang = check_lang(lang)
    devices = assess_fleet(events, until, inventory=inventory, horizon=horizon,
                           validity=validity, reader=reader, rec=rec, lang=lang)
    when = devices["assessed_at"].iloc[0].value if len(devices) else until
    if when is None:
        raise AnalysisError("no record to assess: the source holds no event")
    kms = assess_kms(events, int(np.int64(when)), ahead, rec=rec, lang=lang)
    return HealthAssessment(devices=devices, kms=kms, at=pd.Timestamp(when, tz="UTC"))
