"""CLI commands for the events part of activation_kb: ``events summarize`` and ``events convert``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import fail


def _load(paths, fmt, tz):
    from ..errors import TelemetryError
    from ..telemetry import load_events

    try:
        return load_events(list(paths), format=fmt, tz=tz)
    except TelemetryError as exc:
        raise fail(" ".join(str(exc).split()), 2) from exc


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level activation-kb group."""

    @group.group("events")
    def events() -> None:
        """Load and convert Windows activation event exports."""

    @events.command("summarize")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @click.option("--format", "fmt", default=None, help="Force the input format (default: sniffed).")
    @click.option("--tz", default=None, help="Time zone of local times in the input.")
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    @click.option("--rejected", "rejected_out", type=click.Path(dir_okay=False), default=None,
                  help="Write rejected records to this CSV file.")
    def summarize(paths, fmt, tz, as_json, rejected_out) -> None:
        """Load PATHS and print record counts, event kinds and top error codes."""
        for p in paths:
            if not Path(p).is_file():
                raise fail(f"{p}: no such file; expected an event export (XML, EVTX, CSV, Parquet)", 2)
        result = _load(paths, fmt, tz)
        ev = result.events
        kinds = {str(k): int(v) for k, v in ev["event_kind"].value_counts().items() if v}
        codes = ev.loc[ev["result_code"].fillna(0) != 0, "code"].value_counts().head(10)
        summary = result.summary() | {
            "event_kinds": kinds, "top_error_codes": {str(k): int(v) for k, v in codes.items()},
            "hosts": int(ev["host"].nunique()),
            "first": None if ev.empty else ev["event_time"].min().isoformat(),
            "last": None if ev.empty else ev["event_time"].max().isoformat(),
        }
        if rejected_out:
            result.rejected.to_csv(rejected_out, index=False)
        if as_json:
            click.echo(json.dumps(summary, indent=2))
            return
        click.echo(f"records {result.records}  loaded {result.loaded}  rejected {result.n_rejected}"
                   f"  duplicates {result.duplicates}  hosts {summary['hosts']}")
        if not ev.empty:
            click.echo(f"from {summary['first']} to {summary['last']}")
        for f in result.files:
            click.echo(f"  {f['path']} [{f['format']}]: {f['records']} records, {f['loaded']} loaded,"
                       f" {f['rejected']} rejected, {f['duplicates']} duplicates")
        click.echo("event kinds: " + ", ".join(f"{k}={v}" for k, v in kinds.items()))
        if len(codes):
            click.echo("top error codes: " + ", ".join(f"{k}={v}" for k, v in codes.items()))

    @events.command("convert")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                  help="Output file: .parquet, .csv or .xml.")
    @click.option("--format", "fmt", default=None, help="Force the input format (default: sniffed).")
    @click.option("--tz", default=None, help="Time zone of local times in the input.")
    def convert(paths, output, fmt, tz) -> None:
        """Load PATHS and write one canonical events file to OUTPUT."""
        from ..telemetry import write_events

        for p in paths:
            if not Path(p).is_file():
                raise fail(f"{p}: no such file; expected an event export (XML, EVTX, CSV, Parquet)", 2)
        if Path(output).suffix.lower() not in (".parquet", ".csv", ".xml"):
            raise fail(f"{output}: unsupported output suffix; expected .parquet, .csv or .xml", 2)
        result = _load(paths, fmt, tz)
        write_events(result.events, output)
        click.echo(f"wrote {result.loaded} events to {output} "
                   f"({result.n_rejected} rejected, {result.duplicates} duplicates)")
