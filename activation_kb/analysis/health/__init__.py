"""Fleet health now and ahead: which machines lose activation when, which KMS hosts are at risk.

:func:`fleet_health` (one row per device: state now, projected expiry, status) lives in
:mod:`.device`, :func:`kms_health` (per KMS host and day, and the count forecast) in
:mod:`.kms`; :func:`assess_health` (:mod:`.assess`) runs both reading the records once;
:mod:`.summary` turns them into what alerting reads (``health.json``, ``health.csv``). Sources
(events, attempt tables, paths, more via :func:`register_source`) are read by :mod:`._source`.
"""

from __future__ import annotations

from ._source import register_source
from .assess import HealthAssessment, assess_health
from .device import HEALTH_COLUMNS, STATUSES, fleet_health
from .kms import KmsHealth, kms_health
from .summary import act_first, at_risk, health_summary, write_health

__all__ = ["HEALTH_COLUMNS", "STATUSES", "HealthAssessment", "KmsHealth", "act_first",
           "assess_health", "at_risk", "fleet_health", "health_summary", "kms_health",
           "register_source", "write_health"]
