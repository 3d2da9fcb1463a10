"""Serve the explorer notebook as a web app with Voilà, its parameters filled in.

``voila notebooks/explore.ipynb`` runs the notebook with nbclient, whose wait for a cell's reply
on the kernel's shell channel has no timeout and, with widgets on the page, can miss a reply that
has already come (jupyter/nbclient#312): the page then never loads. :func:`serve_explorer`
starts Voilà with an executor that reads that channel in short polls (the papermill engine's
:func:`~activation_kb.report._engine.polled`), after papermill wrote the notebook's parameters
(events, period, bucket, language, time zone) into a copy of it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingDependencyError
from ..params import ReportParams
from ..resources import notebook_path

__all__ = ["explorer_notebook", "install_polled_executor", "serve_explorer"]

#: The notebook served.
EXPLORER = "explore.ipynb"


def _voila() -> Any:
    try:
        import voila.app
        import voila.notebook_renderer
    except ImportError as exc:  # pragma: no cover - the lab extra is installed in tests
        raise MissingDependencyError(
            "serving the explorer needs Voilà: pip install 'activation_kb[lab]'") from exc
    return voila


def install_polled_executor() -> type:
    """Make Voilà execute notebooks with an executor that reads kernel replies in short polls.

    Returns
    -------
    type
        The executor class now used by ``voila.notebook_renderer`` (installed once).
    """
    from ..report._engine import polled

    voila = _voila()
    renderer = voila.notebook_renderer
    current = renderer.VoilaExecutor
    if getattr(current, "_activation_kb_polled", False):
        return current

    class PolledVoilaExecutor(current):  # type: ignore[misc, valid-type]
        """Voilà's executor whose shell channel is read in polls of at most a second."""

        _activation_kb_polled = True

        async def async_start_new_kernel_client(self):  # noqa: D102 - nbclient's
            client = await super().async_start_new_kernel_client()
            client.shell_channel.get_msg = polled(client.shell_channel.get_msg)
            return client

    renderer.VoilaExecutor = PolledVoilaExecutor
    return PolledVoilaExecutor


def explorer_notebook(out: str | os.PathLike[str], events: Sequence[str] | str | None = None, *,
                      since: str | None = None, until: str | None = None, freq: str = "h",
                      lang: str = "en", tz: str | None = None) -> Path:
    """Write the explorer notebook with its parameters filled in (papermill, not executed).

    Parameters
    ----------
    out : path
        Folder the notebook is written into (created).
    events : str or sequence of str, optional
        Files, directories or globs of exports, or an event store; None: the bundled sample.
        Relative paths are made absolute (Voilà runs the notebook in ``out``).
    since, until : str, optional
        The period (``until`` excluded); ``since`` may be a duration such as ``"7D"``.
    freq : str
        Bucket size, e.g. ``"15min"``, ``"h"``, ``"D"``.
    lang : {"en", "fr"}
        Language of the app.
    tz : str, optional
        Time zone of CSV local times and of the buckets.

    Returns
    -------
    pathlib.Path
        The notebook written.

    Raises
    ------
    ParameterError
        A parameter that cannot work, named as the notebook names it.
    """
    import papermill

    # checked as the report's are (the same period, buckets and paths rules)
    checked = ReportParams(events=events, since=since, until=until, freq=freq, lang=lang, tz=tz)
    parameters: dict[str, Any] = {
        "events": None if checked.events is None else list(checked.events),
        "since": checked.since, "until": checked.until, "freq": checked.freq,
        "lang": checked.lang, "tz": checked.tz,
    }
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / EXPLORER
    papermill.execute_notebook(str(notebook_path(EXPLORER)), str(target), parameters=parameters,
                               prepare_only=True, progress_bar=False, log_output=False)
    return target


def serve_explorer(events: Sequence[str] | str | None = None, *, since: str | None = None,
                   until: str | None = None, freq: str = "h", lang: str = "en",
                   tz: str | None = None, port: int = 8866, ip: str = "127.0.0.1",
                   open_browser: bool = True, show_tracebacks: bool = False) -> None:
    """Serve the explorer with Voilà until interrupted (Ctrl-C).

    Parameters
    ----------
    events, since, until, freq, lang, tz
        As :func:`explorer_notebook`.
    port : int
        Port Voilà listens on.
    ip : str
        Address Voilà listens on; ``127.0.0.1`` keeps it on this machine.
    open_browser : bool
        Open the app in the default browser.
    show_tracebacks : bool
        Show a failed cell's traceback in the page (otherwise only that it failed).
    """
    with tempfile.TemporaryDirectory(prefix="activation_kb-explore-") as folder:
        notebook = explorer_notebook(folder, events, since=since, until=until, freq=freq,
                                     lang=lang, tz=tz)
        install_polled_executor()
        argv = [str(notebook), f"--port={port}", f"--Voila.ip={ip}",
                f"--show_tracebacks={show_tracebacks}"]
        if not open_browser:
            argv.append("--no-browser")
        app = _voila().app.Voila
        app.launch_instance(argv=argv)
        app.clear_instance()
