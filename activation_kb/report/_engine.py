"""The papermill engine of the report: nbclient's, with replies read in short polls.

nbclient waits for a cell's reply on the kernel's shell channel with no timeout when the
notebook has none. With widgets on the page (the explorer), that wait can miss a reply that has
already come (jupyter/nbclient#312): the kernel is idle and the run never ends. Here the shell
channel is read in polls of at most :data:`POLL` seconds, so a reply is picked up within a
second whatever happens, and an overall timeout, when one is set, still holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from queue import Empty
from time import monotonic
from typing import Any

from jupyter_core.utils import ensure_async
from nbclient.util import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

__all__ = ["ENGINE", "POLL", "register"]

#: Name under which the engine is registered with papermill.
ENGINE = "activation_kb"
#: Longest single wait for a message on the shell channel, in seconds.
POLL = 1.0


def polled(get_msg: Callable[..., Any]) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Return ``get_msg`` reading in polls of at most :data:`POLL` seconds.

    Parameters
    ----------
    get_msg : callable
        A channel's ``get_msg(timeout=None)``.

    Returns
    -------
    callable
        The same call; it raises :class:`queue.Empty` only once ``timeout`` (if any) is over.
    """
    async def get(timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = POLL if deadline is None else max(0.0, min(POLL, deadline - monotonic()))
            try:
                return await ensure_async(get_msg(timeout=left))
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise

    return get


class _Client(PapermillNotebookClient):
    """papermill's client whose shell channel is read in short polls."""

    async def async_start_new_kernel_client(self):  # noqa: D102 - nbclient's
        client = await super().async_start_new_kernel_client()
        client.shell_channel.get_msg = polled(client.shell_channel.get_msg)
        return client

    start_new_kernel_client = run_sync(async_start_new_kernel_client)


class _Engine(NBClientEngine):
    """papermill's nbclient engine with :class:`_Client`."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                 stderr_file=None, start_timeout=60, execution_timeout=None,
                                 **kwargs):  # noqa: D102 - papermill's
        kwargs = remove_args(["input_path"], **kwargs)
        safe = remove_args(["timeout", "startup_timeout"], **kwargs)
        final = merge_kwargs(
            safe, timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
            log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
        return _Client(nb_man, **final).execute()


def register() -> str:
    """Register the engine with papermill (once) and return its name for ``engine_name``."""
    papermill_engines.register(ENGINE, _Engine)
    return ENGINE
