"""CLI commands for activation event exports: ``events summarize`` and ``events convert``.

Both are thin wrappers over :func:`activation_kb.telemetry.load_events`; library errors about the
input (:class:`~activation_kb.TelemetryError` is a ValueError) become one line and exit code 2
through the group's error handling.
"""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["register"]

_PATHS_HELP = "Files, directories or glob patterns (quote globs) of event exports."


def _input_options(command):
    """Add PATH... and the options that say how to read it (listed in this order)."""
    command = click.option("--rejected", "rejected_out", default=None, metavar="FILE",
                           type=click.Path(dir_okay=False, writable=True),
                           help="Write the rejected records (file, record number, reason, raw "
                                "text) to this CSV file.")(command)
    command = click.option("--tz", default=None, metavar="ZONE",
                           help="IANA time zone of local times in Get-WinEvent/Get-EventLog/"
                                "Event Viewer CSV exports, e.g. Europe/Paris (required for "
                                "them).")(command)
    command = click.option("--format", "fmt", default=None, metavar="FORMAT",
                           help="Read every file as this format (default: sniffed from content): "
                                "wevtutil_xml, evtx, evtx_json, winevent_csv, eventviewer_csv, "
                                "la_event, la_windowsevent, canonical_csv, "
                                "canonical_parquet.")(command)
    return click.argument("paths", nargs=-1, required=True, metavar="PATH...")(command)


def _load(paths, fmt, tz, rejected_out):
    from ..telemetry import load_events

    result = load_events(list(paths), format=fmt, tz=tz)
    if rejected_out:
        result.rejected.to_csv(rejected_out, index=False)
    return result


def _print_summary(summary: dict[str, Any], most: int = 20) -> None:
    for key in ("records", "loaded", "rejected", "duplicates", "skipped", "hosts"):
        if key != "skipped" or summary.get(key):  # EVTX: other providers' records
            click.echo(f"{key:<16}{summary[key]:>10,}")
    click.echo(f"{'files':<16}{len(summary['files']):>10,}")
    click.echo(f"{'first event':<16}{summary['first_event_time'] or '-'}")
    click.echo(f"{'last event':<16}{summary['last_event_time'] or '-'}")
    for title, counts in (("by event_kind", summary["by_event_kind"]),
                          ("by code", summary["by_code"])):
        click.echo(f"{title}:")
        for name, count in counts.items():
            click.echo(f"  {name:<22}{count:>10,}")
    notable = [f for f in summary["files"] if f["rejected"] or f["duplicates"]]
    if notable:
        click.echo("files with rejected records or duplicates:")
        for f in notable[:most]:
            click.echo(f"  {f['path']} [{f['format']}]: {f['records']:,} records, "
                       f"{f['loaded']:,} loaded, {f['rejected']:,} rejected, "
                       f"{f['duplicates']:,} duplicates")
        if len(notable) > most:
            click.echo(f"  ... and {len(notable) - most:,} more (--json lists every file)")


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level activation-kb group."""

    @group.group("events")
    def events() -> None:
        """Load, summarise and convert Windows activation event exports."""

    @events.command("summarize")
    @_input_options
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    def summarize(paths, fmt, tz, rejected_out, as_json) -> None:
        """Load PATH... and print record counts, time span, counts by event kind and by code.

        PATH may be a file (plain or gzipped), a directory or a glob pattern.
        """
        summary = _load(paths, fmt, tz, rejected_out).summary()
        if as_json:
            click.echo(json.dumps(summary, indent=2))
        else:
            _print_summary(summary)

    @events.command("convert")
    @_input_options
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                  help="Output file: .parquet, .csv or .xml (.csv.gz, .xml.gz compressed).")
    def convert(paths, fmt, tz, rejected_out, output) -> None:
        """Load PATH... and write one canonical events file to OUTPUT.

        PATH may be a file (plain or gzipped), a directory or a glob pattern.
        """
        from ..telemetry import output_format, write_events

        output_format(output)  # a bad output name fails before anything is read
        result = _load(paths, fmt, tz, rejected_out)
        write_events(result.events, output)
        click.echo(f"wrote {result.loaded:,} events to {output} ({result.records:,} records: "
                   f"{result.n_rejected:,} rejected, {result.duplicates:,} duplicates)")
