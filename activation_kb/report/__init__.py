"""Report stage: run the parameterised notebooks with papermill and publish offline HTML.

:mod:`.runner` checks parameters, executes, exports and publishes; ``templates/`` holds the
nbconvert template of the offline page.
"""

from __future__ import annotations

from .runner import (
    REPORTS,
    ReportResult,
    ReportSpec,
    check_parameters,
    default_events,
    export_html,
    list_reports,
    run_report,
)

__all__ = [
    "REPORTS",
    "ReportResult",
    "ReportSpec",
    "check_parameters",
    "default_events",
    "export_html",
    "list_reports",
    "run_report",
]
