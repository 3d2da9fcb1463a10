"""Run the parameterised report notebooks with papermill and publish self-contained HTML.

:func:`run_report` checks the parameters before any kernel starts, executes the notebook with
papermill in a staging folder beside the output, exports code-free offline HTML with nbconvert,
writes ``manifest.json``, and only then replaces the output folder, so that a failed or
interrupted run never replaces the last good report with a half one. :func:`list_reports`
reads the manifests back without a kernel.
"""

from __future__ import annotations

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

from ..errors import MissingDependencyError, ReportError, ReportParameterError
from ..resources import data_path, notebook_path

__all__ = [
    "REPORTS",
    "ReportSpec",
    "ReportResult",
    "check_parameters",
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
    """A report: its notebook, what it is for, and the files a run produces."""

    notebook: str
    description: str
    outputs: tuple[str, ...]


#: Report name -> notebook and outputs. A new report is one notebook plus one line here.
REPORTS: dict[str, ReportSpec] = {
    "fleet_report": ReportSpec(
        notebook="fleet_report.ipynb",
        description="Activation errors of a fleet: frequency, incidents, causes and fixes",
        outputs=("fleet_report.html", "fleet_report.ipynb", "incidents.json", "incidents.csv",
                 "manifest.json"),
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
    """

    out_dir: Path
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def html(self) -> Path:
        """The code-free HTML report."""
        return self.out_dir / "fleet_report.html"

    @property
    def notebook(self) -> Path:
        """The executed notebook, kept as the run's log."""
        return self.out_dir / "fleet_report.ipynb"

    @property
    def incidents(self) -> int:
        """Number of incidents found."""
        return int(self.manifest.get("incidents", 0))


def default_events() -> Path:
    """Return the bundled sample (``data/sample/events.parquet``), the default report input."""
    return data_path("sample/events.parquet")


def _expand(events: Any) -> list[str]:
    """Check that every path, directory or glob names at least one file; return them as text."""
    items = [events] if isinstance(events, (str, os.PathLike)) else list(events)
    if not items:
        raise ReportParameterError("events: no input given; pass a file, directory or glob")
    out = []
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            if not [p for p in glob.glob(text, recursive=True) if Path(p).is_file()]:
                raise ReportParameterError(f"events: the pattern {text!r} matches no file")
        elif Path(text).is_dir():
            if not any(p.is_file() for p in Path(text).iterdir()):
                raise ReportParameterError(f"events: the directory {text} holds no file")
        elif not Path(text).is_file():
            raise ReportParameterError(f"events: {text}: no such file or directory")
        out.append(str(Path(text).resolve()) if not glob.has_magic(text) else text)
    return out


def _date(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = None
    if stamp is None or stamp is pd.NaT:
        raise ReportParameterError(
            f"{name}={value!r} is not a date or time; expected e.g. 2026-03-01, "
            "2026-03-01T08:00 or, for since, a duration such as 7D"
        )
    return stamp.isoformat()


def check_parameters(
    events: Any = None,
    *,
    since: Any = None,
    until: Any = None,
    freq: str = "h",
    lang: str = "en",
    sensitivity: float = 0.5,
    top_n: int = 10,
    title: str | None = None,
    tz: str | None = None,
    store: Any = None,
    engine: str = "pandas",
    scheduler: str | None = None,
) -> dict[str, Any]:
    """Check and type the report parameters, without starting a kernel.

    Parameters are those of :func:`run_report`.

    Returns
    -------
    dict
        The parameters as the notebook receives them (JSON types).

    Raises
    ------
    ReportParameterError
        Naming the parameter, the value and what is expected.
    """
    from ..analysis.fleet import relative_span
    from ..analysis.frequency import _check_freq, check_timezone
    from ..analysis.spikes import score_threshold

    if engine not in ("pandas", "dask"):
        raise ReportParameterError(f"engine={engine!r}; expected 'pandas' or 'dask'")
    if store is not None:
        from ..store._layout import open_store

        if events is not None:
            raise ReportParameterError("give event exports (events) or an event store (store), "
                                       "not both")
        try:
            paths = str(open_store(store).resolve())
        except ValueError as exc:
            raise ReportParameterError(f"store: {exc}") from None
    elif engine == "dask":
        raise ReportParameterError("engine='dask' analyses an event store: pass store= "
                                   "(CLI: --store DIR; fill it with activation-kb events ingest)")
    else:
        paths = _expand(default_events() if events is None else events)
    if scheduler is not None and engine != "dask":
        raise ReportParameterError("scheduler is the address of a Dask scheduler; it needs "
                                   "engine='dask' (CLI: --engine dask)")
    try:
        span = relative_span(since)
    except ValueError as exc:
        raise ReportParameterError(str(exc)) from None
    since_s = str(since).strip() if span is not None else _date(since, "since")
    until_s = _date(until, "until")
    if span is None and since_s and until_s and pd.Timestamp(until_s) <= pd.Timestamp(since_s):
        raise ReportParameterError(f"until={until!r} must be after since={since!r}")
    try:
        _check_freq(str(freq))
        score_threshold(sensitivity)
        check_timezone(tz)
    except ValueError as exc:
        raise ReportParameterError(str(exc)) from None
    if lang not in ("en", "fr"):
        raise ReportParameterError(f"lang={lang!r}; expected 'en' or 'fr'")
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ReportParameterError(f"top_n={top_n!r}; expected a whole number >= 1")
    return {
        "events": paths, "since": since_s, "until": until_s, "freq": str(freq), "lang": lang,
        "sensitivity": float(sensitivity), "top_n": int(top_n),
        "title": title if title else None, "tz": tz, "engine": engine,
        "scheduler": scheduler or None,
    }


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
    since: Any = None,
    until: Any = None,
    freq: str = "h",
    lang: str = "en",
    sensitivity: float = 0.5,
    top_n: int = 10,
    title: str | None = None,
    tz: str | None = None,
    name: str = "fleet_report",
    progress: bool | None = None,
    timeout: float | None = None,
    store: Any = None,
    engine: str = "pandas",
    scheduler: str | None = None,
) -> ReportResult:
    """Execute a report notebook with papermill and publish its outputs atomically.

    Parameters
    ----------
    events : path, list of paths, glob or directory, optional
        Event exports (any format :func:`~activation_kb.load_events` reads); default the
        bundled sample.
    out : str or path
        Folder to publish into: ``fleet_report.html`` (code-free, offline), the executed
        ``fleet_report.ipynb``, ``incidents.json``, ``incidents.csv`` and ``manifest.json``.
    since, until : str, optional
        Period of the report; naive times are in ``tz``. ``since`` may be a duration ("7D"):
        that long before ``until``, or before the last event (for scheduled runs).
    freq : str
        Bucket size ("h", "D" ...).
    lang : {"en", "fr"}
        Language of the report.
    sensitivity : float
        Spike detection sensitivity, in (0, 1].
    top_n : int
        Number of codes in the top-codes chart and of incidents shown in detail.
    title : str, optional
        Report title.
    tz : str, optional
        Time zone of CSV exports' local times and of the displayed times.
    name : str
        A key of :data:`REPORTS`.
    progress : bool, optional
        Show papermill's progress bar; default only when stderr is a terminal.
    timeout : float, optional
        Seconds a cell may run.
    store : str or path, optional
        An event store (:func:`~activation_kb.ingest`) to report on instead of ``events``:
        only the days of the period and its baseline are read.
    engine : {"pandas", "dask"}
        ``"dask"`` runs the heavy part on a Dask cluster (needs ``store``).
    scheduler : str, optional
        Address of the Dask scheduler ("tcp://host:8786"); default a local cluster.

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
    try:
        import papermill as pm
    except ImportError as exc:  # pragma: no cover - papermill is a dependency
        raise MissingDependencyError("papermill", "report", "Running a report") from exc
    if name not in REPORTS:
        raise ReportParameterError(f"report {name!r} is unknown; expected one of {list(REPORTS)}")
    spec = REPORTS[name]
    params = check_parameters(events, since=since, until=until, freq=freq, lang=lang,
                              sensitivity=sensitivity, top_n=top_n, title=title, tz=tz,
                              store=store, engine=engine, scheduler=scheduler)
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    started = pd.Timestamp.now(tz="UTC")
    clock = time.perf_counter()
    executed = staging / Path(spec.notebook).name
    manifest: dict[str, Any] = {
        "report": name, "parameters": params, "started": started.isoformat(),
        "versions": _versions(), "catalogue": {"lang": lang}, "status": "running",
    }
    try:
        env = {"JUPYTER_PATH": os.pathsep.join(
            [str(_kernel_dir()), os.environ.get("JUPYTER_PATH", "")]).strip(os.pathsep)}
        previous = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            pm.execute_notebook(
                str(notebook_path(spec.notebook)), str(executed),
                parameters={**params, "output_dir": str(staging)},
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
        export_html(executed, staging / "fleet_report.html", title=params["title"])
    except (Exception, KeyboardInterrupt) as exc:
        failed = out.parent / f"{out.name}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        staging.rename(failed)
        manifest.update(status="failed", error=_error_text(exc),
                        finished=pd.Timestamp.now(tz="UTC").isoformat())
        (failed / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ReportError(
            f"report {name} failed: {_error_text(exc)}; the executed notebook is kept in "
            f"{failed / executed.name}"
        ) from exc
    summary = json.loads((staging / "run_summary.json").read_text(encoding="utf-8"))
    (staging / "run_summary.json").unlink()
    files = {Path(f["path"]).resolve(): f for f in summary.get("files", [])}
    inputs = []
    if store is not None:
        from ..store import store_info

        info = store_info(params["events"])
        inputs.append({"path": params["events"], "store": True,
                       **{k: info[k] for k in ("records", "days", "first_day", "last_day",
                                               "size_bytes")}})
    for path in [] if store is not None else _input_files(params["events"]):
        counts = files.get(path.resolve(), {})
        inputs.append({
            "path": str(path), "sha256": _sha256(path), "bytes": path.stat().st_size,
            **{k: counts[k] for k in ("format", "records", "loaded", "rejected", "duplicates")
               if k in counts},
        })
    incidents = json.loads((staging / "incidents.json").read_text(encoding="utf-8"))
    manifest.update(
        status="ok",
        finished=pd.Timestamp.now(tz="UTC").isoformat(),
        seconds=round(time.perf_counter() - clock, 2),
        inputs=inputs,
        records=summary["summary"].get("records"),
        rejected=summary["summary"].get("rejected"),
        duplicates=summary["summary"].get("duplicates"),
        summary=summary["summary"],
        quality=summary["quality"],
        incidents=len(incidents),
        catalogue={"lang": lang, "source": _catalogue_source(lang)},
        outputs=list(spec.outputs),
    )
    (staging / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    _publish(staging, out)
    return ReportResult(out_dir=out, manifest=manifest)


def _catalogue_source(lang: str) -> str:
    from ..catalogue.article import SHIPPED_FILES

    return SHIPPED_FILES[lang]


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
