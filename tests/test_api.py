"""The public API: every name in __all__ resolves, is documented, and every CLI command has help."""

import inspect

import click
import pytest

import activation_kb
from activation_kb.cli import cli


@pytest.mark.parametrize("name", activation_kb.__all__)
def test_public_name_resolves_and_is_documented(name):
    value = getattr(activation_kb, name)
    if inspect.isfunction(value) or inspect.isclass(value):
        assert inspect.getdoc(value), f"{name} has no docstring"


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
