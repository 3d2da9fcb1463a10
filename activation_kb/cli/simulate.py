"""CLI commands for the simulate part of activation_kb: ``activation-kb simulate``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import fail, progress_options

__all__ = ["register"]

_SUFFIX = {"parquet": ".parquet", "csv": ".csv", "xml": ".xml"}


@click.command("simulate")
@click.option(
    "--devices",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Number of machines.",
)
@click.option(
    "--days",
    type=float,
    default=60,
    show_default=True,
    help="Simulated span in days (more than 0, at most 3660).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--incidents",
    default="default",
    show_default=True,
    help="'default', 'none', or a JSON file with a list of incident specs.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory (created).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "xml"]),
    default="parquet",
    show_default=True,
    help="Events format; xml writes one file per machine and KMS host.",
)
@click.option("--start", default=None, help="UTC start date, e.g. 2026-01-05.")
@progress_options
def simulate_command(
    devices: int, days: float, seed: int, incidents: str, out: Path, fmt: str, start: str | None
) -> None:
    """Simulate a fleet's activation telemetry with ground-truth incidents."""
    from ..errors import ParameterError
    from ..params import MAX_SPAN, check_date, check_number
    from ..simulate import simulate_fleet

    try:  # checked before anything is simulated or written
        days = check_number(days, "--days", minimum=0, maximum=MAX_SPAN.days, above_minimum=True)
        if start is not None:
            check_date(start, "--start")
    except ParameterError as exc:
        raise fail(str(exc), 2) from exc
    from ..progress import stage

    with stage("simulating fleet"):
        events, truth = simulate_fleet(
            devices=devices, days=days, seed=seed, incidents=incidents, start=start
        )
    try:
        from ..telemetry import write_events
    except ImportError as exc:
        raise fail(
            f"cannot write events: activation_kb.telemetry is unavailable ({exc})", 1
        ) from exc
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "xml":
        from ..telemetry._write import write_events_by_host

        target = out / "events"
        with stage("writing XML files", total=events["host"].nunique(), unit="files") as s:
            write_events_by_host(events, target, on_file=lambda path, n: s.advance())
            s.detail(f"{len(events):,} events")
    else:
        target = out / f"events{_SUFFIX[fmt]}"
        with stage(f"writing {fmt.upper()}"):
            write_events(events, target, format=fmt)
    rows = truth.assign(
        start=truth["start"].map(lambda t: t.isoformat()),
        end=truth["end"].map(lambda t: t.isoformat()),
    ).to_dict(orient="records")
    (out / "incidents.json").write_text(
        json.dumps(rows, indent=2, default=str) + "\n", encoding="utf-8"
    )
    click.echo(
        f"{len(events)} events from {devices} machines over {days:g} days -> {target}; "
        f"{len(truth)} incidents -> {out / 'incidents.json'}"
    )


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level activation-kb group."""
    group.add_command(simulate_command)
