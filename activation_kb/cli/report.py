"""CLI commands for the scheduled report: ``activation-kb report run`` and ``report list``.

Exit codes: 0 report written, 1 a cell or the export failed (the executed notebook is kept in
``<out>.failed/``), 2 bad parameters (checked before any kernel starts), 3 report written,
incidents found and ``--fail-on-spike`` given (a success: no "Error:" line), 4 a machine expired
or a KMS host short of clients (now or forecast within 14 days) and ``--fail-on-risk`` given (4
wins when both apply).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import fail, progress_options
from ._words import report_line, skipped_line

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level activation-kb group."""
    group.add_command(report_group)


@click.group("report")
def report_group() -> None:
    """Run the fleet report (papermill + nbconvert) and list past runs."""


@report_group.command("run")
@click.option("--report", "name", default="fleet_report", show_default=True, metavar="NAME",
              help="Report to run: a key of activation_kb.report.REPORTS.")
@click.option("--events", "events", multiple=True, metavar="PATH",
              help="Event export: file, directory or glob; repeat for several. "
                   "Default: the bundled sample.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/latest"), show_default=True,
              help="Folder the report is published into (replaced only when the run succeeds).")
@click.option("--since", default=None,
              help="Start of the period, e.g. 2026-02-01, or a duration such as 7D: that long "
                   "before --until or the last event.")
@click.option("--until", default=None, help="End of the period (excluded).")
@click.option("--freq", default="h", show_default=True, help="Bucket size: 15min, h, D, W.")
@click.option("--lang", type=click.Choice(["en", "fr"]), default="en", show_default=True,
              help="Language of the report.")
@click.option("--sensitivity", type=float, default=0.5, show_default=True,
              help="Spike detection sensitivity in (0, 1]; higher finds smaller rises.")
@click.option("--history", default="28D", show_default=True,
              help="How far back the spike baseline looks before the period, e.g. 28D.")
@click.option("--top-n", "top_n", type=int, default=10, show_default=True,
              help="Codes in the top-codes chart and incidents shown in detail.")
@click.option("--title", default=None, help="Report title.")
@click.option("--tz", default=None, help="Time zone of CSV local times and of the report.")
@click.option("--catalogue", "catalogue", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False), default=None,
              help="A copy of the error-code article (markdown, e.g. a newer revision) to "
                   "explain incidents with, instead of the shipped one.")
@click.option("--fail-on-spike", is_flag=True,
              help="Exit with 3 when incidents were found (for alerting from cron).")
@click.option("--fail-on-risk", is_flag=True,
              help="Exit with 4 when a machine is expired (or in notification) or a KMS host "
                   "is, or is forecast within 14 days to be, below its threshold.")
@click.option("--store", "store", default=None, type=click.Path(file_okay=False),
              help="Report on an event store (activation-kb events ingest) instead of "
                   "--events; only the days of the period and its baseline are read.")
@click.option("--engine", type=click.Choice(["pandas", "dask"]), default="pandas",
              show_default=True, help="dask: analyse the store on a Dask cluster.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler, e.g. tcp://host:8786 (default: a local cluster).")
@click.option("--workers", type=int, default=None, metavar="N",
              help="Worker processes of the local Dask cluster (default: one per core).")
@click.option("--memory-limit", "memory_limit", default=None, metavar="SIZE",
              help="Memory limit of each local Dask worker, e.g. 2GB; tasks are sized to fit "
                   "it (default: a share of the machine's memory).")
@click.option("--strict", is_flag=True,
              help="Fail (exit 2, before the kernel starts) when a file found beside the exports "
                   "is not one (README.md, notes.txt, desktop.ini, hidden files), instead of "
                   "skipping it and listing it in the manifest.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@progress_options
def run_command(name, events, out, since, until, freq, lang, sensitivity, history, top_n, title,
                tz, catalogue, fail_on_spike, fail_on_risk, store, engine, scheduler, workers,
                memory_limit, strict, as_json) -> None:
    """Run the fleet report and write HTML, the executed notebook, incidents and a manifest.

    Every parameter is checked before a kernel starts (exit 2 for a bad one). Files beside the
    exports that are not exports are skipped and listed (manifest.json, summary.txt, the
    report's data quality) unless --strict.
    """
    from ..errors import ReportError, ReportParameterError
    from ..report.runner import report_params, run_report

    try:
        params = report_params(
            list(events) or None, since=since, until=until, freq=freq, lang=lang,
            sensitivity=sensitivity, history=history, top_n=top_n, title=title, tz=tz,
            catalogue=catalogue, store=store, engine=engine, scheduler=scheduler,
            workers=workers, memory_limit=memory_limit, strict=strict,
        )
        result = run_report(out=out, params=params, name=name)
    except ReportParameterError as exc:
        raise fail(_option_names(exc), 2) from exc
    except ReportError as exc:
        raise fail(" ".join(str(exc).split()), 1) from exc
    manifest = result.manifest
    if as_json:
        click.echo(json.dumps(manifest, indent=2, ensure_ascii=False))
    else:
        summary = manifest.get("summary", {})
        click.echo(report_line(lang, result.out_dir, manifest["seconds"], manifest["incidents"],
                               summary.get("devices", 0), manifest.get("records", 0),
                               manifest.get("rejected", 0)))
        click.echo(f"  {result.html}")
        if manifest.get("skipped_files"):
            click.echo("  " + skipped_line(lang, len(manifest["skipped_files"])))
    if fail_on_risk and result.risks:
        raise fail(f"at risk: {'; '.join(result.risks)}; see {result.out_dir / 'health.json'}", 4)
    if fail_on_spike and result.incidents:
        click.echo(f"{result.incidents} incident(s) found (exit status 3, --fail-on-spike); "
                   f"see {result.out_dir / 'summary.txt'}", err=True)
        raise click.exceptions.Exit(3)


def _option_names(exc: Exception) -> str:
    """Return the error's message naming its parameter as the command line does (``--top-n``)."""
    text, name = str(exc), getattr(exc, "parameter", None)
    if name and text.startswith(f"{name}="):
        text = f"--{name.replace('_', '-')} " + text[len(name) + 1:]
    return text


@report_group.command("list")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(root: Path, as_json: bool) -> None:
    """List the reports under ROOT (default: reports/) from their manifests, newest first."""
    from ..report.runner import list_reports

    if not root.is_dir():
        raise fail(f"{root}: no such folder; expected the folder holding report runs", 2)
    frame = list_reports(root)
    if as_json:
        click.echo(json.dumps(frame.to_dict(orient="records"), indent=2, default=str))
        return
    if frame.empty:
        click.echo(f"no report under {root}")
        return
    for row in frame.to_dict(orient="records"):
        period = ""
        if row["period_start"]:
            period = f"  period {row['period_start'][:10]} to {(row['period_end'] or '')[:10]}"
        counts = "" if row["incidents"] is None else (
            f"  incidents={row['incidents']}  records={row['records']}")
        click.echo(
            f"{row['path']}  {row['status']}  {row['finished'] or ''}{counts}{period}"
            f"  {row['parameters'] or ''}".rstrip()
        )
