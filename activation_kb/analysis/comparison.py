"""The analysed period against the previous period of the same length: up or down.

:func:`previous_period` counts, over the attempts before the period that the analysis already
read for the spike baseline, the failed attempts, failure rate and failing devices of the period
of the same length just before it; the report says whether each went up or down.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .attempts import AttemptTable

__all__ = ["COMPARED", "previous_period", "previous_window", "previous_result"]

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
    before, start = previous_window(start, end)
    earlier = table.between(before, start)
    if len(earlier.attempts) == 0:
        return None
    return previous_result(before, start, _figures(earlier), table.attempts["time"].min())


def previous_window(start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return ``(before, start)``: the period of the same length just before ``[start, end)``."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    return start - (end - start), start


def previous_result(before: pd.Timestamp, start: pd.Timestamp, figures: dict[str, Any],
                    first: pd.Timestamp) -> dict[str, Any]:
    """Return :func:`previous_period`'s answer from the previous period's figures.

    Parameters
    ----------
    before, start : pandas.Timestamp
        The previous period (:func:`previous_window`).
    figures : dict
        ``attempts``, ``failed_attempts``, ``failure_rate`` and ``failing_devices`` of it.
    first : pandas.Timestamp
        The first attempt of the data read (the previous period is complete when the data
        begin at most a day after its start).
    """
    return {"period_start": before.isoformat(), "period_end": start.isoformat(), **figures,
            "complete": bool(first <= before + pd.Timedelta("1D"))}
