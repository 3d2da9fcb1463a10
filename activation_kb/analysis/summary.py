"""What the report says about a fleet besides its incidents: summary, data quality, unknown codes.

:func:`summarize` counts devices, attempts and failures of an attempt table; :func:`quality_notes`
and :func:`unreadable` describe the input (rejected and unreadable records, silent machines,
empty buckets); :func:`uncatalogued` lists the codes the article does not document.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .attempts import AttemptTable

__all__ = ["EXAMPLES", "SILENT_AFTER", "quality_notes", "summarize", "uncatalogued", "unreadable"]

#: A client silent this long stopped reporting (renewals come every 7 days).
SILENT_AFTER = pd.Timedelta(days=10)
#: How many examples a note lists.
EXAMPLES = 10


def uncatalogued(table: AttemptTable) -> pd.DataFrame:
    """Return the failures' codes that the article does not document, with their description.

    Parameters
    ----------
    table : AttemptTable
        Attempts and errors.

    Returns
    -------
    pandas.DataFrame
        One row per code of category "other": code, failures, devices, symbol, message,
        facility, notes (from :func:`~activation_kb.describe_code`), most failures first.
    """
    from ..catalogue.hresult import describe_code

    errors = table.errors[table.errors["category"] == "other"]
    columns = ["code", "failures", "devices", "symbol", "message", "facility", "notes"]
    if errors.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for code, group in errors.groupby("code", observed=True):
        info = describe_code(str(code))
        rows.append({
            "code": str(code), "failures": int(group["attempt"].nunique()),
            "devices": int(group["device"].nunique()), "symbol": info.symbol or "",
            "message": info.message or "", "facility": info.facility_name or str(info.facility),
            "notes": "; ".join(info.notes),
        })
    return pd.DataFrame(rows, columns=columns).sort_values("failures", ascending=False,
                                                            ignore_index=True)


def unreadable(frame: pd.DataFrame) -> dict[str, Any]:
    """Count the records whose result code is written but unreadable (left out of attempts).

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical events.

    Returns
    -------
    dict
        ``unreadable_codes`` (count) and ``unreadable_code_examples`` (up to
        :data:`EXAMPLES`: file, record, event_id, text).
    """
    from ..telemetry import unreadable_codes

    found = unreadable_codes(frame)
    examples = found.head(EXAMPLES).astype(object).where(found.head(EXAMPLES).notna(), None)
    return {
        "unreadable_codes": int(len(found)),
        "unreadable_code_examples": [
            {"file": str(r["source_file"]), "record": r["source_record"],
             "event_id": r["event_id"], "text": str(r["text"])}
            for r in examples.to_dict(orient="records")
        ],
    }


def quality_notes(table: AttemptTable, loaded: dict[str, Any], counts: pd.DataFrame,
                  end: pd.Timestamp) -> dict[str, Any]:
    """Return the data-quality notes: rejected records, duplicates, silent devices, gaps.

    Parameters
    ----------
    table : AttemptTable
        The period's attempts.
    loaded : dict
        The input's ``rejected`` frame, ``duplicates`` count and ``skipped_files`` (files that
        are not exports: path and reason).
    counts : pandas.DataFrame
        The period's counts (``error_frequency``), for the empty buckets.
    end : pandas.Timestamp
        End of the period: devices without an attempt in the :data:`SILENT_AFTER` before it
        are silent.

    Returns
    -------
    dict
        ``rejected``, ``rejected_by_reason``, ``duplicates``, ``skipped_files`` (path and
        reason of each file found that is not an export), ``silent_devices``,
        ``silent_examples``, ``silent_after``, ``buckets``, ``empty_buckets``,
        ``longest_gap_buckets``.
    """
    rejected = loaded["rejected"]
    reasons = rejected["reason"].astype(str).str.split(":").str[0].value_counts()
    last = table.attempts.groupby("device", observed=True)["time"].max()
    return {
        "rejected": int(len(rejected)),
        "rejected_by_reason": {str(k): int(v) for k, v in reasons.items()},
        "duplicates": int(loaded["duplicates"]),
        "skipped_files": [{"path": str(s["path"]), "reason": str(s["reason"])}
                          for s in loaded.get("skipped_files", [])],
        **activity_notes(last, counts, end),
    }


def activity_notes(last: pd.Series, counts: pd.DataFrame, end: pd.Timestamp) -> dict[str, Any]:
    """Return the notes on silent devices and empty buckets of :func:`quality_notes`.

    Parameters
    ----------
    last : pandas.Series
        Each device's last attempt, indexed by device.
    counts : pandas.DataFrame
        The period's counts (``error_frequency``).
    end : pandas.Timestamp
        End of the period.

    Returns
    -------
    dict
        ``silent_devices``, ``silent_examples``, ``silent_after``, ``buckets``,
        ``empty_buckets`` and ``longest_gap_buckets``.
    """
    silent = last[last < end - SILENT_AFTER]
    busy = counts.groupby("time")["attempts"].first() if not counts.empty else pd.Series(dtype=int)
    empty = busy[busy == 0]
    return {
        "silent_devices": int(len(silent)),
        "silent_examples": [str(d) for d in silent.sort_values().index[:EXAMPLES]],
        "silent_after": str(SILENT_AFTER),
        "buckets": int(len(busy)),
        "empty_buckets": int(len(empty)),
        "longest_gap_buckets": int(_longest_run(busy.to_numpy() == 0)) if len(busy) else 0,
    }


def _longest_run(flags) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def summarize(table: AttemptTable, start: object, end: object, **counts: Any) -> dict[str, Any]:
    """Return the summary of an attempt table over a period (``FleetAnalysis.summary``).

    Parameters
    ----------
    table : AttemptTable
        The period's attempts.
    start, end : timestamp or None
        The period shown.
    **counts
        What the table does not know: ``kms_hosts``, ``events``, ``records``, ``rejected``,
        ``duplicates``, ``incidents``.

    Returns
    -------
    dict
        The period, devices, KMS hosts, sites, attempts, failed attempts, failure rate,
        failing devices, the ``counts`` and the number of distinct codes.
    """
    attempts = table.attempts
    failed = int(attempts["failed"].sum())
    return {
        "period_start": None if start is None else pd.Timestamp(start).isoformat(),
        "period_end": None if end is None else pd.Timestamp(end).isoformat(),
        "devices": int(attempts["device"].nunique()),
        "kms_hosts": int(counts["kms_hosts"]),
        "sites": sorted(s for s in attempts["site"].astype(str).unique() if s),
        "attempts": int(len(attempts)),
        "failed_attempts": failed,
        "failure_rate": round(failed / len(attempts), 4) if len(attempts) else 0.0,
        "failing_devices": int(attempts.loc[attempts["failed"], "device"].nunique()),
        "events": int(counts["events"]),
        "records": int(counts["records"]),
        "rejected": int(counts["rejected"]),
        "duplicates": int(counts["duplicates"]),
        "incidents": int(counts["incidents"]),
        "codes": int(table.errors["code"].nunique()),
    }
