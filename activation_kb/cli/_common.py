"""What every command shares: error handling that maps library errors to exit codes."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..errors import ActivationKBError

__all__ = ["AppGroup", "CLIError", "fail", "progress_options"]


class CLIError(click.ClickException):
    """A one-line error printed as ``Error: ...`` with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, exit_code: int = 1) -> CLIError:
    """Return a :class:`CLIError` to raise: ``raise fail("...", 2)``."""
    return CLIError(message, exit_code)


class AppGroup(click.Group):
    """A click group that turns library errors into one clear line and the right exit code.

    Errors caused by the input (subclasses of :class:`ValueError`, :class:`OSError` such as a
    missing file) exit with 2; other :class:`~activation_kb.ActivationKBError` and unexpected
    errors exit with 1. No traceback reaches the user unless ``ACTIVATION_KB_DEBUG`` is set.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except (ValueError, OSError) as exc:
            raise CLIError(_one_line(exc), 2) from exc
        except ActivationKBError as exc:
            raise CLIError(_one_line(exc), 1) from exc
        except Exception as exc:
            if os.environ.get("ACTIVATION_KB_DEBUG"):
                raise
            raise CLIError(
                f"unexpected {type(exc).__name__}: {_one_line(exc)} "
                "(set ACTIVATION_KB_DEBUG=1 to see the traceback)",
                1,
            ) from exc


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split("\n"))


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    from ..progress import configure

    ctx.meta["progress_quiet"] = value
    configure(quiet=value, verbose=ctx.meta.get("progress_verbose", 0))
    return value


def _set_verbose(ctx: click.Context, param: click.Parameter, value: int) -> int:
    from ..progress import configure

    ctx.meta["progress_verbose"] = value
    configure(quiet=ctx.meta.get("progress_quiet", False), verbose=value)
    return value


def progress_options(command):
    """Add ``--quiet`` and ``-v`` (named stages on a terminal; see activation_kb.progress)."""
    command = click.option("-v", "--verbose", count=True, expose_value=False,
                           callback=_set_verbose,
                           help="Print each finished stage with its duration and details "
                                "(also when not on a terminal).")(command)
    return click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_quiet,
                        help="Show no progress (by default stages show on a terminal "
                             "only).")(command)
