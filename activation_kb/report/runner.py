"""Run the parameterised report notebooks with papermill and publish self-contained HTML.

:func:`run_report` checks the parameters before any kernel starts, executes the notebook with
papermill in a staging folder beside the output, exports code-free offline HTML with nbconvert,
writes ``manifest.json``, and only then replaces the output folder, so that a failed or
interrupted run never replaces the last good report with a half one. :func:`list_reports`
reads the manifests back without a kernel.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import MissingDependencyError, ParameterError, ReportError, ReportParameterError
from ..params import ReportParams
from ..resources import data_path, notebook_path

__all__ = [
    "DEFAULT_REPORT",
    "REPORTS",
    "ReportParams",
    "ReportSpec",
    "ReportResult",
    "check_parameters",
    "report_params",
    "run_report",
    "list_reports",
    "export_html",
    "default_events",
]

_KERNEL = "activation-kb"
_VERSIONED = ("activation-kb", "pandas", "pyarrow", "numpy", "scipy", "plotly", "papermill",
              "nbconvert", "nbformat", "ipykernel", "click")


@dataclass(frozen=True)
class ReportSpec:
    """A report: its notebook, what it is for, and the files a run publishes.

    The notebook has a cell tagged ``parameters`` declaring every :class:`ReportParams` field
    and ``output_dir``, and calls ``write_outputs(analysis, output_dir)``; the run adds the
    code-free HTML page (``html``), the executed notebook and ``manifest.json``.

    Attributes
    ----------
    notebook : str
        File name under ``notebooks/``.
    description : str
        One line for the documentation.
    outputs : tuple of str
        Files of a published run; default the HTML page, the notebook, ``incidents.json``,
        ``incidents.csv`` and ``manifest.json``.
    """

    notebook: str
    description: str
    outputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.outputs:
            object.__setattr__(self, "outputs", (self.html, Path(self.notebook).name,
                                                 "incidents.json", "incidents.csv",
                                                 "manifest.json"))

    @property
    def html(self) -> str:
        """File name of the code-free HTML page: the notebook's name with ``.html``."""
        return f"{Path(self.notebook).stem}.html"


#: The report :func:`run_report` runs unless told otherwise.
DEFAULT_REPORT = "fleet_report"

#: Report name -> notebook and outputs. A new report is one notebook plus one line here.
REPORTS: dict[str, ReportSpec] = {
    "fleet_report": ReportSpec(
        "fleet_report.ipynb",
        "Activation errors of a fleet: frequency, incidents, causes and fixes",
    ),
}


@dataclass
class ReportResult:
    """What a report run produced.

    Attributes
    ----------
    out_dir : pathlib.Path
        The published folder.
    manifest : dict
        The content of ``manifest.json``.
    report : str
        The name of the report (a key of :data:`REPORTS`).
    """

    out_dir: Path
    manifest: dict[str, Any] = field(default_factory=dict)
    report: str = DEFAULT_REPORT

    def _spec(self) -> ReportSpec:
        return REPORTS.get(self.report) or ReportSpec(f"{self.report}.ipynb", "")

    @property
    def html(self) -> Path:
        """The code-free HTML report."""
        return self.out_dir / self._spec().html

    @property
    def notebook(self) -> Path:
        """The executed notebook, kept as the run's log."""
        return self.out_dir / Path(self._spec().notebook).name

    @property
    def incidents(self) -> int:
        """Number of incidents found."""
        return int(self.manifest.get("incidents", 0))


def default_events() -> Path:
    """Return the bundled sample, the default report input.

    Returns
    -------
    pathlib.Path
        ``data/sample/events.parquet`` (inside the installed package when installed).
    """
    return data_path("sample/events.parquet")


