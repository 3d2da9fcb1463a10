"""Report stage: run the parameterised notebooks with papermill and publish offline HTML.

:mod:`.runner` checks parameters (:class:`~activation_kb.params.ReportParams`), executes,
exports and publishes; ``templates/`` holds the nbconvert template of the offline page. A new
report is one notebook under ``notebooks/`` and one line in :data:`REPORTS`.
"""

from __future__ import annotations

from .runner import (
    DEFAULT_REPORT,
    REPORTS,
    ReportParams,
    ReportResult,
    ReportSpec,
    check_parameters,
    default_events,
    export_html,
    list_reports,
    report_params,
    run_report,
)

__all__ = [
    "DEFAULT_REPORT",
    "REPORTS",
    "ReportParams",
    "ReportResult",
    "ReportSpec",
    "check_parameters",
    "default_events",
    "export_html",
    "list_reports",
    "report_params",
    "run_report",
]
