"""CLI commands for event exports: ``events summarize``, ``convert``, ``ingest``, ``store``.

Both are thin wrappers over :func:`activation_kb.telemetry.load_events`; library errors about the
input (:class:`~activation_kb.TelemetryError` is a ValueError) become one line and exit code 2
through the group's error handling.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ._common import fail, progress_options

__all__ = ["register"]

_PATHS_HELP = "Files, directories or glob patterns (quote globs) of event exports."


def _input_options(command):
    """Add PATH... and the options that say how to read it (listed in this order)."""
    command = click.option("--strict", is_flag=True,
                           help="Fail when a file found is not an event export (README, notes, "
                                "hidden or metadata files) instead of listing it as "
                                "skipped.")(command)
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


def _load(paths, fmt, tz, rejected_out, strict=False):
    from ..telemetry import load_events

    result = load_events(list(paths), format=fmt, tz=tz, strict=strict)
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
    if summary.get("unreadable_values"):
        click.echo("values present but unreadable (record loaded, value left empty):")
        for column, count in summary["unreadable_values"].items():
            click.echo(f"  {column:<22}{count:>10,}")
    _print_skipped(summary.get("skipped_files") or [], most)


def _print_skipped(skipped: list[dict[str, str]], most: int = 20) -> None:
    """List the files that are not exports, with the reason (summarize, ingest)."""
    if skipped:
        click.echo(f"skipped (not event exports): {len(skipped):,}")
        for s in skipped[:most]:
            click.echo(f"  SKIPPED {s['path']}: {s['reason']}")
        if len(skipped) > most:
            click.echo(f"  ... and {len(skipped) - most:,} more (--json lists every one)")


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level activation-kb group."""

    @group.group("events")
    def events() -> None:
        """Load, summarise and convert Windows activation event exports."""

    @events.command("summarize")
    @progress_options
    @_input_options
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    def summarize(paths, fmt, tz, rejected_out, strict, as_json) -> None:
        """Load PATH... and print record counts, time span, counts by event kind and by code.

        PATH may be a file (plain or gzipped), a directory or a glob pattern. Files that are
        not exports (README, notes, hidden files) are listed as skipped unless --strict.
        """
        summary = _load(paths, fmt, tz, rejected_out, strict).summary()
        if as_json:
            click.echo(json.dumps(summary, indent=2))
        else:
            _print_summary(summary)

    @events.command("convert")
    @progress_options
    @_input_options
    @click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                  help="Output file: .parquet, .csv or .xml (.csv.gz, .xml.gz compressed).")
    def convert(paths, fmt, tz, rejected_out, strict, output) -> None:
        """Load PATH... and write one canonical events file to OUTPUT.

        PATH may be a file (plain or gzipped), a directory or a glob pattern.
        """
        from ..telemetry import output_format, write_events

        output_format(output)  # a bad output name fails before anything is read
        result = _load(paths, fmt, tz, rejected_out, strict)
        write_events(result.events, output)
        skipped = (f"; {len(result.skipped_files):,} files skipped (not exports)"
                   if result.skipped_files else "")
        click.echo(f"wrote {result.loaded:,} events to {output} ({result.records:,} records: "
                   f"{result.n_rejected:,} rejected, {result.duplicates:,} duplicates{skipped})")

    _store_commands(events)


def _store_commands(events: click.Group) -> None:
    """``events ingest`` and ``events store``: the fleet event store (activation_kb.store)."""

    @events.command("ingest")
    @click.argument("paths", nargs=-1, required=True, metavar="EXPORTS...")
    @click.option("--store", "store", required=True, type=click.Path(file_okay=False),
                  help="The event store directory (created when it does not exist).")
    @click.option("--format", "fmt", default=None, metavar="FORMAT",
                  help="Read every file as this format (default: sniffed from content).")
    @click.option("--tz", default=None, metavar="ZONE",
                  help="IANA time zone of local times in Get-WinEvent/Event Viewer CSV exports.")
    @click.option("--wait", type=float, default=0.0, show_default=True, metavar="SECONDS",
                  help="Wait this long for another ingest to finish (default: exit 2 at once).")
    @click.option("--workers", type=int, default=None,
                  help="Processes parsing files (default: every core).")
    @click.option("--strict", is_flag=True,
                  help="Fail (exit 2, before anything is written) when a file found is not an "
                       "event export (README, notes, hidden or metadata files) instead of "
                       "listing it as skipped.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def ingest_command(paths, store, fmt, tz, wait, workers, strict, as_json) -> None:
        """Append EXPORTS... (files, directories, globs) to the event store --store DIR.

        Files ingested before (same sha256) are skipped without parsing; records already in
        the store are counted as duplicates and not stored twice. Files that are not exports
        (README, notes, hidden files) are listed as skipped unless --strict. Exit 2 when
        another ingest holds the store (see --wait) or an input is unusable.
        """
        from ..errors import StoreLockedError
        from ..store import ingest

        try:
            result = ingest(list(paths), store, format=fmt, tz=tz, wait=wait, workers=workers,
                            strict=strict)
        except StoreLockedError as exc:
            raise fail(str(exc), 2) from exc
        if as_json:
            click.echo(json.dumps(result.summary(), indent=2))
            return
        ingested = len(result.files) - len(result.skipped)
        click.echo(f"ingested {ingested:,} file(s) into {result.store} in {result.seconds:.1f} s: "
                   f"{result.records:,} records, {result.loaded:,} stored, "
                   f"{result.rejected:,} rejected, {result.duplicates:,} duplicates; "
                   f"{len(result.days):,} day(s) touched")
        if result.skipped:
            click.echo(f"skipped {len(result.skipped):,} file(s) already ingested:")
            for f in result.skipped[:20]:
                click.echo(f"  {f['path']}: {f['reason']}")
            if len(result.skipped) > 20:
                click.echo(f"  ... and {len(result.skipped) - 20:,} more (--json lists them)")
        _print_skipped(result.skipped_files)

    @events.command("store")
    @click.argument("store", type=click.Path(file_okay=False))
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def store_command(store, as_json) -> None:
        """Describe the event store STORE: size, days, records, devices, last ingest."""
        from ..store import store_info

        info = store_info(store)
        if as_json:
            click.echo(json.dumps(info, indent=2))
            return
        span = f"{info['first_day']} to {info['last_day']}" if info["days"] else "-"
        click.echo(f"{'store':<16}{info['path']}")
        click.echo(f"{'size':<16}{info['size_bytes'] / 2**20:,.1f} MiB")
        click.echo(f"{'days':<16}{info['days']:,} ({span})")
        for key in ("records", "devices", "files_ingested", "rejected"):
            click.echo(f"{key.replace('_', ' '):<16}{info[key]:,}")
        last = info["last_ingest"]
        click.echo(f"{'last ingest':<16}" + (
            f"{last['time']}: {last['files']:,} file(s), {last['records']:,} records, "
            f"{last['loaded']:,} stored, {last['rejected']:,} rejected, "
            f"{last['duplicates']:,} duplicates" if last else "never"))

