"""Old call forms that keep working, with a :class:`DeprecationWarning` naming the new one.

When a public signature changes (a parameter becomes keyword-only, a keyword is renamed for
consistency: ``since``/``until``, ``top_n``, ``lang``), decorate the function with
:func:`old_forms` so that code written for the old signature still runs.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["old_forms"]

F = TypeVar("F", bound=Callable[..., Any])


def old_forms(*, positional: Sequence[str] = (), renamed: Mapping[str, str] | None = None,
              ) -> Callable[[F], F]:
    """Accept a function's former positional parameters and keyword names, with a warning.

    Parameters
    ----------
    positional : sequence of str
        Keyword-only parameters that former versions took by position, in their former order
        after the parameters that are still positional.
    renamed : mapping of str to str
        Former keyword -> current keyword.

    Returns
    -------
    callable
        A decorator; the decorated function keeps its signature, name and docstring.
    """
    renames = dict(renamed or {})

    def decorate(func: F) -> F:
        params = inspect.signature(func).parameters.values()
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        n_positional = sum(1 for p in params if p.kind in kinds)
        name = func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if positional and len(args) > n_positional:
                extra = args[n_positional:]
                if len(extra) > len(positional):
                    raise TypeError(f"{name}() takes at most {n_positional + len(positional)} "
                                    f"positional arguments ({len(args)} given)")
                moved = positional[: len(extra)]
                for key, value in zip(moved, extra):
                    if key in kwargs:
                        raise TypeError(f"{name}() got multiple values for argument {key!r}")
                    kwargs[key] = value
                args = args[:n_positional]
                warnings.warn(
                    f"{name}(): passing {', '.join(moved)} by position is deprecated; write "
                    f"{', '.join(f'{key}=...' for key in moved)}",
                    DeprecationWarning, stacklevel=2,
                )
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{name}() got both {old}= (deprecated) and {new}=")
                    kwargs[new] = kwargs.pop(old)
                    warnings.warn(f"{name}(): {old}= is deprecated; write {new}=",
                                  DeprecationWarning, stacklevel=2)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
