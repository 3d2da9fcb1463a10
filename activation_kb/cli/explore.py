"""CLI command serving the explorer as a web app: ``activation-kb explore``."""

from __future__ import annotations

import click

from ._common import fail

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level activation-kb group."""
    group.add_command(explore_command)


@click.command("explore")
@click.argument("events", nargs=-1, metavar="[EVENTS]...")
@click.option("--since", default=None,
              help="Start of the period, e.g. 2026-02-01, or a duration such as 7D.")
@click.option("--until", default=None, help="End of the period (excluded).")
@click.option("--freq", default="h", show_default=True, help="Bucket size: 15min, h, D, W.")
@click.option("--lang", type=click.Choice(["en", "fr"]), default="en", show_default=True,
              help="Language of the app.")
@click.option("--tz", default=None, help="Time zone of CSV local times and of the buckets.")
@click.option("--port", type=click.IntRange(1, 65535), default=8866, show_default=True,
              help="Port to listen on.")
@click.option("--ip", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--no-browser", is_flag=True, help="Do not open the app in a browser.")
@click.option("--show-tracebacks", is_flag=True,
              help="Show a failed cell's traceback in the page.")
def explore_command(events, since, until, freq, lang, tz, port, ip, no_browser,
                    show_tracebacks) -> None:
    """Serve the fleet explorer (notebooks/explore.ipynb) as a web app with Voilà.

    EVENTS are exports (files, directories, globs) or an event store; none: the bundled
    sample. Every parameter is checked before the server starts (exit 2 for a bad one). The
    server runs until interrupted (Ctrl-C). Needs the lab extra (pip install -e ".[lab]").
    """
    from ..errors import MissingDependencyError, ParameterError
    from ..views.serve import serve_explorer

    try:
        serve_explorer(list(events) or None, since=since, until=until, freq=freq, lang=lang,
                       tz=tz, port=port, ip=ip, open_browser=not no_browser,
                       show_tracebacks=show_tracebacks)
    except ParameterError as exc:
        raise fail(str(exc), 2) from exc
    except MissingDependencyError as exc:
        raise fail(str(exc), 1) from exc
