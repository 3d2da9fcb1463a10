"""The analysed period against the previous period of the same length: up or down.

:func:`previous_period` counts, over the attempts before the period that the analysis already
read for the spike baseline, the failed attempts, failure rate and failing devices of the period
of the same length just before it; the report says whether each went up or down.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .attempts import AttemptTable

__all__ = ["COMPARED", "previous_period"]

#: Figures compared between the period and the previous one.
COMPARED = ("failed_attempts", "failure_rate", "failing_devices")


def _figures(table: AttemptTable) -> dict[str, Any]:
    attempts = table.attempts
    failed = int(attempts["failed"].sum())
    return {
        "attempts": int(len(attempts)),
        "failed_attempts": failed,
        "failure_rate": round(failed / len(attempts), 4) if len(attempts) else 0.0,
        "failing_devices": int(attempts.loc[attempts["failed"], "device"].nunique()),
    }


def previous_period(table: AttemptTable, start: pd.Timestamp | None,
                    end: pd.Timestamp | None) -> dict[str, Any] | None:
    """Return the figures of the period of the same length just before ``[start, end)``.

    Parameters
    ----------
    table : AttemptTable
        Attempts of the period and of the weeks before it (the baseline history).
    start, end : pandas.Timestamp or None
        The analysed period (UTC); without a start there is no previous period.

    Returns
    -------
    dict or None
        ``period_start``, ``period_end``, ``attempts``, ``failed_attempts``, ``failure_rate``,
        ``failing_devices`` and ``complete`` (False when the data begin after the previous
        period's start); None when the data hold no attempt before ``start``.
    """
    if start is None or end is None or len(table.attempts) == 0:
        return None
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    before = start - (end - start)
    earlier = table.between(before, start)
    if len(earlier.attempts) == 0:
        return None
    first = table.attempts["time"].min()
    return {"period_start": before.isoformat(), "period_end": start.isoformat(),
            **_figures(earlier), "complete": bool(first <= before + pd.Timedelta("1D"))}
