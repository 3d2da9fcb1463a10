"""Report parameters inside the notebook: text values from schedulers, then checked and typed.

papermill injects parameters as Python literals (``lang = "fr"``), but jupyter-scheduler writes
each value as it was typed in its form (``lang = fr``, ``since = 7D``), which is a ``NameError``
or a ``SyntaxError`` before any cell of ours could look at it. The report notebook therefore
calls :func:`accept_text_parameters` in a cell *before* its ``parameters`` cell: an IPython
input transformer then reads a cell made only of assignments to report parameters (the injected
one) and quotes every value that is not a Python literal. The cell after the parameters calls
:func:`report_parameters`, which types text (``"0.5"`` -> 0.5, ``"10"`` -> 10, ``""`` -> None),
checks everything with :class:`~activation_kb.params.ReportParams` (the checks of
``activation-kb report run``) and removes the transformer.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ReportParameterError
from ..params import ReportParams

__all__ = ["PARAMETERS", "accept_text_parameters", "quote_text_values", "report_parameters",
           "text_value"]

#: The report notebook's parameters (the :class:`~activation_kb.params.ReportParams` fields, plus
#: ``output_dir``).
PARAMETERS = tuple(f.name for f in dataclasses.fields(ReportParams)) + ("output_dir",)
_ASSIGN = re.compile(r"^(?P<indent>\s*)(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)\s*$")
_MARK = "_activation_kb_text_parameters"


def _is_literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def text_value(text: str | None) -> Any:
    """Return what a parameter typed as text means: a Python literal, else the text itself.

    Examples
    --------
    >>> text_value('"Weekly"'), text_value("Weekly report"), text_value("0.5")
    ('Weekly', 'Weekly report', 0.5)
    """
    if text is None:
        return None
    return ast.literal_eval(text) if _is_literal(text) else text.strip()


def quote_text_values(lines: list[str], names: tuple[str, ...] = PARAMETERS) -> list[str]:
    r"""Quote non-literal values in a cell made only of assignments to ``names``.

    Parameters
    ----------
    lines : list of str
        The cell's lines (IPython's cleanup-transformer interface).
    names : tuple of str
        Parameter names; a cell assigning anything else is returned unchanged.

    Returns
    -------
    list of str
        ``lang = fr`` becomes ``lang = 'fr'``; literals (``0.5``, ``"fr"``, ``None``,
        ``["a", "b"]``) and comments are kept.

    Examples
    --------
    >>> quote_text_values(["lang = fr\n", "since = 7D\n", "sensitivity = 0.5\n"])
    ["lang = 'fr'\n", "since = '7D'\n", 'sensitivity = 0.5\n']
    """
    parsed = []
    for line in lines:
        body = line.rstrip("\r\n")
        if not body.strip() or body.lstrip().startswith("#"):
            parsed.append(None)
            continue
        match = _ASSIGN.match(body)
        if not match or match["name"] not in names:
            return lines
        parsed.append(match)
    if not any(parsed):
        return lines
    out = []
    for line, match in zip(lines, parsed):
        if match is None or _is_literal(match["value"]):
            out.append(line)
        else:
            end = line[len(line.rstrip("\r\n")):]
            out.append(f"{match['indent']}{match['name']} = {match['value']!r}{end}")
    return out


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel depends on IPython
        return None
    return get_ipython()


def accept_text_parameters(names: tuple[str, ...] = PARAMETERS) -> bool:
    """Let the next cells assign report parameters as bare text (``lang = fr``).

    Call it in a cell before the ``parameters`` cell. Harmless outside IPython and when called
    twice.

    Returns
    -------
    bool
        True when the transformer is (already) installed.
    """
    shell = _shell()
    if shell is None:
        return False
    transformers = shell.input_transformers_cleanup
    if not any(getattr(t, _MARK, False) for t in transformers):
        def transform(lines: list[str]) -> list[str]:
            return quote_text_values(lines, names)

        setattr(transform, _MARK, True)
        transformers.append(transform)
    return True


def _remove_transformer() -> None:
    shell = _shell()
    if shell is not None:
        shell.input_transformers_cleanup[:] = [
            t for t in shell.input_transformers_cleanup if not getattr(t, _MARK, False)]


def _number(name: str, value: Any, kind: type) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return kind(value.strip())
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ReportParameterError(f"{name}={value!r}; expected {what}") from None


def report_parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Check and type the report parameters found in ``namespace`` (a notebook's globals).

    Text values become what the report expects: ``"0.5"`` a float, ``"10"`` an int,
    ``"true"``/``"false"`` a flag (``strict``), ``""`` or ``"None"`` nothing; then every value
    is checked as ``activation-kb report run`` checks it.

    Parameters
    ----------
    namespace : mapping
        Holds the parameters (``globals()`` in the notebook).

    Returns
    -------
    dict
        Every :class:`~activation_kb.params.ReportParams` field (``events`` as a list of paths)
        and ``output_dir``, to put back with ``globals().update(...)``.

    Raises
    ------
    ReportParameterError
        Naming the parameter, its value and what is expected.
    """
    from .runner import default_events, report_params

    _remove_transformer()
    values = {name: namespace[name] for name in PARAMETERS if name in namespace}
    for name, value in values.items():
        if isinstance(value, str) and value.strip() in ("", "None") and name != "output_dir":
            values[name] = None
    output_dir = values.pop("output_dir", None) or "."
    for name, kind in (("sensitivity", float), ("top_n", int), ("workers", int)):
        if values.get(name) is None:
            values.pop(name, None)  # the default
        else:
            values[name] = _number(name, values[name], kind)
    for name in ("freq", "lang", "history", "engine", "strict"):  # defaults that are not None
        if values.get(name) is None:
            values.pop(name, None)
    checked = report_params(values.pop("events", None), **values)
    out = checked.notebook_parameters(default_events=[str(default_events())])
    out["output_dir"] = output_dir
    return out