def report_params(events: Any = None, params: ReportParams | None = None,
                  **fields: Any) -> ReportParams:
    """Return checked report parameters: ``params``, or one built from ``events`` and ``fields``.

    Parameters
    ----------
    events : path, list of paths, glob or directory, optional
        Event exports; None: the bundled sample.
    params : ReportParams, optional
        Parameters already built; then ``events`` and ``fields`` must not be given.
    **fields
        Any other :class:`ReportParams` field (``since``, ``until``, ``freq``, ``lang`` ...).

    Returns
    -------
    ReportParams

    Raises
    ------
    ReportParameterError
        Naming the parameter, the value and what is expected (its ``kind`` is the
        :class:`~activation_kb.errors.ParameterError` subclass of the mistake).
    """
    if params is not None:
        if events is not None or fields:
            raise ReportParameterError("pass either params=ReportParams(...) or the parameters "
                                       "one by one, not both", "params", params)
        if not isinstance(params, ReportParams):
            raise ReportParameterError(f"params must be a ReportParams, not "
                                       f"{type(params).__name__}", "params", params)
        return params
    known = {f.name for f in dataclasses.fields(ReportParams)} - {"events"}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ReportParameterError(f"unknown report parameter(s) {unknown}; expected some of "
                                   f"{sorted(known)}", unknown[0], fields[unknown[0]])
    try:
        return ReportParams(events=events, **fields)
    except ParameterError as exc:
        raise ReportParameterError(str(exc), exc.parameter, exc.value, type(exc)) from exc


def check_parameters(events: Any = None, **fields: Any) -> dict[str, Any]:
    """Check and type the report parameters, without starting a kernel.

    Parameters
    ----------
    events : path, list of paths, glob or directory, optional
        Event exports; None: the bundled sample.
    **fields
        The other :class:`ReportParams` fields.

    Returns
    -------
    dict
        The parameters as the notebook receives them (JSON types).

    Raises
    ------
    ReportParameterError
        Naming the parameter, the value and what is expected.
    """
    params = report_params(events, **fields)
    return params.notebook_parameters(default_events=[str(default_events())])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _input_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for text in paths:
        if glob.has_magic(text):
            files += sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        elif Path(text).is_dir():
            files += sorted(p for p in Path(text).rglob("*") if p.is_file())
        else:
            files.append(Path(text))
    return files


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _kernel_dir() -> Path:
    """Return a Jupyter path holding a kernelspec that runs this interpreter.

    The report never depends on a 'python3' kernel found elsewhere on the machine (papermill#251,
    #856).
    """
    # one folder per interpreter: two environments (or checkouts) running reports at the same
    # time must not overwrite each other's kernelspec
    tag = hashlib.sha256(sys.executable.encode()).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / f"activation-kb-kernels-{os.getuid()}-{tag}"
    spec = root / "kernels" / _KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    wanted = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=CRITICAL"],
        "display_name": "Python (activation_kb)",
        "language": "python",
        "env": {"PLOTLY_RENDERER": "notebook"},
    }
    path = spec / "kernel.json"
    if not path.exists() or json.loads(path.read_text()) != wanted:
        path.write_text(json.dumps(wanted), encoding="utf-8")
    return root


