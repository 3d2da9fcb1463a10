"""A short plain-text summary of a report run: the body of the mail a scheduled run sends.

Written beside the report as ``summary.txt``: the counts, then each incident in a few lines
(codes, window, devices, where, the article's cause and what to do), then where the report is.
Readable in any mail client, unlike the incidents CSV.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["summary_text"]

_WIDTH = 100
#: Skipped files named (the manifest lists every one).
_SKIPPED = 5
_MARKUP = re.compile(r"\*\*|__|`|\[([^\]]*)\]\([^)]*\)")


def _plain(text: Any, limit: int = 320) -> str:
    """Markdown of the article as one plain line, cut at ``limit`` characters."""
    flat = " ".join(_MARKUP.sub(lambda m: m.group(1) or "", str(text or "")).split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _day(stamp: Any) -> str:
    return str(stamp or "")[:10]


def _minute(stamp: Any) -> str:
    return str(stamp or "").replace("T", " ")[:16]


def _wrap(label: str, text: str) -> list[str]:
    return textwrap.wrap(f"{label}{text}", _WIDTH, initial_indent="   ",
                         subsequent_indent="   " + " " * len(label))


def summary_text(manifest: Mapping[str, Any], incidents: Sequence[Mapping[str, Any]],
                 report: str, most: int = 10, html: str = "fleet_report.html") -> str:
    """Return the plain-text summary of a run.

    Parameters
    ----------
    manifest : mapping
        The run's ``manifest.json`` content (``summary``, ``parameters``, counts, and
        ``skipped_files``: the first five are named with their reason).
    incidents : sequence of mapping
        The run's ``incidents.json`` content.
    report : str
        Where the HTML report is published.
    most : int
        Incidents described; the others are counted.
    html : str
        File name of the HTML page in ``report``.

    Returns
    -------
    str
        A few lines per incident, at most 100 characters wide.

    Examples
    --------
    >>> print(summary_text({"summary": {"devices": 3, "records": 9}}, [], "r/latest"), end="")
    Activation errors: no incident
    3 devices, 0 activation attempts; 9 records read, 0 rejected
    <BLANKLINE>
    Report: r/latest/fleet_report.html
    """
    summary = manifest.get("summary", {})
    count = len(incidents)
    head = "no incident" if not count else f"{count} incident{'s' if count > 1 else ''}"
    period = ""
    if summary.get("period_start"):
        period = f", {_day(summary['period_start'])} to {_day(summary.get('period_end'))}"
    rate = summary.get("failure_rate")
    failed = f", {rate:.1%} failed" if isinstance(rate, (int, float)) and summary.get(
        "attempts") else ""
    lines = [
        f"Activation errors: {head}{period}",
        f"{summary.get('devices', 0):,} devices, {summary.get('attempts', 0):,} activation "
        f"attempts{failed}; {summary.get('records', 0):,} records read, "
        f"{summary.get('rejected', 0) or 0:,} rejected",
    ]
    skipped = manifest.get("skipped_files") or []
    if skipped:
        lines.append(f"{len(skipped):,} file(s) skipped, not event exports (not read):")
        for entry in skipped[:_SKIPPED]:
            lines += _wrap("", f"{entry.get('path', '')}: {entry.get('reason', '')}")
        if len(skipped) > _SKIPPED:
            lines.append(f"   ... and {len(skipped) - _SKIPPED:,} more: see manifest.json")
    for number, incident in enumerate(incidents[:most], 1):
        codes = " ".join(incident.get("codes") or [incident.get("top_code", "")])
        label = incident.get("category_label") or incident.get("category") or ""
        lines += [
            "",
            f"{number}. {incident.get('incident_id', '')} {incident.get('severity', '')}: "
            f"{codes} {label}".rstrip(),
            f"   {_minute(incident.get('start'))} to {_minute(incident.get('end'))} UTC, "
            f"{incident.get('devices', 0):,} devices, {incident.get('failures', 0):,} failures",
        ]
        if incident.get("scope"):
            lines += _wrap("Where: ", _plain(incident["scope"]))
        if incident.get("cause"):
            lines += _wrap("Cause: ", _plain(incident["cause"]))
        if incident.get("resolution"):
            lines += _wrap("What to do: ", _plain(incident["resolution"]))
    if count > most:
        lines += ["", f"... and {count - most} more: see incidents.csv"]
    lines += ["", f"Report: {report.rstrip('/')}/{html}"]
    if count:
        lines.append("Data: incidents.csv, incidents.json and manifest.json in the same folder")
    return "\n".join(lines) + "\n"
