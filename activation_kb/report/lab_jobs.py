"""jupyter-scheduler jobs of the report notebooks: the same offline HTML as ``report run``.

jupyter-scheduler (``pip install 'activation-kb[lab]'``) exports a job's "HTML" output with
nbconvert's default exporter: code cells shown, require.js and MathJax loaded from CDNs. This
module is a Jupyter server extension, enabled by the package
(``etc/jupyter/jupyter_server_config.d/activation_kb.json``): when the server starts, it makes
jupyter-scheduler run jobs with :class:`ReportExecutionManager` (unless another executor was
configured). For notebooks marked as activation_kb reports (notebook metadata
``activation_kb.report``) the "HTML" output then goes through
:func:`~activation_kb.report.export.offline_html`, exactly as ``activation-kb report run``
writes ``fleet_report.html``; every other notebook is exported as jupyter-scheduler always does.
Without jupyter-scheduler installed the extension does nothing.
"""

from __future__ import annotations

from typing import Any

from .export import offline_html
from .notebook_params import text_value

try:
    from jupyter_scheduler.executors import DefaultExecutionManager
except ImportError:  # jupyter-scheduler is the ``lab`` extra
    DefaultExecutionManager = None

__all__ = ["ReportExecutionManager", "is_report"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "activation_kb.report.lab_jobs"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Nothing to load: jupyter-scheduler's scheduler exists only once every extension loaded."""


async def _start_jupyter_server_extension(serverapp: Any) -> None:
    """Make jupyter-scheduler export the reports' HTML offline and code-free."""
    scheduler = serverapp.web_app.settings.get("scheduler")
    if DefaultExecutionManager is None or scheduler is None:
        return
    if scheduler.execution_manager_class is DefaultExecutionManager:
        scheduler.execution_manager_class = ReportExecutionManager
        serverapp.log.info("activation_kb: report notebooks' HTML jobs are exported offline")
    else:
        serverapp.log.warning(
            "activation_kb: jupyter-scheduler uses %s; report HTML keeps its default export",
            scheduler.execution_manager_class)


def is_report(notebook: Any) -> bool:
    """Tell whether a notebook is one of activation_kb's reports (its metadata says so)."""
    return bool(notebook.metadata.get("activation_kb", {}).get("report"))


if DefaultExecutionManager is not None:

    class ReportExecutionManager(DefaultExecutionManager):
        """jupyter-scheduler's executor, with the reports' HTML exported code-free and offline."""

        def create_output_files(self, job: Any, notebook_node: Any) -> None:
            """Write the job's outputs; "html" of a report is the offline, code-free page."""
            import fsspec
            import nbconvert

            for output_format in job.output_formats:
                if output_format == "html" and is_report(notebook_node):
                    title = text_value((job.parameters or {}).get("title"))
                    output = offline_html(notebook_node, title=title or None)
                else:
                    output, _ = nbconvert.get_exporter(output_format)().from_notebook_node(
                        notebook_node)
                with fsspec.open(self.staging_paths[output_format], "w", encoding="utf-8") as f:
                    f.write(output)


else:  # pragma: no cover - without the lab extra
    ReportExecutionManager = None
