"""Code-free, self-contained, offline HTML from an executed report notebook.

The one export path of every way a report runs: ``activation-kb report run`` (``run_report``),
and jupyter-scheduler jobs through :class:`~activation_kb.report.lab_jobs.ReportExecutionManager`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

__all__ = ["export_html", "offline_html"]

_TEMPLATES = Path(__file__).parent / "templates"


def offline_html(notebook: Any, title: str | None = None) -> str:
    """Return an executed notebook as code-free, self-contained, offline HTML.

    The template drops require.js, MathJax and mermaid loaders (CDN scripts), and a
    Content-Security-Policy forbids the page any request: charts come from the plotly.js that the
    notebook carries inline.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        Executed notebook.
    title : str, optional
        The page title.

    Returns
    -------
    str
        The page.
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(_TEMPLATES)],
        template_file="offline.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    if title:
        notebook = copy.deepcopy(notebook)
        notebook.metadata["title"] = title
    body, _ = exporter.from_notebook_node(notebook)
    return body


def export_html(notebook: Path, html: Path, title: str | None = None) -> Path:
    """Export an executed notebook file to code-free, self-contained, offline HTML.

    Parameters
    ----------
    notebook : pathlib.Path
        Executed notebook.
    html : pathlib.Path
        Where to write the page.
    title : str, optional
        The page title.

    Returns
    -------
    pathlib.Path
        ``html``.
    """
    import nbformat

    html.write_text(offline_html(nbformat.read(notebook, as_version=4), title), encoding="utf-8")
    return html
