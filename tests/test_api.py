"""The public API: every name in __all__ resolves and is documented in numpydoc form (its
Parameters match its signature, it says what it Returns), and every CLI command has help."""

import importlib
import inspect
import subprocess
import sys

import click
import numpydoc.validate
import pytest

import activation_kb
from activation_kb.cli import cli

#: Stage modules whose ``__all__`` functions are public besides the top-level names.
MODULES = ("activation_kb.params", "activation_kb.deprecation", "activation_kb.schema",
           "activation_kb.analysis.subset", "activation_kb.analysis.summary",
           "activation_kb.analysis.dask_memory",
           "activation_kb.report.runner", "activation_kb.telemetry", "activation_kb.views.display",
           "activation_kb.views.figures")
#: numpydoc's checks that make a docstring wrong rather than terse: no docstring, a parameter
#: of the signature not documented, a documented parameter the signature lacks, a value
#: returned without a Returns section.
CHECKS = {"GL08", "PR01", "PR02", "RT01"}
#: Functions documented as taking the parameters of another: their signatures must agree.
SAME_PARAMETERS = {"expected_counts": "detect_spikes"}


def _documented() -> dict[str, object]:
    """Every public function and public method of a public class, by qualified name."""
    found: dict[str, object] = {}

    def add(value: object, name: str) -> None:
        if inspect.isfunction(value):
            func = inspect.unwrap(value)
            found[f"{func.__module__}.{func.__qualname__}"] = value
        elif inspect.isclass(value) and value.__module__.startswith("activation_kb"):
            for attr, member in vars(value).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    add(member, attr)

    for name in activation_kb.__all__:
        add(getattr(activation_kb, name), name)
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            add(getattr(module, name), name)
    return found


PUBLIC = _documented()


@pytest.mark.parametrize("name", activation_kb.__all__)
def test_public_name_resolves_and_is_documented(name):
    value = getattr(activation_kb, name)
    if inspect.isfunction(value) or inspect.isclass(value):
        assert inspect.getdoc(value), f"{name} has no docstring"


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_docstring_sections_match_the_signature(qualname):
    func = PUBLIC[qualname]
    if func.__name__ in SAME_PARAMETERS:
        other = getattr(activation_kb, SAME_PARAMETERS[func.__name__])
        assert inspect.signature(func).parameters.keys() == inspect.signature(
            other).parameters.keys()
        assert f"Parameters are those of :func:`{other.__name__}`" in func.__doc__
        return
    errors = [f"{code}: {message}" for code, message
              in numpydoc.validate.validate(qualname)["errors"] if code in CHECKS]
    assert not errors, f"{qualname}: {errors}"


def _badly_documented(value: int, extra: int = 0) -> int:
    """Return half of value.

    Parameters
    ----------
    value : int
        A number.
    unused : int
        Not a parameter.
    """
    return value // 2


def test_the_docstring_check_finds_what_is_missing():
    codes = {code for code, _ in numpydoc.validate.validate(
        f"{__name__}._badly_documented")["errors"]}
    assert {"PR01", "PR02", "RT01"} <= codes


def test_import_loads_only_the_errors():
    code = ("import sys, activation_kb; print(sorted(m for m in sys.modules "
            "if m.startswith('activation_kb')), 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "['activation_kb', 'activation_kb.errors'] False"


def test_dir_lists_public_names():
    assert set(activation_kb.__all__) <= set(dir(activation_kb))


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        activation_kb.no_such_name  # noqa: B018


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")


def test_every_command_has_help():
    commands = dict(_commands(cli))
    assert commands, "the CLI registers no command"
    for name, command in commands.items():
        assert command.help and command.help.strip(), f"`activation-kb {name}` has no help text"


def test_unexpected_errors_exit_1_without_traceback(monkeypatch):
    from click.testing import CliRunner

    from activation_kb.cli._common import AppGroup

    @click.group(cls=AppGroup)
    def group() -> None:
        """A group."""

    @group.command()
    def boom() -> None:
        """Fail like a bug would."""
        raise RuntimeError("disk on fire")

    res = CliRunner().invoke(group, ["boom"])
    assert res.exit_code == 1
    assert "unexpected RuntimeError: disk on fire" in res.output and "Traceback" not in res.output
    monkeypatch.setenv("ACTIVATION_KB_DEBUG", "1")
    res = CliRunner().invoke(group, ["boom"])
    assert isinstance(res.exception, RuntimeError)  # the traceback is there when asked for
