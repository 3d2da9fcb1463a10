"""Run the parameterised report notebooks with papermill and publish self-contained HTML.

:func:`run_report` checks the parameters before any kernel starts, executes the notebook with
papermill in a staging folder beside the output (in a kernel that dies with this process,
``_kernel``), exports code-free offline HTML with nbconvert (``export``), writes
``manifest.json`` and ``summary.txt``, and only then publishes the run in one atomic step
(``_publish``): a failed, interrupted or terminated run never replaces the last good report with
a half one and leaves no staging folder behind. :func:`list_reports` reads the manifests back
without a kernel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from ..digest import file_sha256
from ..errors import (
    MissingDependencyError,
    ParameterError,
    ReportError,
    ReportParameterError,
    TelemetryError,
)
from ..params import ReportParams
from ..progress import RELAY_ENV, replay
from ..progress import stage as progress_stage
from ..resources import data_path, notebook_path
from ._kernel import KERNEL_NAME, kernel_dir
from ._publish import keep_failed, new_staging, publish, terminate_as_exception
from .export import export_html
from .summary import summary_text

__all__ = [
    "DEFAULT_REPORT",
    "REPORTS",
    "ReportParams",
    "ReportSpec",
    "ReportResult",
    "check_parameters",
    "check_exports",
    "report_params",
    "run_report",
    "list_reports",
    "export_html",
    "default_events",
]

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
        ``incidents.csv``, ``health.json``, ``health.csv``, ``manifest.json`` and ``summary.txt``.
    """

    notebook: str
    description: str
    outputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.outputs:
            object.__setattr__(self, "outputs", (self.html, Path(self.notebook).name,
                                                 "incidents.json", "incidents.csv",
                                                 "health.json", "health.csv",
                                                 "manifest.json", "summary.txt"))

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
        "Activation errors of a fleet: health, frequency, incidents, causes and fixes",
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

    @property
    def risks(self) -> list[str]:
        """Why the fleet is at risk (expired machines, KMS hosts short of clients); [] if not."""
        return list(self.manifest.get("health", {}).get("alerts", []))


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


def check_exports(params: ReportParams) -> None:
    """Refuse, before any kernel starts, export paths the report's loading would refuse.

    Files found beside the exports that are not exports (``README.md``, ``notes.txt``,
    ``desktop.ini``, hidden files ...) are an error with ``params.strict`` (every one named,
    with the reason); without it they are skipped and listed in the manifest, and only paths
    holding no export at all are an error. Only the first bytes of files whose name does not
    say they are exports are read (:func:`~activation_kb.telemetry._scan.scan_exports`).

    Parameters
    ----------
    params : ReportParams
        The checked parameters of the run (``events``, ``store``, ``strict``).

    Raises
    ------
    ReportParameterError
        For ``events`` (its ``__cause__`` is the :class:`~activation_kb.TelemetryError`).
    """
    if params.events is None or params.store is not None:
        return  # the bundled sample, or a store: nothing beside the exports
    from ..telemetry._scan import scan_exports

    try:
        scan_exports(list(params.events), strict=params.strict)
    except TelemetryError as exc:
        raise ReportParameterError(f"events: {exc}", "events", list(params.events)) from exc