def export_html(notebook: Path, html: Path, title: str | None = None) -> Path:
    """Export an executed notebook to code-free, self-contained, offline HTML.

    The template drops require.js, MathJax and mermaid loaders (CDN scripts), and a
    Content-Security-Policy forbids the page any request: charts come from the plotly.js that the
    notebook carries inline.

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
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(Path(__file__).parent / "templates")],
        template_file="offline.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    node = nbformat.read(notebook, as_version=4)
    if title:
        node.metadata["title"] = title
    body, _ = exporter.from_notebook_node(node)
    html.write_text(body, encoding="utf-8")
    return html


def _error_text(exc: BaseException) -> str:
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    cell = getattr(exc, "exec_count", None)
    where = f" in cell [{cell}]" if cell else ""
    return f"{ename}{where}: {evalue}".strip()


def run_report(
    events: Any = None,
    out: str | os.PathLike = "reports/latest",
    *,
    params: ReportParams | None = None,
    name: str = DEFAULT_REPORT,
    progress: bool | None = None,
    timeout: float | None = None,
    **fields: Any,
) -> ReportResult:
    """Execute a report notebook with papermill and publish its outputs atomically.

    Parameters
    ----------
    events : path, list of paths, glob or directory, optional
        Event exports (any format :func:`~activation_kb.load_events` reads); default the
        bundled sample.
    out : str or path
        Folder to publish into: the code-free offline HTML page (``fleet_report.html``), the
        executed notebook, ``incidents.json``, ``incidents.csv`` and ``manifest.json``.
    params : ReportParams, optional
        All the report parameters at once (then give neither ``events`` nor ``fields``).
    name : str
        A key of :data:`REPORTS`.
    progress : bool, optional
        Show papermill's progress bar; default only when stderr is a terminal.
    timeout : float, optional
        Seconds a cell may run.
    **fields
        The report parameters one by one, as in :class:`ReportParams`: ``since``, ``until``
        (period; ``since`` may be a duration such as "7D"), ``freq``, ``lang``,
        ``sensitivity``, ``history``, ``top_n``, ``title``, ``tz``.

    Returns
    -------
    ReportResult

    Raises
    ------
    ReportParameterError
        For a bad parameter, before any kernel starts.
    ReportError
        When a cell fails (its error in the message; the executed notebook is kept in
        ``<out>.failed/``) or the export fails. The previous report in ``out`` is untouched.
    """
    if name not in REPORTS:
        raise ReportParameterError(f"report {name!r} is unknown; expected one of {list(REPORTS)}",
                                   "name", name)
    spec = REPORTS[name]
    checked = report_params(events, params, **fields)
    try:
        import papermill as pm
    except ImportError as exc:  # pragma: no cover - papermill is a dependency
        raise MissingDependencyError("papermill", None, "Running a report") from exc
    notebook_params = checked.notebook_parameters(default_events=[str(default_events())])
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    clock = time.perf_counter()
    manifest: dict[str, Any] = {
        "report": name, "parameters": notebook_params,
        "started": pd.Timestamp.now(tz="UTC").isoformat(), "versions": _versions(),
        "catalogue": {"lang": checked.lang}, "status": "running",
    }
    try:
        _execute(pm, spec, notebook_params, staging, progress, timeout)
        export_html(staging / Path(spec.notebook).name, staging / spec.html, title=checked.title)
    except (Exception, KeyboardInterrupt) as exc:
        failed = _keep_failed(staging, out, manifest, exc)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ReportError(
            f"report {name} failed: {_error_text(exc)}; the executed notebook is kept in "
            f"{failed / Path(spec.notebook).name}"
        ) from exc
    manifest.update(_run_facts(staging, notebook_params["events"]),
                    seconds=round(time.perf_counter() - clock, 2),
                    catalogue=_catalogue_manifest(checked.lang, checked.catalogue),
                    outputs=list(spec.outputs))
    (staging / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    _publish(staging, out)
    return ReportResult(out_dir=out, manifest=manifest, report=name)


def _execute(pm: Any, spec: ReportSpec, parameters: dict[str, Any], staging: Path,
             progress: bool | None, timeout: float | None) -> None:
    """Run the report's notebook into ``staging`` with this interpreter's kernel."""
    env = {"JUPYTER_PATH": os.pathsep.join(
        [str(_kernel_dir()), os.environ.get("JUPYTER_PATH", "")]).strip(os.pathsep)}
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        pm.execute_notebook(
            str(notebook_path(spec.notebook)), str(staging / Path(spec.notebook).name),
            parameters={**parameters, "output_dir": str(staging)},
            kernel_name=_KERNEL, cwd=str(staging), request_save_on_cell_execute=False,
            progress_bar=sys.stderr.isatty() if progress is None else progress,
            execution_timeout=timeout,
        )
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _keep_failed(staging: Path, out: Path, manifest: dict[str, Any],
                 exc: BaseException) -> Path:
    """Move a failed run to ``<out>.failed/`` with its manifest; return that folder."""
    failed = out.parent / f"{out.name}.failed"
    shutil.rmtree(failed, ignore_errors=True)
    staging.rename(failed)
    manifest.update(status="failed", error=_error_text(exc),
                    finished=pd.Timestamp.now(tz="UTC").isoformat())
    (failed / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return failed


def _run_facts(staging: Path, events: list[str]) -> dict[str, Any]:
    """Read what the notebook wrote (summary, incidents) and describe the inputs."""
    summary = json.loads((staging / "run_summary.json").read_text(encoding="utf-8"))
    (staging / "run_summary.json").unlink()
    files = {Path(f["path"]).resolve(): f for f in summary.get("files", [])}
    inputs = []
    for path in _input_files(events):
        counts = files.get(path.resolve(), {})
        inputs.append({
            "path": str(path), "sha256": _sha256(path), "bytes": path.stat().st_size,
            **{k: counts[k] for k in ("format", "records", "loaded", "rejected", "duplicates")
               if k in counts},
        })
    incidents = json.loads((staging / "incidents.json").read_text(encoding="utf-8"))
    return {
        "status": "ok", "finished": pd.Timestamp.now(tz="UTC").isoformat(), "inputs": inputs,
        "records": summary["summary"].get("records"),
        "rejected": summary["summary"].get("rejected"),
        "duplicates": summary["summary"].get("duplicates"),
        "summary": summary["summary"], "quality": summary["quality"],
        "incidents": len(incidents),
    }


def _catalogue_manifest(lang: str, catalogue: str | None) -> dict[str, Any]:
    from ..catalogue.article import SHIPPED_FILES

    if catalogue is None:
        return {"lang": lang, "source": SHIPPED_FILES[lang]}
    return {"lang": lang, "source": catalogue, "sha256": _sha256(Path(catalogue))}


def _publish(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging`` with renames on one file system."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def list_reports(root: str | os.PathLike = "reports") -> pd.DataFrame:
    """List the reports under ``root`` from their manifests (no kernel is started).

    Parameters
    ----------
    root : str or path
        A folder holding report folders (each with a ``manifest.json``), or a report folder.

    Returns
    -------
    pandas.DataFrame
        One row per report: ``path``, ``report``, ``status``, ``finished``, ``seconds``,
        ``incidents``, ``records``, ``rejected``, ``period_start``, ``period_end`` and
        ``parameters`` (compact text), newest first.
    """
    root = Path(root)
    manifests = [root / "manifest.json"] if (root / "manifest.json").is_file() else sorted(
        root.glob("*/manifest.json"))
    rows = []
    for path in manifests:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            rows.append({"path": str(path.parent), "status": f"unreadable manifest: {exc}"})
            continue
        params = data.get("parameters", {})
        summary = data.get("summary", {})
        rows.append({
            "path": str(path.parent),
            "report": data.get("report"),
            "status": data.get("status"),
            "finished": data.get("finished"),
            "seconds": data.get("seconds"),
            "incidents": data.get("incidents"),
            "records": data.get("records"),
            "rejected": data.get("rejected"),
            "period_start": summary.get("period_start"),
            "period_end": summary.get("period_end"),
            "parameters": " ".join(
                f"{k}={v}" for k, v in params.items() if k != "events" and v is not None),
        })
    columns = ["path", "report", "status", "finished", "seconds", "incidents", "records",
               "rejected", "period_start", "period_end", "parameters"]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    frame = frame.where(frame.notna(), None)  # a failed run has no summary: None, not NaN
    return frame.sort_values("finished", ascending=False, na_position="last", ignore_index=True,
                             key=lambda c: c.fillna(""))