def _inputs(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """List the files the loader read, with their size and sha256 (hashed now, after the run).

    Only what the loader read is listed, so that a hidden ``.sync.lock`` or a file that
    disappeared since cannot fail a run whose notebook finished: a file that cannot be hashed
    any more is listed with the reason instead of its digest.
    """
    out = []
    for counts in files:
        path = Path(counts["path"])
        entry: dict[str, Any] = {"path": str(path)}
        try:
            entry.update(sha256=file_sha256(path), bytes=path.stat().st_size)
        except OSError as exc:
            entry.update(sha256=None, error=f"not hashed: {exc.strerror or exc}")
        entry.update({k: counts[k] for k in ("format", "records", "loaded", "rejected",
                                              "duplicates") if k in counts})
        out.append(entry)
    return out


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


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
        executed notebook, ``incidents.json``, ``incidents.csv``, ``health.json`` and
        ``health.csv`` (:func:`~activation_kb.write_health`) and ``manifest.json`` (with the
        health summary: counts by status, ``at_risk``, ``alerts``; the files read, ``inputs``,
        and those found that are not exports, ``skipped_files``, each with the reason).
    params : ReportParams, optional
        All the report parameters at once (then give neither ``events`` nor ``fields``).
    name : str
        A key of :data:`REPORTS`.
    progress : bool, optional
        False: show no stage (loading exports, detecting spikes, writing HTML ...). By default
        stages show on a terminal only (:mod:`activation_kb.progress`).
    timeout : float, optional
        Seconds a cell may run.
    **fields
        The report parameters one by one, as in :class:`ReportParams`: ``since``, ``until``
        (period; ``since`` may be a duration such as "7D"), ``freq``, ``lang``,
        ``sensitivity``, ``history``, ``top_n``, ``title``, ``tz``, ``catalogue``, ``store``
        (an event store, :func:`~activation_kb.ingest`, to report on instead of ``events``:
        only the days of the period and its baseline are read), ``engine`` ("dask" runs the
        heavy part on a Dask cluster; needs ``store``), ``scheduler`` (the Dask scheduler's
        address, "tcp://host:8786"; default a local cluster), ``workers`` and ``memory_limit``
        (the local cluster's worker processes and each one's memory limit, "2GB") and
        ``strict`` (a file beside the exports that is not one, e.g. ``README.md``, is an error
        before the kernel starts, instead of being skipped and listed in the manifest's
        ``skipped_files``).

    Returns
    -------
    ReportResult

    Raises
    ------
    ReportParameterError
        For a bad parameter, before any kernel starts; so are paths holding no export at all
        and, with ``strict``, files that are not exports.
    ReportError
        When a cell fails (its error in the message; the executed notebook is kept in
        ``<out>.failed/``) or the export fails. The previous report in ``out`` is untouched.
    """
    if name not in REPORTS:
        raise ReportParameterError(f"report {name!r} is unknown; expected one of {list(REPORTS)}",
                                   "name", name)
    spec = REPORTS[name]
    checked = report_params(events, params, **fields)
    check_exports(checked)
    try:
        import papermill as pm
    except ImportError as exc:  # pragma: no cover - papermill is a dependency
        raise MissingDependencyError("papermill", None, "Running a report") from exc
    notebook_params = checked.notebook_parameters(default_events=[str(default_events())])
    out = Path(os.path.abspath(out))  # not resolve(): ``out`` itself is the published link
    out.parent.mkdir(parents=True, exist_ok=True)
    with terminate_as_exception():
        staging = new_staging(out)
        try:
            manifest = _run(pm, name, spec, checked, notebook_params, staging, out, progress,
                            timeout)
        finally:
            if staging.exists():  # an error while keeping the failed run: nothing stays behind
                shutil.rmtree(staging, ignore_errors=True)
    return ReportResult(out_dir=out, manifest=manifest, report=name)


def _run(pm: Any, name: str, spec: ReportSpec, checked: ReportParams,
         notebook_params: dict[str, Any], staging: Path, out: Path, progress: bool | None,
         timeout: float | None) -> dict[str, Any]:
    """Execute, export, describe and publish one run; a failure keeps it in ``<out>.failed``."""
    clock = time.perf_counter()
    manifest: dict[str, Any] = {
        "report": name, "parameters": notebook_params,
        "started": pd.Timestamp.now(tz="UTC").isoformat(), "versions": _versions(),
        "catalogue": {"lang": checked.lang}, "status": "running",
    }
    stage = "execute"
    try:
        _execute(pm, spec, notebook_params, staging, progress, timeout)
        stage = "export"
        with progress_stage("writing HTML"):
            export_html(staging / Path(spec.notebook).name, staging / spec.html,
                        title=checked.title)
        stage = "manifest"
        manifest.update(_run_facts(staging, checked.store),
                        seconds=round(time.perf_counter() - clock, 2),
                        catalogue=_catalogue_manifest(checked.lang, checked.catalogue),
                        outputs=list(spec.outputs))
        (staging / "manifest.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        incidents = json.loads((staging / "incidents.json").read_text(encoding="utf-8"))
        (staging / "summary.txt").write_text(
            summary_text(manifest, incidents, str(out), html=spec.html), encoding="utf-8")
        stage = "publish"
        with progress_stage("publishing"):
            publish(staging, out)
    except BaseException as exc:
        if not staging.exists():  # published already: nothing to keep
            raise
        failed = keep_failed(staging, out)
        manifest.update(status="failed", error=_error_text(exc), failed_at=stage,
                        finished=pd.Timestamp.now(tz="UTC").isoformat())
        (failed / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise ReportError(
            f"report {name} failed: {_error_text(exc)}; the executed notebook is kept in "
            f"{failed / Path(spec.notebook).name}"
        ) from exc
    return manifest


def _execute(pm: Any, spec: ReportSpec, parameters: dict[str, Any], staging: Path,
             progress: bool | None, timeout: float | None) -> None:
    """Run the report's notebook into ``staging`` with this interpreter's kernel.

    The kernel relays its named stages ("loading exports", "detecting spikes" ...) through a
    file that a thread here shows as they come (:mod:`activation_kb.progress`); papermill's
    own cell counter is never shown. The engine (:mod:`._engine`) reads the kernel's replies in
    short polls, so a run with widgets never waits forever on a reply that has come.
    """
    from ._engine import register as register_engine

    env = {"JUPYTER_PATH": os.pathsep.join(
        [str(kernel_dir()), os.environ.get("JUPYTER_PATH", "")]).strip(os.pathsep)}
    previous = {k: os.environ.get(k) for k in (*env, RELAY_ENV)}
    os.environ.update(env)
    try:
        with _relayed_stages(progress is not False) as relay:
            if relay:
                os.environ[RELAY_ENV] = relay
            pm.execute_notebook(
                str(notebook_path(spec.notebook)), str(staging / Path(spec.notebook).name),
                parameters={**parameters, "output_dir": str(staging)},
                kernel_name=KERNEL_NAME, cwd=str(staging), request_save_on_cell_execute=False,
                progress_bar=False, execution_timeout=timeout, engine_name=register_engine(),
            )
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _relayed_stages(enabled: bool) -> Iterator[str | None]:
    """Yield a file for the kernel's stage events, shown here by a thread while it runs."""
    if not enabled:
        yield None
        return
    handle, path = tempfile.mkstemp(prefix="activation-kb-progress-", suffix=".jsonl")
    os.close(handle)
    stop = threading.Event()

    def follow() -> None:
        with open(path, encoding="utf-8") as fh:
            pending = ""
            while True:
                ended = stop.is_set()
                pending += fh.read()
                *lines, pending = pending.split("\n")
                for line in lines:
                    replay(line)
                if ended:
                    return
                stop.wait(0.1)

    thread = threading.Thread(target=follow, name="report-progress", daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        thread.join(timeout=5)
        with contextlib.suppress(OSError):
            os.unlink(path)


def _run_facts(staging: Path, store: str | None = None) -> dict[str, Any]:
    """Read what the notebook wrote (summary, incidents, health) and describe the inputs."""
    summary = json.loads((staging / "run_summary.json").read_text(encoding="utf-8"))
    (staging / "run_summary.json").unlink()
    inputs = _inputs(summary.get("files", []))
    if store is not None:
        from ..store import store_info

        info = store_info(store)
        inputs.insert(0, {"path": store, "store": True,
                          **{k: info[k] for k in ("records", "days", "first_day", "last_day",
                                                  "size_bytes")}})
    incidents = json.loads((staging / "incidents.json").read_text(encoding="utf-8"))
    facts = {
        "status": "ok", "finished": pd.Timestamp.now(tz="UTC").isoformat(),
        "inputs": inputs,
        "skipped_files": summary.get("skipped_files", []),
        "records": summary["summary"].get("records"),
        "rejected": summary["summary"].get("rejected"),
        "duplicates": summary["summary"].get("duplicates"),
        "summary": summary["summary"], "quality": summary["quality"],
        "incidents": len(incidents),
    }
    if (staging / "health.json").is_file():  # the fleet report's health section wrote it
        health = json.loads((staging / "health.json").read_text(encoding="utf-8"))
        facts["health"] = {k: health[k] for k in ("at", "devices", "by_status", "at_risk",
                                                  "alerts")}
    return facts


def _catalogue_manifest(lang: str, catalogue: str | None) -> dict[str, Any]:
    from ..catalogue.article import SHIPPED_FILES

    if catalogue is None:
        return {"lang": lang, "source": SHIPPED_FILES[lang]}
    return {"lang": lang, "source": catalogue, "sha256": file_sha256(Path(catalogue))}


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
